"""Filter plugins, one table each: which nodes a pod fits, and the reason given when it does not."""

from __future__ import annotations

import pytest

from services.scheduler.framework import Code, CycleState, Status
from services.scheduler.plugins.nodeaffinity import NodeAffinity
from services.scheduler.plugins.nodename import NodeName
from services.scheduler.plugins.noderesources import NodeResourcesFit
from services.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from services.scheduler.plugins.tainttoleration import TaintToleration
from shared.models import Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm
from shared.models import NodeAffinity as NodeAffinitySpec
from tests.builders import NodeBuilder, PodBuilder, make_pod

from .helpers import node, node_info, pod_info

OK = Status()


def run_filter(plugin: object, pod: PodBuilder, node_builder: NodeBuilder, *existing: PodBuilder) -> Status:
    state = CycleState()
    info, target = pod_info(pod), node_info(node_builder, *existing)
    pre = getattr(plugin, "pre_filter", None)
    if pre is not None and pre(state, info, [target]).code is Code.SKIP:
        return OK
    status: Status = plugin.filter(state, info, target)  # type: ignore[attr-defined]
    return status


def small(name: str, cpu: str = "1", memory: str = "1Gi") -> PodBuilder:
    return make_pod().name(name).requests(cpu=cpu, memory=memory)


@pytest.mark.parametrize(
    ("pod", "node_builder", "existing", "code", "reasons"),
    [
        (small("fits"), node("n", cpu=2), [], Code.SUCCESS, ()),
        (small("exact", cpu="2"), node("n", cpu=2), [], Code.SUCCESS, ()),
        (small("cpu", cpu="3"), node("n", cpu=2), [], Code.UNSCHEDULABLE, ("Insufficient cpu",)),
        (small("mem", memory="9Gi"), node("n"), [], Code.UNSCHEDULABLE, ("Insufficient memory",)),
        (
            small("both", cpu="5", memory="9Gi"),
            node("n"),
            [],
            Code.UNSCHEDULABLE,
            ("Insufficient cpu", "Insufficient memory"),
        ),
        (
            small("used", cpu="2"),
            node("n", cpu=3),
            [small("other", cpu="2")],
            Code.UNSCHEDULABLE,
            ("Insufficient cpu",),
        ),
        (small("pods"), node("n", pods=1), [small("other", cpu="0")], Code.UNSCHEDULABLE, ("Too many pods",)),
        (make_pod().name("none"), node("n", cpu=1), [small("big", cpu="1")], Code.SUCCESS, ()),
        (
            make_pod().name("gpu").requests({"nvidia.com/gpu": 1}),
            node("n"),
            [],
            Code.UNSCHEDULABLE,
            ("Insufficient nvidia.com/gpu",),
        ),
    ],
)
def test_node_resources_fit_compares_requests_with_what_is_left(
    pod: PodBuilder,
    node_builder: NodeBuilder,
    existing: list[PodBuilder],
    code: Code,
    reasons: tuple[str, ...],
) -> None:
    status = run_filter(NodeResourcesFit(), pod, node_builder, *existing)
    assert (status.code, status.reasons) == (code, reasons)


@pytest.mark.parametrize(("node_name", "fits"), [("", True), ("n", True), ("elsewhere", False)])
def test_node_name_fits_only_the_named_node(node_name: str, fits: bool) -> None:
    pod = make_pod().name("p")
    if node_name:
        pod.node(node_name)
    status = run_filter(NodeName(), pod, node("n"))
    expected = (
        OK
        if fits
        else Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) didn't match the requested node name",))
    )
    assert (status.code, status.reasons) == (expected.code, expected.reasons)


