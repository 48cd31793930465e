"""The in-process runtime on a virtual clock: pulls and graceful stops return only once the core is done."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.api import (
    EXIT_CODE_SIGKILL,
    ContainerConfig,
    ContainerState,
    PodSandboxConfig,
    ProbeKind,
    RuntimeClient,
    to_datetime,
)
from services.runtime.core import RuntimeConfig, RuntimeCore
from services.runtime.inprocess import InProcessRuntime
from services.runtime.timeline import Timeline
from shared.clock import VirtualClock
from shared.errors import ApiError

MI = 2**20


def runtime() -> tuple[InProcessRuntime, VirtualClock]:
    clock = VirtualClock()
    core = RuntimeCore("node-1", RuntimeConfig(pull_bytes_per_second=MI, pull_latency=1.0))
    return InProcessRuntime(core, clock), clock


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_in_process_runtime_is_a_runtime_client() -> None:
    client: RuntimeClient = runtime()[0]
    assert client is not None


async def test_pull_returns_when_the_image_is_present() -> None:
    client, clock = runtime()
    pull = asyncio.create_task(client.pull_image("busybox"))  # 2 MiB at 1 MiB/s + 1 s latency
    await settle()
    await clock.advance(2.9)
    assert not pull.done()
    await clock.advance(0.1)
    await settle()
    reply = pull.result()
    assert (reply.image_ref, reply.pulled) == ("docker.io/library/busybox:latest", True)
    assert (await client.pull_image("busybox")).pulled is False


async def test_container_lifecycle_through_the_client_with_a_graceful_stop() -> None:
    client, clock = runtime()
    sandbox_id = await client.run_pod_sandbox(PodSandboxConfig(name="p", namespace="default", uid="u"))
    pull = asyncio.create_task(client.pull_image("redis:7"))
    await settle()
    await clock.advance(100)
    await pull
    annotations = {"sim.kubenats.io/shutdown": "5s", "sim.kubenats.io/startup": "1s"}
    config = ContainerConfig(name="db", image="redis:7", annotations=annotations)
    container_id = await client.create_container(sandbox_id, config)
    await client.start_container(container_id)
    assert (await client.container_status(container_id)).state is ContainerState.RUNNING
    await clock.advance(1)
    assert (await client.probe(container_id, ProbeKind.READINESS)).success
    assert [line.line for line in await client.container_logs(container_id)] == [
        "Ready to accept connections tcp"
    ]
    assert [s.id for s in await client.container_stats()] == [container_id]

    stop = asyncio.create_task(client.stop_container(container_id, 30))
    await settle()
    await clock.advance(4.9)
    assert not stop.done()
    await clock.advance(0.1)
    await settle()
    assert stop.done()
    status = await client.container_status(container_id)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 0, "Completed")
    await client.remove_pod_sandbox(sandbox_id)
    with pytest.raises(ApiError):
        await client.container_status(container_id)


async def test_kill_exits_at_once_with_137() -> None:
    client, clock = runtime()
    sandbox_id = await client.run_pod_sandbox(PodSandboxConfig(name="p", namespace="default", uid="u"))
    pull = asyncio.create_task(client.pull_image("pause"))
    await settle()
    await clock.advance(10)
    await pull
    container_id = await client.create_container(sandbox_id, ContainerConfig(name="c", image="pause"))
    await client.start_container(container_id)
    await client.kill_container(container_id)
    status = await client.container_status(container_id)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, EXIT_CODE_SIGKILL)
    assert [s.pod_sandbox_id for s in (await client.list_containers(sandbox_id))] == [sandbox_id]
    assert (await client.version()).node == "node-1"


async def test_replies_carry_the_wall_clock_time_of_a_clock_whose_monotonic_origin_is_far_off() -> None:
    t0, uptime = datetime(2026, 1, 1, tzinfo=UTC), timedelta(days=11)
    clock = VirtualClock(t0 - uptime)
    await clock.advance(uptime.total_seconds())  # monotonic 950,400 s at wall time t0
    core = RuntimeCore("node-1", RuntimeConfig(pull_latency=0.0), timeline=Timeline.of(clock))
    client = InProcessRuntime(core, clock)
    sandbox_id = await client.run_pod_sandbox(PodSandboxConfig(name="p", namespace="default", uid="u"))
    await clock.advance(1)
    core._images[core.pull_image("pause", clock.monotonic()).reply.image_ref] = clock.monotonic()
    annotations = {"sim.kubenats.io/exit-after": "5s", "sim.kubenats.io/log-interval": "1s"}
    container_id = await client.create_container(
        sandbox_id, ContainerConfig(name="c", image="pause", annotations=annotations)
    )
    await clock.advance(1)
    await client.start_container(container_id)
    await clock.advance(10)

    status = await client.container_status(container_id)
    times = (status.created_at, status.started_at, status.finished_at)
    assert [to_datetime(t) if t is not None else None for t in times] == [
        t0 + timedelta(seconds=s) for s in (1, 2, 7)
    ]
    assert to_datetime((await client.list_pod_sandboxes())[0].created_at) == t0
    lines = (await client.container_logs(container_id))[:2]
    assert [(to_datetime(line.timestamp), line.line) for line in lines] == [
        (t0 + timedelta(seconds=3), "c: tick 1"),
        (t0 + timedelta(seconds=4), "c: tick 2"),
    ]
