"""The runtime as a real process on a real nats-server: CRI calls, container lives, errors, shutdown."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client

from services.runtime.api import (
    EXIT_CODE_SIGKILL,
    ContainerConfig,
    ContainerResources,
    ContainerState,
    ContainerStatus,
    PodSandboxConfig,
    ProbeKind,
    RuntimeClient,
)
from services.runtime.catalogue import CATALOGUE
from services.runtime.client import NatsRuntimeClient
from shared.bus import connect
from shared.errors import ApiError
from shared.procs import ServiceProcess
from shared.subjects import node_cri

NODE = "worker-it"
MI = 2**20
SECOND = 10**9


def runtime_process(nats_url: str, node: str, log_dir: Path) -> ServiceProcess:
    args = ["--nats", nats_url, "--node", node, "--pull-rate", "1Gi/s", "--pull-latency", "0.05"]
    return ServiceProcess(f"runtime-{node}", "services.runtime", args, log_dir, ready_line="runtime ready")


@pytest.fixture(scope="module")
def runtime_service(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = runtime_process(nats_url, NODE, tmp_path_factory.mktemp("runtime"))
    process.start()
    yield process
    process.terminate()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await connect(nats_url, name="runtime-test")
    yield client
    await client.close()


@pytest.fixture
def runtime(runtime_service: ServiceProcess, nc: Client) -> NatsRuntimeClient:
    client = NatsRuntimeClient(nc, NODE, timeout=5.0)
    _: RuntimeClient = client  # mypy checks the client against the kubelet's protocol
    return client


def sim(**keys: str) -> dict[str, str]:
    return {f"sim.kubenats.io/{k.replace('_', '-')}": v for k, v in keys.items()}


async def started(
    runtime: NatsRuntimeClient, uid: str, image: str, annotations: dict[str, str], memory_limit: int = 0
) -> str:
    sandbox_id = await runtime.run_pod_sandbox(
        PodSandboxConfig(name=uid, namespace="default", uid=uid, annotations=annotations)
    )
    await runtime.pull_image(image)
    config = ContainerConfig(
        name="main",
        image=image,
        annotations=annotations,
        resources=ContainerResources(memory_limit_bytes=memory_limit),
    )
    container_id = await runtime.create_container(sandbox_id, config)
    await runtime.start_container(container_id)
    return container_id


async def exited(runtime: NatsRuntimeClient, container_id: str, within: float = 10.0) -> ContainerStatus:
    """The container's status once it has exited (polled: the runtime is another process)."""
    async with asyncio.timeout(within):
        while (status := await runtime.container_status(container_id)).state is not ContainerState.EXITED:
            await asyncio.sleep(0.05)
    return status


async def test_container_runs_reports_usage_and_logs_and_stops_gracefully(runtime: NatsRuntimeClient) -> None:
    assert (await runtime.version()).node == NODE
    began = time.time_ns()
    annotations = sim(startup="0s", memory="48Mi", cpu="150m", shutdown="300ms")
    container_id = await started(runtime, "pod-run", "nginx:1.27", annotations)
    status = await runtime.container_status(container_id)
    assert (status.state, status.name, status.image) == (ContainerState.RUNNING, "main", "nginx:1.27")
    stats = {s.id: s for s in await runtime.container_stats()}
    assert (stats[container_id].memory_bytes, stats[container_id].cpu_millis) == (48 * MI, 150)
    assert (await runtime.probe(container_id, ProbeKind.READINESS)).success
    logs = await runtime.container_logs(container_id)
    assert [line.line for line in logs] == ["Configuration complete; ready for start up"]

    await runtime.stop_container(container_id, 10.0)
    status = await runtime.container_status(container_id)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 0, "Completed")
    assert status.finished_at is not None and status.started_at is not None
    # Unix nanoseconds of the runtime's wall clock (this machine's too), not its monotonic seconds; a
    # second's slack for the offset it fixed at start-up.
    since, until = began - SECOND, time.time_ns() + SECOND
    assert since <= status.created_at <= status.started_at <= status.finished_at <= until
    assert all(status.started_at <= line.timestamp <= status.finished_at for line in logs)
    assert (await runtime.pull_image("nginx:1.27")).size == CATALOGUE["nginx"].size
    assert container_id not in {s.id for s in await runtime.container_stats()}
    assert [c.id for c in await runtime.list_containers(status.pod_sandbox_id)] == [container_id]


