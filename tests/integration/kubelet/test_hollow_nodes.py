"""Hollow nodes: 200 kubelets in one real process register, stay Ready and keep their Leases fresh."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient
from shared.models import parse_time
from shared.procs import ServiceProcess
from tests.integration.kubelet.conftest import LEASES, NODES, eventually, is_ready, token_file

COUNT = 200
LEASE_SECONDS = 2.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_names() -> tuple[str, ...]:
    return tuple(f"worker-{n}" for n in range(1, COUNT + 1))


@pytest.fixture(scope="module")
def hollow(control_plane: LocalControlPlane) -> Iterator[ServiceProcess]:
    args = ["--nats", control_plane.url, "--nodes", f"worker-{{1..{COUNT}}}"]
    args += ["--token-file", token_file(control_plane), "--lease-seconds", str(LEASE_SECONDS)]
    args += ["--status-interval", "2"]
    process = ServiceProcess(
        "kubelet-hollow",
        "services.kubelet",
        args,
        control_plane.etcd.root / "logs",
        ready_line="kubelet ready",
    )
    process.start(timeout=90)
    try:
        yield process
    finally:
        process.terminate()


async def _ready_count(admin: ApiClient) -> int:
    nodes = (await admin.list(NODES))["items"]
    return sum(is_ready(n) for n in nodes if n["metadata"]["name"].startswith("worker-"))


async def _fresh_leases(admin: ApiClient) -> int:
    now = datetime.now(UTC)
    leases = (await admin.list(LEASES, "kube-node-lease"))["items"]
    return sum(
        (now - parse_time(lease["spec"]["renewTime"])).total_seconds()
        <= lease["spec"]["leaseDurationSeconds"]
        for lease in leases
    )


async def test_two_hundred_hollow_nodes_register_and_stay_ready(
    admin: ApiClient, hollow: ServiceProcess
) -> None:
    async def all_ready() -> bool:
        return await _ready_count(admin) == COUNT

    await eventually(all_ready, timeout=60, interval=1, what=f"{COUNT} Ready nodes")
    node = await admin.get(NODES, "worker-137")
    assert node["spec"]["podCIDR"] == "10.244.137.0/24"
    assert node["metadata"]["labels"]["node-role.kubernetes.io/worker"] == ""
    assert node["status"]["allocatable"]["pods"] == "110"

    await asyncio.sleep(3 * LEASE_SECONDS * 4)  # three lease durations
    assert await _ready_count(admin) == COUNT
    assert await _fresh_leases(admin) == COUNT
    assert hollow.alive()


def test_sigterm_stops_the_hollow_process_cleanly(hollow: ServiceProcess) -> None:
    code = hollow.terminate(timeout=20)
    assert code == 0, hollow.output()[-3000:]
    assert "kubelet stopped" in hollow.output()
