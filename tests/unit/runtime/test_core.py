"""The runtime core on a virtual ``now``: sandboxes, pulls, container lives, stops, stats, logs, probes."""

from __future__ import annotations

import itertools

import pytest

from services.runtime.api import (
    EXIT_CODE_SIGKILL,
    ContainerConfig,
    ContainerResources,
    ContainerState,
    PodSandboxConfig,
    PodSandboxState,
    ProbeKind,
)
from services.runtime.catalogue import CATALOGUE, DEFAULT_IMAGE
from services.runtime.core import RuntimeConfig, RuntimeCore
from services.runtime.timeline import Timeline
from shared.errors import ApiError

MI = 2**20
PULL_LATENCY = 0.5
S = 10**9
"""Nanoseconds per second: a core without a timeline reports ``now`` as Unix time, in nanoseconds."""


def new_core(log_lines: int = 1000) -> RuntimeCore:
    counter = itertools.count(1)
    config = RuntimeConfig(pull_bytes_per_second=10 * MI, pull_latency=PULL_LATENCY, log_lines=log_lines)
    return RuntimeCore("node-1", config, new_id=lambda: f"id-{next(counter)}")


def pod(uid: str = "uid-1", annotations: dict[str, str] | None = None) -> PodSandboxConfig:
    return PodSandboxConfig(name=f"pod-{uid}", namespace="default", uid=uid, annotations=annotations or {})


def sim(**keys: str) -> dict[str, str]:
    """``sim(exit_after="5s", app__cpu="1")`` → the ``sim.kubenats.io/…`` annotations."""
    return {f"sim.kubenats.io/{k.replace('__', '.').replace('_', '-')}": v for k, v in keys.items()}


def container(
    image: str = "example.com/app:1",
    name: str = "app",
    attempt: int = 0,
    command: list[str] | None = None,
    memory_limit: int = 0,
    cpu_limit: int = 0,
    annotations: dict[str, str] | None = None,
) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        image=image,
        attempt=attempt,
        command=command or [],
        resources=ContainerResources(memory_limit_bytes=memory_limit, cpu_limit_millis=cpu_limit),
        annotations=annotations or {},
    )


def started(core: RuntimeCore, config: ContainerConfig, at: float = 0.0) -> str:
    """Pull (instantly, for the test), create and start ``config`` at time ``at``; returns its id."""
    sandbox_id = core.run_pod_sandbox(pod(annotations=config.annotations), at)
    core._images[core.pull_image(config.image, at).reply.image_ref] = at
    container_id = core.create_container(sandbox_id, config, at)
    core.start_container(container_id, at)
    return container_id


# --- sandboxes and images --------------------------------------------------------------------------


def test_run_pod_sandbox_is_idempotent_per_pod_uid() -> None:
    core = new_core()
    first = core.run_pod_sandbox(pod("a"), 0)
    assert core.run_pod_sandbox(pod("a"), 1) == first
    assert core.run_pod_sandbox(pod("b"), 2) != first
    assert sorted(s.config.uid for s in core.list_pod_sandboxes()) == ["a", "b"]


def test_stopped_sandbox_refuses_containers_and_runs_again_under_the_same_id() -> None:
    core = new_core()
    sandbox_id = core.run_pod_sandbox(pod(), 0)
    core.stop_pod_sandbox(sandbox_id, 1)
    assert core.pod_sandbox_status(sandbox_id).state is PodSandboxState.NOTREADY
    core.pull_image("busybox", 1)
    with pytest.raises(ApiError) as caught:
        core.create_container(sandbox_id, container("busybox"), 10)
    assert caught.value.code == 409
    assert core.run_pod_sandbox(pod(), 11) == sandbox_id
    assert core.pod_sandbox_status(sandbox_id).state is PodSandboxState.READY


def test_pull_takes_latency_plus_size_over_bandwidth_and_a_present_image_is_not_pulled_again() -> None:
    core = new_core()
    first = core.pull_image("nginx:1.27", 100.0)
    expected = 100.0 + PULL_LATENCY + CATALOGUE["nginx"].size / (10 * MI)
    assert first.done_at == pytest.approx(expected)
    assert (first.reply.image_ref, first.reply.pulled) == ("docker.io/library/nginx:1.27", True)
    assert not core.image_present("nginx:1.27", expected - 0.01)
    during = core.pull_image("docker.io/library/nginx:1.27", 101.0)
    assert (during.done_at, during.reply.pulled) == (first.done_at, True)
    after = core.pull_image("nginx:1.27", expected + 1)
    assert (after.done_at, after.reply.pulled) == (first.done_at, False)
    assert core.image_present("nginx:1.27", expected)