async def test_exit_after_profile_ends_with_its_exit_code(runtime: NatsRuntimeClient) -> None:
    container_id = await started(runtime, "pod-exit", "busybox", sim(exit_after="300ms", exit_code="3"))
    status = await exited(runtime, container_id)
    assert (status.exit_code, status.reason) == (3, "Error")


async def test_growing_memory_is_oom_killed_at_its_limit(runtime: NatsRuntimeClient) -> None:
    annotations = sim(memory="10Mi", memory_growth="100Mi/s")
    container_id = await started(runtime, "pod-oom", "python:3.12", annotations, memory_limit=30 * MI)
    status = await exited(runtime, container_id)
    assert (status.exit_code, status.reason) == (EXIT_CODE_SIGKILL, "OOMKilled")


async def test_kill_travels_as_stop_with_timeout_zero(runtime: NatsRuntimeClient) -> None:
    container_id = await started(runtime, "pod-kill", "redis", sim(shutdown="never"))
    await runtime.kill_container(container_id)
    status = await runtime.container_status(container_id)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, EXIT_CODE_SIGKILL)


async def test_a_stop_waiting_out_its_grace_period_holds_up_no_other_call(runtime: NatsRuntimeClient) -> None:
    container_id = await started(runtime, "pod-slow", "redis", sim(shutdown="never"))
    stopping = asyncio.create_task(runtime.stop_container(container_id, 2.0))
    await asyncio.sleep(0.2)
    assert (await runtime.version()).node == NODE
    assert (await runtime.container_status(container_id)).state is ContainerState.RUNNING
    assert not stopping.done()
    await stopping
    assert (await runtime.container_status(container_id)).exit_code == EXIT_CODE_SIGKILL


@pytest.mark.parametrize(
    ("call", "payload", "code", "text"),
    [
        ("container_status", b'{"container_id": "nope"}', 404, "nope"),
        ("stop_container", b'{"container_id": "nope", "timeout": 1}', 404, "nope"),
        ("container_status", b'{"container_id": ', 400, "malformed JSON"),
        ("stop_container", b'{"container_id": "x", "timeout": -1}', 400, "timeout"),
        ("probe", b'{"container_id": "x", "kind": "sideways"}', 400, "kind"),
        ("pull_image", b'{"image": "nginx", "extra": 1}', 400, "extra"),
    ],
)
async def test_bad_request_gets_a_status_and_the_runtime_keeps_serving(
    runtime: NatsRuntimeClient, nc: Client, call: str, payload: bytes, code: int, text: str
) -> None:
    msg = await nc.request(node_cri(NODE, call), payload, timeout=5)
    status = json.loads(msg.data)
    assert msg.headers is not None and msg.headers["Nats-Service-Error-Code"] == str(code)
    assert status["kind"] == "Status" and status["code"] == code and text in status["message"]
    assert (await runtime.version()).node == NODE


async def test_invalid_behaviour_fails_the_create_naming_the_key(runtime: NatsRuntimeClient) -> None:
    with pytest.raises(ApiError) as caught:
        await started(runtime, "pod-bad", "busybox", {"sim.kubenats.io/main.exit-after": "soon"})
    assert caught.value.code == 422 and "sim.kubenats.io/main.exit-after" in caught.value.message
    assert (await runtime.version()).node == NODE


async def test_runtime_stops_cleanly_on_sigterm_and_then_calls_get_no_responders(
    nats_url: str, nc: Client, tmp_path: Path
) -> None:
    process = runtime_process(nats_url, "worker-gone", tmp_path).start()
    client = NatsRuntimeClient(nc, "worker-gone", timeout=2.0)
    assert (await client.version()).node == "worker-gone"
    assert process.terminate() == 0
    assert "runtime stopped" in process.output()
    with pytest.raises(ApiError) as caught:
        await client.version()
    assert caught.value.code == 503
