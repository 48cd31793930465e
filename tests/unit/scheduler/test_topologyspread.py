"""PodTopologySpread: DoNotSchedule filters by skew over the domains, ScheduleAnyway scores by it."""

from __future__ import annotations

import pytest

from services.scheduler.framework import Code, CycleState, NodeScore
from services.scheduler.plugins.topologyspread import MISSING_LABEL, REASON, PodTopologySpread
from shared.models import LabelSelector, TopologySpreadConstraint
from tests.builders import PodBuilder, make_pod

from .helpers import node, node_info, pod_info

HOST = "kubernetes.io/hostname"


def web(name: str) -> PodBuilder:
    return make_pod().name(name).label("app", "web")


def spread(pod: PodBuilder, when: str = "DoNotSchedule", max_skew: int = 1, key: str = HOST) -> PodBuilder:
    constraint = TopologySpreadConstraint(
        max_skew=max_skew,
        topology_key=key,
        when_unsatisfiable=when,
        label_selector=LabelSelector(match_labels={"app": "web"}),
    )
    pod.obj().spec.topology_spread_constraints.append(constraint)
    return pod


@pytest.mark.parametrize(
    ("counts", "max_skew", "fits"),
    [
        ({"a": 0, "b": 0, "c": 0}, 1, {"a", "b", "c"}),
        ({"a": 2, "b": 1, "c": 1}, 1, {"b", "c"}),
        ({"a": 1, "b": 1, "c": 0}, 1, {"c"}),
        ({"a": 2, "b": 1, "c": 1}, 2, {"a", "b", "c"}),
        ({"a": 3, "b": 0}, 2, {"b"}),
    ],
)
def test_do_not_schedule_keeps_skew_within_max_skew(
    counts: dict[str, int], max_skew: int, fits: set[str]
) -> None:
    nodes = [
        node_info(node(name), *(web(f"{name}-{i}") for i in range(count))) for name, count in counts.items()
    ]
    pod, plugin, state = pod_info(spread(web("new"), max_skew=max_skew)), PodTopologySpread(), CycleState()
    assert plugin.pre_filter(state, pod, nodes).ok
    results = {n.name: plugin.filter(state, pod, n) for n in nodes}
    assert {name for name, status in results.items() if status.ok} == fits
    assert all(s.code is Code.UNSCHEDULABLE and s.reasons == (REASON,) for s in results.values() if not s.ok)


def test_pods_of_other_apps_and_namespaces_do_not_count() -> None:
    other_app = make_pod().name("db").label("app", "db")
    other_ns = web("elsewhere").namespace("other")
    nodes = [node_info(node("a"), other_app, other_ns), node_info(node("b"))]
    pod, plugin, state = pod_info(spread(web("new"))), PodTopologySpread(), CycleState()
    plugin.pre_filter(state, pod, nodes)
    assert all(plugin.filter(state, pod, n).ok for n in nodes)


def test_node_without_the_topology_key_is_rejected_for_good() -> None:
    bare = node_info(node("bare"))
    nodes = [bare, node_info(node("zoned").label("zone", "z1"))]
    pod, plugin, state = pod_info(spread(web("new"), key="zone")), PodTopologySpread(), CycleState()
    plugin.pre_filter(state, pod, nodes)
    status = plugin.filter(state, pod, bare)
    assert (status.code, status.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (MISSING_LABEL,))


def test_pod_without_constraints_skips_the_plugin() -> None:
    assert PodTopologySpread().pre_filter(CycleState(), pod_info(web("p")), []).code is Code.SKIP


def test_schedule_anyway_scores_emptier_domains_higher() -> None:
    nodes = [
        node_info(node("a"), web("a-0"), web("a-1")),
        node_info(node("b"), web("b-0")),
        node_info(node("c")),
    ]
    pod, plugin, state = (
        pod_info(spread(web("new"), when="ScheduleAnyway")),
        PodTopologySpread(),
        CycleState(),
    )
    assert plugin.pre_filter(state, pod, nodes).code is Code.SKIP
    assert plugin.pre_score(state, pod, nodes).ok
    raw = [NodeScore(n.name, plugin.score(state, pod, n)) for n in nodes]
    normalized = {s.name: s.score for s in plugin.normalize_score(state, pod, raw)}
    assert normalized["c"] == 100
    assert normalized["a"] < normalized["b"] < normalized["c"]