def test_every_pull_reply_carries_the_image_size_present_or_not() -> None:
    core = new_core()
    first, again = core.pull_image("redis:7", 0.0), core.pull_image("redis:7", 10**6)
    assert (first.reply.pulled, again.reply.pulled) == (True, False)
    assert first.reply.size == again.reply.size == CATALOGUE["redis"].size
    assert core.pull_image("example.com/unheard-of:1", 0).reply.size == DEFAULT_IMAGE.size


def test_container_cannot_be_created_from_an_image_not_pulled() -> None:
    core = new_core()
    sandbox_id = core.run_pod_sandbox(pod(), 0)
    with pytest.raises(ApiError) as caught:
        core.create_container(sandbox_id, container("redis"), 0)
    assert caught.value.code == 409 and "pull it first" in caught.value.message


def test_bad_image_reference_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as caught:
        new_core().pull_image("  ", 0)
    assert caught.value.code == 400


# --- how a container's life ends -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "before", "at", "exit_code", "reason"),
    [
        (container(annotations=sim(exit_after="5s")), 4.99, 5.0, 0, "Completed"),
        (container(annotations=sim(exit_after="5s", exit_code="3")), 4.99, 5.0, 3, "Error"),
        (container(annotations=sim(crash_after="250ms")), 0.24, 0.25, 1, "Error"),
        (container(annotations=sim(app__crash_after="2m", exit_code="2")), 119, 120, 2, "Error"),
        (container("busybox", command=["sleep", "10"]), 9.9, 10, 0, "Completed"),
        (container("busybox", command=["sh", "-c", "exit 1"]), -1, 0, 1, "Error"),
        (container("busybox"), -1, 0, 0, "Completed"),
        (
            container(memory_limit=64 * MI, annotations=sim(memory="32Mi", memory_growth="4Mi/s")),
            7.99,
            8.0,
            EXIT_CODE_SIGKILL,
            "OOMKilled",
        ),
        (
            container(
                memory_limit=64 * MI, annotations=sim(memory="32Mi", memory_growth="4Mi", exit_after="3s")
            ),
            2.9,
            3.0,
            0,
            "Completed",
        ),
        (
            container(memory_limit=16 * MI, annotations=sim(memory="32Mi")),
            -1,
            0,
            EXIT_CODE_SIGKILL,
            "OOMKilled",
        ),
    ],
)
def test_container_exits_by_itself_as_its_behaviour_says(
    config: ContainerConfig, before: float, at: float, exit_code: int, reason: str
) -> None:
    core = new_core()
    container_id = started(core, config, at=0.0)
    if before >= 0:
        assert core.container_status(container_id, before).state is ContainerState.RUNNING
    status = core.container_status(container_id, at)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, exit_code, reason)
    assert status.finished_at == round(at * S)


@pytest.mark.parametrize(
    "config",
    [
        container(),
        container("nginx"),
        container("registry.k8s.io/pause:3.9"),
        container("busybox", command=["sleep", "infinity"]),
        container(memory_limit=64 * MI, annotations=sim(memory="32Mi")),
        container(annotations=sim(memory="32Mi", memory_growth="1Mi")),
    ],
)
def test_container_without_an_end_runs_until_stopped(config: ContainerConfig) -> None:
    core = new_core()
    container_id = started(core, config)
    assert core.container_status(container_id, 10**7).state is ContainerState.RUNNING


def test_crashing_container_crashes_again_on_every_attempt() -> None:
    core = new_core()
    annotations = sim(crash_after="3s")
    first = started(core, container(annotations=annotations), at=0)
    sandbox_id = core.container_status(first, 0).pod_sandbox_id
    second = core.create_container(sandbox_id, container(attempt=1, annotations=annotations), 13)
    core.start_container(second, 13)
    assert core.container_status(second, 15.9).state is ContainerState.RUNNING
    assert core.container_status(second, 16).exit_code == 1


def test_a_container_name_and_attempt_are_used_once_per_sandbox_and_start_is_once() -> None:
    core = new_core()
    container_id = started(core, container())
    sandbox_id = core.container_status(container_id, 0).pod_sandbox_id
    with pytest.raises(ApiError) as caught:
        core.create_container(sandbox_id, container(), 1)
    assert caught.value.code == 409
    with pytest.raises(ApiError) as caught:
        core.start_container(container_id, 1)
    assert caught.value.code == 409


