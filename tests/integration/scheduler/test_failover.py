"""Three scheduler replicas on one Lease: one schedules, a standby takes over a killed leader within the
lease duration, and no pod is ever bound twice."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.leaderelection import replica_of
from shared.procs import ServiceProcess
from tests.builders import make_node, make_pod

from .conftest import LEASE_DURATION, LEASES, PODS, RETRY_PERIOD, World, eventually, scheduler_process

pytestmark = pytest.mark.integration
REPLICAS = ("cp-1", "cp-2", "cp-3")


@pytest.fixture(scope="module")
def schedulers(control_plane: LocalControlPlane) -> Iterator[dict[str, ServiceProcess]]:
    started: dict[str, ServiceProcess] = {}
    try:
        for name in REPLICAS:
            started[name] = scheduler_process(control_plane, name).start()
        yield started
    finally:
        for process in started.values():
            process.terminate()


async def holder(admin: ApiClient) -> dict[str, Any]:
    lease = await admin.get(LEASES, "kube-scheduler", "kube-system")
    return dict(lease["spec"])


async def watch_bindings(admin: ApiClient, namespace: str, seen: dict[str, list[str]]) -> None:
    """Record every nodeName each pod shows, in order, from a watch of the namespace's pods."""
    watch = await admin.watch(PODS, namespace)
    try:
        async for event in watch:
            obj = event.get("object") or {}
            name, node = obj.get("metadata", {}).get("name"), (obj.get("spec") or {}).get("nodeName") or ""
            if name and node and (not seen[name] or seen[name][-1] != node):
                seen[name].append(node)
    finally:
        await watch.stop()


async def test_standby_takes_over_a_killed_leader_and_no_pod_is_bound_twice(
    control_plane: LocalControlPlane, schedulers: dict[str, ServiceProcess], world: World, admin: ApiClient
) -> None:
    s = world.namespace
    for i in range(4):
        await world.node(make_node().name(f"w{i}-{s}").capacity(cpu=32, memory="64Gi", pods=110))
    leader = replica_of((await eventually(lambda: holder(admin), what="a leader"))["holderIdentity"])
    assert leader in REPLICAS
    seen: dict[str, list[str]] = defaultdict(list)
    watcher = asyncio.create_task(watch_bindings(admin, s, seen))
    try:
        for i in range(20):
            await world.pod(make_pod().name(f"before-{i}").requests(cpu="100m", memory="64Mi"))
        await eventually(lambda: world.all_bound(20), what="pods bound by the first leader")
        before = await holder(admin)

        # Pods created around the kill: some may be mid-binding when the leader dies.
        creating = asyncio.create_task(_create_pods(world, "during", 20))
        await asyncio.sleep(0.2)
        schedulers[leader].kill()
        killed_at = time.monotonic()

        async def new_leader() -> dict[str, Any] | None:
            spec = await holder(admin)
            return spec if replica_of(spec.get("holderIdentity") or "") not in (leader, "") else None

        after = await eventually(new_leader, timeout=LEASE_DURATION * 4, what="a new leader")
        took = time.monotonic() - killed_at
        await creating
        await _create_pods(world, "after", 10)
        placed = await eventually(lambda: world.all_bound(50), timeout=30, what="every pod bound")
    finally:
        await asyncio.sleep(0.5)  # let the watch deliver the last bindings
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    # The standby counts the lease duration from when it first saw the last renewal (at most one jittered
    # retry period after it) and notices the expiry at its next try; one second more for a busy machine.
    assert took <= LEASE_DURATION + 2 * 1.2 * RETRY_PERIOD + 1.0, took
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1
    # Every pod got exactly one node, and kept it.
    assert set(seen) == set(placed)
    assert all(len(nodes) == 1 for nodes in seen.values()), {k: v for k, v in seen.items() if len(v) != 1}
    assert {name: nodes[0] for name, nodes in seen.items()} == placed
    for name in placed:
        scheduled = await world.events_for(name, "Scheduled")
        assert sum(e.get("count", 1) for e in scheduled) <= 1, (name, scheduled)


async def test_binding_an_already_bound_pod_is_refused(
    control_plane: LocalControlPlane, world: World
) -> None:
    s = world.namespace
    await world.node(make_node().name(f"solo-{s}").capacity(cpu=4, memory="8Gi", pods=110))
    await world.pod(make_pod().name("bound"))
    await eventually(lambda: world.all_bound(1), what="the pod bound")
    nc = await bus.connect(control_plane.url, name="second-binder")
    try:
        as_scheduler = ApiClient(nc, control_plane.tokens["scheduler"])
        with pytest.raises(ApiError) as refused:
            await as_scheduler.bind("bound", f"solo-{s}", s)
    finally:
        await nc.close()
    assert refused.value.code == 409
    assert "already assigned to node" in refused.value.message


async def test_clean_stop_hands_the_lease_over_at_once(
    schedulers: dict[str, ServiceProcess], world: World, admin: ApiClient
) -> None:
    leader = replica_of((await eventually(lambda: holder(admin), what="a leader"))["holderIdentity"])
    assert schedulers[leader].terminate() == 0
    stopped_at = time.monotonic()

    async def taken_over() -> str | None:
        name = replica_of((await holder(admin)).get("holderIdentity") or "")
        return name if name and name != leader else None

    await eventually(taken_over, timeout=LEASE_DURATION * 3, what="a new leader after release")
    # Released, not expired: the next retry takes it, well before the lease duration.
    assert time.monotonic() - stopped_at < LEASE_DURATION, "the lease was not released on SIGTERM"


async def _create_pods(world: World, prefix: str, count: int) -> None:
    for i in range(count):
        await world.pod(make_pod().name(f"{prefix}-{i}").requests(cpu="100m", memory="64Mi"))
        await asyncio.sleep(0.02)
