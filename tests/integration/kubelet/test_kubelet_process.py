"""The kubelet and the runtime as real processes: the runtime dying makes the node NotReady and its return
heals it; stats and fault injection travel over the bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from services.kubelet.stats import NodeStats
from shared import bus, subjects
from shared.apiclient import ApiClient
from shared.procs import ServiceProcess
from tests.integration.kubelet.conftest import (
    LEASES,
    NODES,
    PODS,
    eventually,
    is_ready,
    make_pod,
    token_file,
    within,
)

NODE = "worker-1"
Object = dict[str, Any]


@pytest.fixture(scope="module")
def runtime(control_plane: LocalControlPlane) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "runtime-worker-1",
        "services.runtime",
        ["--nats", control_plane.url, "--node", NODE],
        control_plane.etcd.root / "logs",
        ready_line="runtime ready",
    )
    process.start()
    try:
        yield process
    finally:
        process.terminate()


@pytest.fixture(scope="module")
def kubelet(control_plane: LocalControlPlane, runtime: ServiceProcess) -> Iterator[ServiceProcess]:
    args = ["--nats", control_plane.url, "--node", NODE, "--token-file", token_file(control_plane)]
    args += ["--cpu", "2", "--memory", "4Gi", "--reserved-cpu", "100m", "--labels", "zone=a"]
    args += ["--lease-seconds", "1", "--status-interval", "1", "--runtime-timeout", "1"]
    process = ServiceProcess(
        "kubelet-worker-1",
        "services.kubelet",
        args,
        control_plane.etcd.root / "logs",
        ready_line="kubelet ready",
    )
    process.start()
    try:
        yield process
    finally:
        process.terminate()


@pytest.fixture
async def running_pod(admin: ApiClient, namespace: str, kubelet: ServiceProcess) -> AsyncIterator[str]:
    await admin.create(make_pod("web", namespace))
    await admin.bind("web", NODE, namespace)
    await _wait_running(admin, namespace, "web")
    yield "web"


async def _wait_running(admin: ApiClient, namespace: str, name: str, restarts: int = 0) -> Object:
    async def check() -> Object | None:
        pod = await admin.get(PODS, name, namespace)
        statuses = pod["status"].get("containerStatuses") or [{}]
        ok = pod["status"].get("phase") == "Running" and statuses[0].get("ready")
        return pod if ok and statuses[0].get("restartCount", 0) >= restarts else None

    result: Object = await eventually(check, timeout=30, what=f"{name} running with {restarts} restarts")
    return result


async def _node_ready(admin: ApiClient) -> bool:
    return is_ready(await admin.get(NODES, NODE))


async def test_node_registers_with_capacity_allocatable_and_labels(
    admin: ApiClient, kubelet: ServiceProcess
) -> None:
    await eventually(lambda: _node_ready(admin), what="node Ready")
    node = await admin.get(NODES, NODE)
    assert node["status"]["capacity"]["cpu"] == "2"
    assert node["status"]["allocatable"]["cpu"] == "1900m"
    assert node["metadata"]["labels"]["zone"] == "a"
    assert {a["type"] for a in node["status"]["addresses"]} == {"InternalIP", "Hostname"}
    lease = await admin.get(LEASES, NODE, "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == NODE and lease["spec"]["leaseDurationSeconds"] == 4


async def test_stats_report_usage_against_allocatable(
    admin: ApiClient, namespace: str, running_pod: str, control_plane: LocalControlPlane
) -> None:
    reply = await bus.request(admin.nc, subjects.node_stats(NODE), {})
    stats = NodeStats.model_validate(reply)
    assert stats.node == NODE and stats.cpu.allocatable == 1900 and stats.pods.allocatable == 110
    mine = [p for p in stats.pod_stats if p.namespace == namespace]
    assert [p.name for p in mine] == ["web"] and mine[0].memory > 0 and mine[0].containers


async def test_killing_the_runtime_makes_the_node_not_ready_and_restarting_it_heals(
    admin: ApiClient, namespace: str, running_pod: str, runtime: ServiceProcess
) -> None:
    await eventually(lambda: _node_ready(admin), what="node Ready")
    runtime.kill()

    async def not_ready() -> Object | None:
        node = await admin.get(NODES, NODE)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        return ready if ready["status"] == "False" else None

    ready = await eventually(not_ready, timeout=20, what="node NotReady")
    assert ready["reason"] == "KubeletNotReady"
    assert ready["message"].startswith("container runtime is down")

    runtime.start()
    await eventually(lambda: _node_ready(admin), timeout=20, what="node Ready again")
    # The runtime came back empty: the pod's container runs again, counted as a restart.
    await _wait_running(admin, namespace, running_pod, restarts=1)


async def test_chaos_over_the_bus_crashes_and_recovers_the_node(
    admin: ApiClient, namespace: str, running_pod: str
) -> None:
    before = await _wait_running(admin, namespace, running_pod)
    restarts = before["status"]["containerStatuses"][0]["restartCount"]
    await admin.nc.publish(subjects.chaos("node", NODE, "crash"))
    await asyncio.sleep(0.5)
    renewed = (await admin.get(LEASES, NODE, "kube-node-lease"))["spec"]["renewTime"]
    await asyncio.sleep(2.5)
    assert (await admin.get(LEASES, NODE, "kube-node-lease"))["spec"]["renewTime"] == renewed

    await admin.nc.publish(subjects.chaos("node", NODE, "recover"))
    await _wait_running(admin, namespace, running_pod, restarts=restarts + 1)
    assert (await admin.get(LEASES, NODE, "kube-node-lease"))["spec"]["renewTime"] != renewed


async def test_chaos_pod_kill_exits_137_and_the_pod_restarts(
    admin: ApiClient, namespace: str, running_pod: str
) -> None:
    started = (await admin.get(PODS, running_pod, namespace))["status"]["containerStatuses"][0]
    killed = datetime.now(UTC)
    await admin.nc.publish(subjects.chaos("pod", namespace, running_pod, "kill"))
    pod = await _wait_running(admin, namespace, running_pod, restarts=1)
    status = pod["status"]["containerStatuses"][0]
    terminated = status["lastState"]["terminated"]
    assert terminated["exitCode"] == 137
    # The times come from the runtime process's replies (Unix times) and read as this test's wall clock.
    assert terminated["startedAt"] == started["state"]["running"]["startedAt"]
    assert within(terminated["finishedAt"], killed, datetime.now(UTC))
    assert within(status["state"]["running"]["startedAt"], killed, datetime.now(UTC))