@pytest.mark.parametrize(
    ("cordoned", "toleration", "fits"),
    [
        (False, None, True),
        (True, None, False),
        (True, ("node.kubernetes.io/unschedulable", "NoSchedule", "Exists"), True),
        (True, ("", "", "Exists"), True),
        (True, ("other", "NoSchedule", "Exists"), False),
    ],
)
def test_node_unschedulable_keeps_pods_off_cordoned_nodes(
    cordoned: bool, toleration: tuple[str, str, str] | None, fits: bool
) -> None:
    pod = make_pod().name("p")
    if toleration:
        pod.toleration(toleration[0], effect=toleration[1], operator=toleration[2])
    status = run_filter(NodeUnschedulable(), pod, node("n").unschedulable(cordoned))
    assert status.ok is fits
    if not fits:
        assert status == Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) were unschedulable",))


CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


@pytest.mark.parametrize(
    ("taint", "toleration", "reason"),
    [
        (None, None, None),
        ((CONTROL_PLANE, "", "NoSchedule"), None, f"node(s) had untolerated taint {{{CONTROL_PLANE}: }}"),
        (("dedicated", "gpu", "NoExecute"), None, "node(s) had untolerated taint {dedicated: gpu}"),
        (("dedicated", "gpu", "PreferNoSchedule"), None, None),
        ((CONTROL_PLANE, "", "NoSchedule"), (CONTROL_PLANE, "", "NoSchedule", "Exists"), None),
        (("dedicated", "gpu", "NoSchedule"), ("dedicated", "gpu", "", "Equal"), None),
        (
            ("dedicated", "gpu", "NoSchedule"),
            ("dedicated", "cpu", "", "Equal"),
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
        (
            ("dedicated", "gpu", "NoSchedule"),
            ("dedicated", "", "NoExecute", "Exists"),
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
    ],
)
def test_taint_toleration_filters_no_schedule_and_no_execute(
    taint: tuple[str, str, str] | None, toleration: tuple[str, str, str, str] | None, reason: str | None
) -> None:
    target = node("n")
    if taint:
        target.taint(taint[0], effect=taint[2], value=taint[1])
    pod = make_pod().name("p")
    if toleration:
        pod.toleration(toleration[0], value=toleration[1], effect=toleration[2], operator=toleration[3])
    status = run_filter(TaintToleration(), pod, target)
    if reason is None:
        assert status.ok
    else:
        assert status == Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,))


def required(*requirements: tuple[str, str, list[str]]) -> Affinity:
    term = NodeSelectorTerm(
        match_expressions=[NodeSelectorRequirement(key=k, operator=op, values=v) for k, op, v in requirements]
    )
    selector = NodeSelector(node_selector_terms=[term])
    return Affinity(
        node_affinity=NodeAffinitySpec(required_during_scheduling_ignored_during_execution=selector)
    )


@pytest.mark.parametrize(
    ("selector", "affinity", "labels", "fits"),
    [
        ({}, None, {}, True),
        ({"disk": "ssd"}, None, {"disk": "ssd"}, True),
        ({"disk": "ssd"}, None, {"disk": "hdd"}, False),
        ({"disk": "ssd"}, None, {}, False),
        ({}, required(("zone", "In", ["a", "b"])), {"zone": "b"}, True),
        ({}, required(("zone", "In", ["a", "b"])), {"zone": "c"}, False),
        ({}, required(("zone", "NotIn", ["a"])), {}, True),
        ({}, required(("gpu", "Exists", [])), {"gpu": "1"}, True),
        ({}, required(("cores", "Gt", ["8"])), {"cores": "4"}, False),
        ({"disk": "ssd"}, required(("zone", "In", ["a"])), {"disk": "ssd", "zone": "b"}, False),
    ],
)
def test_node_affinity_applies_node_selector_and_required_affinity(
    selector: dict[str, str], affinity: Affinity | None, labels: dict[str, str], fits: bool
) -> None:
    pod = make_pod().name("p").node_selector(**selector)
    pod.obj().spec.affinity = affinity
    target = node("n")
    for key, value in labels.items():
        target.label(key, value)
    status = run_filter(NodeAffinity(), pod, target)
    assert status.ok is fits
    if not fits:
        assert status == Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) didn't match Pod's node affinity/selector",)
        )