def test_bad_behaviour_fails_the_create_with_the_key_named() -> None:
    core = new_core()
    sandbox_id = core.run_pod_sandbox(pod(), 0)
    core.pull_image("busybox", 0)
    with pytest.raises(ApiError) as caught:
        core.create_container(sandbox_id, container("busybox", annotations=sim(app__exit_after="soon")), 10)
    assert caught.value.code == 422
    assert "sim.kubenats.io/app.exit-after" in caught.value.message
    assert core.list_containers(10, sandbox_id) == []


# --- stopping --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "timeout", "done_after", "exit_code", "reason"),
    [
        (sim(shutdown="2s"), 30, 2.0, 0, "Completed"),
        (sim(shutdown="2s"), 1, 1.0, EXIT_CODE_SIGKILL, "Error"),
        (sim(shutdown="never"), 30, 30.0, EXIT_CODE_SIGKILL, "Error"),
        (sim(shutdown="2s"), 0, 0.0, EXIT_CODE_SIGKILL, "Error"),
        (sim(shutdown="0s"), 0, 0.0, EXIT_CODE_SIGKILL, "Error"),
        (sim(shutdown="0s"), 1, 0.0, 0, "Completed"),
        (sim(shutdown="never", exit_after="105s", exit_code="4"), 30, 5.0, 4, "Error"),
    ],
)
def test_stop_ends_in_a_graceful_exit_or_a_kill_at_the_deadline(
    annotations: dict[str, str], timeout: float, done_after: float, exit_code: int, reason: str
) -> None:
    core = new_core()
    container_id = started(core, container(annotations=annotations), at=0)
    done_at = core.stop_container(container_id, timeout, 100.0)
    assert done_at == pytest.approx(100.0 + done_after)
    if done_after > 0:
        assert core.container_status(container_id, done_at - 0.01).state is ContainerState.RUNNING
    status = core.container_status(container_id, done_at)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, exit_code, reason)


def test_kill_during_a_graceful_stop_brings_the_end_forward_and_a_later_stop_changes_nothing() -> None:
    core = new_core()
    container_id = started(core, container(annotations=sim(shutdown="never")))
    assert core.stop_container(container_id, 30, 10) == 40
    assert core.stop_container(container_id, 0, 12) == 12
    assert core.stop_container(container_id, 30, 20) == 12
    assert core.container_status(container_id, 20).exit_code == EXIT_CODE_SIGKILL


def test_stopping_the_sandbox_kills_its_running_containers() -> None:
    core = new_core()
    container_id = started(core, container(annotations=sim(shutdown="1s")))
    sandbox_id = core.container_status(container_id, 0).pod_sandbox_id
    core.stop_pod_sandbox(sandbox_id, 50)
    status = core.container_status(container_id, 50)
    assert (status.state, status.exit_code, status.finished_at) == (
        ContainerState.EXITED,
        EXIT_CODE_SIGKILL,
        50 * S,
    )


def test_removing_forgets_containers_and_sandboxes_and_is_not_an_error_twice() -> None:
    core = new_core()
    container_id = started(core, container())
    sandbox_id = core.container_status(container_id, 0).pod_sandbox_id
    core.remove_container(container_id, 1)
    core.remove_container(container_id, 1)
    assert core.list_containers(1, sandbox_id) == []
    core.remove_pod_sandbox(sandbox_id, 2)
    core.remove_pod_sandbox(sandbox_id, 2)
    assert core.list_pod_sandboxes() == []
    assert core.run_pod_sandbox(pod(), 3) != sandbox_id


@pytest.mark.parametrize(
    "call",
    [
        lambda core: core.container_status("nope", 0),
        lambda core: core.start_container("nope", 0),
        lambda core: core.stop_container("nope", 10, 0),
        lambda core: core.container_logs("nope", 0),
        lambda core: core.probe("nope", ProbeKind.LIVENESS, 0),
        lambda core: core.stop_pod_sandbox("nope", 0),
        lambda core: core.pod_sandbox_status("nope"),
        lambda core: core.create_container("nope", container(), 0),
    ],
)
def test_unknown_id_is_not_found(call: object) -> None:
    with pytest.raises(ApiError) as caught:
        call(new_core())  # type: ignore[operator]
    assert caught.value.code == 404 and "nope" in caught.value.message


# --- usage, logs, probes ---------------------------------------------------------------------------


