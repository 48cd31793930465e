"""One scheduler replica on a real control plane: where pods land, and what a pod that fits nowhere says."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient
from shared.models import LabelSelector, TopologySpreadConstraint
from shared.procs import ServiceProcess
from tests.builders import PodBuilder, make_node, make_pod

from .conftest import NODES, PODS, World, eventually, pod_scheduled, scheduler_process

pytestmark = pytest.mark.integration
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


@pytest.fixture(scope="module", autouse=True)
def scheduler(control_plane: LocalControlPlane) -> Iterator[ServiceProcess]:
    process = scheduler_process(control_plane, "cp-1", "--seed", "7").start()
    yield process
    assert process.terminate() == 0, process.output()[-3000:]
    assert "released leader lease" in process.output()


def node(name: str, cpu: int, memory: str, pods: int = 110):  # type: ignore[no-untyped-def]
    return (
        make_node()
        .name(name)
        .label("kubernetes.io/hostname", name)
        .capacity(cpu=cpu, memory=memory, pods=pods)
    )


def pod(name: str, cpu: str = "1", memory: str = "2Gi") -> PodBuilder:
    return make_pod().name(name).label("app", "web").requests(cpu=cpu, memory=memory)


async def test_pods_spread_by_least_allocated_across_unequal_nodes(world: World) -> None:
    suffix = world.namespace
    sizes = {f"big-{suffix}": (16, "32Gi"), f"mid-{suffix}": (8, "16Gi"), f"small-{suffix}": (4, "8Gi")}
    for name, (cpu, memory) in sizes.items():
        await world.node(node(name, cpu, memory))
    for i in range(14):
        await world.pod(pod(f"web-{i}"))
    placed = await eventually(lambda: world.all_bound(14), what="14 pods bound")
    counts = Counter(placed.values())
    # Least-allocated fills nodes in proportion to their size: 16:8:4 → 8, 4, 2 (±1 for ties).
    big, mid, small = (counts[name] for name in sizes)
    assert big > mid > small >= 1, counts
    assert abs(big - 8) <= 1 and abs(mid - 4) <= 1 and abs(small - 2) <= 1, counts


async def test_pod_larger_than_any_node_waits_then_lands_on_a_node_big_enough(world: World) -> None:
    s = world.namespace
    await world.node(node(f"a-{s}", 2, "4Gi"))
    await world.node(node(f"b-{s}", 2, "4Gi"))
    await world.node(node(f"cp-{s}", 32, "64Gi").taint(CONTROL_PLANE_TAINT))
    await world.pod(pod("huge", cpu="8", memory="4Gi"))
    expected = (
        f"0/3 nodes are available: 1 node(s) had untolerated taint {{{CONTROL_PLANE_TAINT}: }}, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    )
    events = await eventually(lambda: world.events_for("huge", "FailedScheduling"), what="FailedScheduling")
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == expected
    assert events[0]["involvedObject"]["kind"] == "Pod"
    assert events[0]["source"]["component"] == "default-scheduler"

    async def unschedulable() -> dict[str, str] | None:
        current = await world.admin.get(PODS, "huge", world.namespace)
        condition = pod_scheduled(current)
        return condition if condition and condition.get("reason") == "Unschedulable" else None

    condition = await eventually(unschedulable, what="PodScheduled=False")
    assert (condition["status"], condition["message"]) == ("False", expected)

    # Nothing that could help has happened: the pod is not retried in a loop meanwhile.
    await asyncio.sleep(3)
    assert (await world.admin.get(PODS, "huge", world.namespace))["spec"].get("nodeName") is None
    failures = await world.events_for("huge", "FailedScheduling")
    assert sum(e.get("count", 1) for e in failures) <= 2, failures

    await world.node(node(f"big-{s}", 16, "32Gi"))
    placed = await eventually(lambda: world.all_bound(1), timeout=15, what="the huge pod bound")
    assert placed == {"huge": f"big-{s}"}
    # The event is written after the binding, by a recorder that never holds up scheduling.
    scheduled = await eventually(lambda: world.events_for("huge", "Scheduled"), what="the Scheduled event")
    assert [e["message"] for e in scheduled] == [f"Successfully assigned {world.namespace}/huge to big-{s}"]


async def test_cordoned_node_gets_no_new_pods(world: World, admin: ApiClient) -> None:
    s = world.namespace
    await world.node(node(f"open-{s}", 4, "8Gi"))
    cordoned = await world.node(node(f"cordoned-{s}", 64, "128Gi"))
    cordoned.setdefault("spec", {})["unschedulable"] = True
    await admin.update(cordoned)
    await asyncio.sleep(0.5)  # let the scheduler's node informer see the cordon
    for i in range(3):
        await world.pod(pod(f"p-{i}", cpu="500m", memory="1Gi"))
    placed = await eventually(lambda: world.all_bound(3), what="3 pods bound")
    assert set(placed.values()) == {f"open-{s}"}


async def test_taints_keep_out_pods_without_a_matching_toleration(world: World) -> None:
    s = world.namespace
    await world.node(node(f"plain-{s}", 4, "8Gi"))
    await world.node(node(f"gpu-{s}", 16, "32Gi").taint("dedicated", value="gpu"))
    for i in range(3):
        await world.pod(pod(f"p-{i}", cpu="1", memory="1Gi"))
    placed = await eventually(lambda: world.all_bound(3), what="untolerating pods bound")
    assert set(placed.values()) == {f"plain-{s}"}
    # The plain node has 1 cpu left: only a pod tolerating the taint can run a 2-cpu request.
    await world.pod(
        pod("tolerant", cpu="2", memory="1Gi").toleration("dedicated", value="gpu", effect="NoSchedule")
    )
    await world.pod(pod("intolerant", cpu="2", memory="1Gi"))
    placed = await eventually(lambda: _bound(world, "tolerant"), what="the tolerating pod bound")
    assert placed == f"gpu-{s}"
    failures = await eventually(lambda: world.events_for("intolerant", "FailedScheduling"), what="failure")
    # Reasons are sorted as strings, counts included, as Kubernetes sorts them.
    assert (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}."
        in (failures[0]["message"])
    )


async def test_node_selector_picks_labelled_nodes_only(world: World) -> None:
    s = world.namespace
    await world.node(node(f"ssd-{s}", 2, "4Gi").label("disk", "ssd"))
    await world.node(node(f"hdd-{s}", 32, "64Gi").label("disk", "hdd"))
    for i in range(2):
        await world.pod(pod(f"db-{i}", cpu="500m", memory="1Gi").node_selector(disk="ssd"))
    await world.pod(pod("nvme", cpu="500m", memory="1Gi").node_selector(disk="nvme"))
    placed = await eventually(lambda: _bound(world, "db-0", "db-1"), what="selected pods bound")
    assert placed == f"ssd-{s}"
    failures = await eventually(lambda: world.events_for("nvme", "FailedScheduling"), what="failure")
    assert failures[0]["message"].startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )


async def test_topology_spread_places_pods_evenly_over_hosts_of_unequal_size(world: World) -> None:
    s = world.namespace
    names = [f"h1-{s}", f"h2-{s}", f"h3-{s}"]
    for name, cpu in zip(names, (32, 4, 4), strict=True):
        await world.node(node(name, cpu, f"{cpu * 2}Gi"))
    constraint = TopologySpreadConstraint(
        max_skew=1,
        topology_key="kubernetes.io/hostname",
        when_unsatisfiable="DoNotSchedule",
        label_selector=LabelSelector(match_labels={"app": "spread"}),
    )
    for i in range(6):
        builder = make_pod().name(f"sp-{i}").label("app", "spread").requests(cpu="500m", memory="512Mi")
        builder.obj().spec.topology_spread_constraints.append(constraint)
        await world.pod(builder)
    placed = await eventually(lambda: world.all_bound(6), what="spread pods bound")
    assert Counter(placed.values()) == {name: 2 for name in names}


async def test_node_list_is_unaffected_by_other_tests(admin: ApiClient, world: World) -> None:
    # Teardown of earlier tests removed their nodes: the scheduler starts each test from a clean cluster.
    assert (await admin.list(NODES)).get("items") == []


async def _bound(world: World, *names: str) -> str | None:
    placed = await world.placement()
    nodes = {placed.get(name) for name in names}
    return nodes.pop() if len(nodes) == 1 and all(placed.get(n) for n in names) else None