def test_stats_report_running_containers_usage_and_cpu_time_and_stop_at_exit() -> None:
    core = new_core()
    steady = started(core, container(annotations=sim(cpu="250m", memory="10Mi", memory_growth="1Mi")), at=0)
    capped = started(core, container(name="b", cpu_limit=100, annotations=sim(cpu="1", exit_after="20s")))
    stats = {s.id: s for s in core.container_stats(10.0)}
    assert (stats[steady].cpu_millis, stats[steady].memory_bytes) == (250, 20 * MI)
    assert stats[steady].cpu_seconds_total == pytest.approx(2.5)
    assert stats[capped].cpu_millis == 100
    assert stats[capped].cpu_seconds_total == pytest.approx(1.0)
    assert [s.id for s in core.container_stats(20.0)] == [steady]


def test_logs_hold_greeting_and_periodic_lines_up_to_now_or_the_exit() -> None:
    core = new_core()
    annotations = sim(startup="1s", log_interval="10s", log_line="line {n} of {container}", exit_after="35s")
    container_id = started(core, container("redis", annotations=annotations), at=100)
    assert core.container_logs(container_id, 100.5) == []
    lines = core.container_logs(container_id, 125)
    assert [(line.timestamp, line.line) for line in lines] == [
        (101 * S, "Ready to accept connections tcp"),
        (111 * S, "line 1 of app"),
        (121 * S, "line 2 of app"),
    ]
    assert [line.line for line in core.container_logs(container_id, 10**6)][-1] == "line 3 of app"
    assert [line.line for line in core.container_logs(container_id, 10**6, tail_lines=1)] == ["line 3 of app"]
    assert [line.timestamp for line in core.container_logs(container_id, 10**6, since=121 * S)] == [
        121 * S,
        131 * S,
    ]


def test_log_ring_keeps_only_the_newest_lines_however_long_it_ran() -> None:
    core = new_core(log_lines=5)
    container_id = started(core, container(annotations=sim(startup="0s", log_interval="1ms")), at=0)
    lines = core.container_logs(container_id, 3600.0)
    assert [line.line for line in lines] == [f"app: tick {n}" for n in range(3_599_996, 3_600_001)]


@pytest.mark.parametrize(
    ("at", "startup", "readiness", "liveness"),
    [
        (0.5, False, False, False),
        (2.0, True, False, True),
        (5.0, True, True, True),
        (59.9, True, True, True),
        (60.0, True, True, False),
    ],
)
def test_probes_follow_startup_ready_delay_and_liveness_failure(
    at: float, startup: bool, readiness: bool, liveness: bool
) -> None:
    core = new_core()
    annotations = sim(startup="2s", ready_delay="3s", liveness_fail_after="1m")
    container_id = started(core, container(annotations=annotations), at=0)
    results = [core.probe(container_id, kind, at).success for kind in ProbeKind]
    assert results == [startup, liveness, readiness]


def test_probes_fail_once_the_container_has_exited() -> None:
    core = new_core()
    container_id = started(core, container(annotations=sim(startup="0s", exit_after="1s")))
    reply = core.probe(container_id, ProbeKind.READINESS, 2)
    assert (reply.success, reply.message) == (False, "container is exited")


# --- times in replies --------------------------------------------------------------------------------

EPOCH = 1_767_225_600 * S
"""2026-01-01T00:00:00Z in Unix nanoseconds: when the core's clock (in the test below) read 0."""


def test_replies_carry_unix_times_from_the_timeline_not_the_cores_clock() -> None:
    counter = itertools.count(1)
    core = RuntimeCore("node-1", new_id=lambda: f"id-{next(counter)}", timeline=Timeline(EPOCH))
    annotations = sim(startup="1s", exit_after="30s", log_interval="10s")
    container_id = started(core, container("redis", annotations=annotations), at=100.0)
    status = core.container_status(container_id, 200.0)
    assert (status.created_at, status.started_at, status.finished_at) == (
        EPOCH + 100 * S,
        EPOCH + 100 * S,
        EPOCH + 130 * S,
    )
    assert core.list_pod_sandboxes()[0].created_at == EPOCH + 100 * S
    assert [s.timestamp for s in core.container_stats(110.5)] == [EPOCH + 110_500_000_000]
    lines = core.container_logs(container_id, 200.0, since=EPOCH + 111 * S)
    assert [line.timestamp for line in lines] == [EPOCH + 111 * S, EPOCH + 121 * S]
