"""A kubelet whose runtime runs on another machine: times in pod status, back-off and probes stay right.

The runtime's machine has been up for eleven days and the kubelet's has just booted, so their monotonic
clocks differ by eleven days while their wall clocks agree. The pod worker runs against an in-process
runtime on the runtime's clock; statuses are held by a status manager cut off from the API (no bus), so
the test reads the status the kubelet would write.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from services.kubelet import events as ev
from services.kubelet.admission import ADMITTED, AdmitResult
from services.kubelet.backoff import BackOffPolicy
from services.kubelet.ipam import PodIPAllocator
from services.kubelet.podsync import PodSyncer
from services.kubelet.records import PodRecord, new_record
from services.kubelet.statusmanager import StatusManager
from services.runtime.catalogue import CATALOGUE
from services.runtime.core import RuntimeConfig, RuntimeCore
from services.runtime.inprocess import InProcessRuntime
from services.runtime.timeline import Timeline
from shared.apiclient import ApiClient
from shared.clock import VirtualClock
from shared.models import Pod, PodStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RUNTIME_UPTIME = timedelta(days=11)
PULL_SECONDS = 2.0
"""How long pulling ``pause`` takes: 1 s latency and 1 s for its bytes."""


class RecordedEvents(ev.EventRecorder):
    """The kubelet's recorder, keeping (reason, message) of every event it is asked to record."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(cast(ApiClient, None), "worker-1", clock, can_send=lambda: False)
        self.seen: list[tuple[str, str]] = []

    def event(
        self, involved: ev.Involved, event_type: str, reason: str, message: str, at: datetime | None = None
    ) -> None:
        self.seen.append((reason, message))
        super().event(involved, event_type, reason, message, at)


@dataclass
class Node:
    """One worker: the runtime on its own clock, the kubelet's pod worker on another."""

    runtime_clock: VirtualClock
    runtime: InProcessRuntime
    kubelet_clock: VirtualClock = field(default_factory=lambda: VirtualClock(T0))

    def __post_init__(self) -> None:
        self.statuses = StatusManager(cast(ApiClient, None))
        self.statuses.connected = False  # statuses are held, not written: no API in a unit test
        self.events = RecordedEvents(self.kubelet_clock)
        self.syncer = PodSyncer(
            node="worker-1",
            host_ip="172.18.0.2",
            runtime=self.runtime,
            clock=self.kubelet_clock,
            ipam=PodIPAllocator("10.244.1.0/24"),
            statuses=self.statuses,
            admit=admit_all,
            events=self.events,
        )

    async def advance(self, seconds: float) -> None:
        """Both machines live through ``seconds``; the kubelet's clock first, so that a pod worker woken
        by the runtime's clock already sees the kubelet's time of that moment."""
        await self.kubelet_clock.advance(seconds)
        await self.runtime_clock.advance(seconds)

    def status(self, pod: Pod) -> PodStatus:
        latest = self.statuses.latest(pod)
        assert latest is not None
        return latest


def admit_all(pod: Pod, record: PodRecord) -> AdmitResult:
    return ADMITTED


async def new_node() -> Node:
    """A node at wall time T0, whose runtime's monotonic clock reads eleven days and kubelet's 0."""
    runtime_clock = VirtualClock(T0 - RUNTIME_UPTIME)
    await runtime_clock.advance(RUNTIME_UPTIME.total_seconds())
    config = RuntimeConfig(pull_bytes_per_second=CATALOGUE["pause"].size, pull_latency=1.0)
    core = RuntimeCore("worker-1", config, timeline=Timeline.of(runtime_clock))
    return Node(runtime_clock, InProcessRuntime(core, runtime_clock))


def new_pod(restart_policy: str, annotations: dict[str, str], **container: Any) -> Pod:
    return Pod.model_validate(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": "uid-1", "annotations": annotations},
            "spec": {
                "nodeName": "worker-1",
                "restartPolicy": restart_policy,
                "containers": [{"name": "app", "image": "pause", **container}],
            },
        }
    )


async def sync_through_pull(node: Node, pod: Pod, record: PodRecord) -> float | None:
    """The first sync, which waits for the image to be pulled."""
    sync = asyncio.create_task(node.syncer.sync(pod, record))
    # However many loop turns the sync takes to reach the pull, time moves only once the pull waits on
    # the runtime's clock; a sync that never gets there fails the test instead of hanging it.
    async with asyncio.timeout(5):
        while not node.runtime_clock.sleepers and not sync.done():
            await asyncio.sleep(0)
    await node.advance(PULL_SECONDS)
    return await sync


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_the_runtimes_monotonic_clock_is_unrelated_to_the_kubelets() -> None:
    node = await new_node()
    assert node.runtime_clock.monotonic() - node.kubelet_clock.monotonic() == RUNTIME_UPTIME.total_seconds()
    assert node.runtime_clock.now() == node.kubelet_clock.now() == T0


async def test_status_times_are_the_wall_clock_times_of_start_and_exit() -> None:
    node = await new_node()
    pod = new_pod("Never", {"sim.kubenats.io/exit-after": "10s", "sim.kubenats.io/exit-code": "3"})
    record = new_record(pod, BackOffPolicy(), node.kubelet_clock.now())

    await sync_through_pull(node, pod, record)
    (running,) = node.status(pod).container_statuses
    assert running.state.running is not None and running.state.running.started_at == at(2)

    await node.advance(10)
    await node.syncer.sync(pod, record)
    status = node.status(pod)
    terminated = status.container_statuses[0].state.terminated
    assert status.phase == "Failed" and terminated is not None
    assert (terminated.exit_code, terminated.started_at, terminated.finished_at) == (3, at(2), at(12))


async def test_crash_loop_back_off_counts_from_the_exit_on_the_kubelets_clock() -> None:
    node = await new_node()
    pod = new_pod("Always", {"sim.kubenats.io/crash-after": "10s"})
    record = new_record(pod, BackOffPolicy(), node.kubelet_clock.now())
    await sync_through_pull(node, pod, record)

    await node.advance(10)  # the first exit, at T0+12: restarted at once
    await node.syncer.sync(pod, record)
    (restarted,) = node.status(pod).container_statuses
    last = restarted.last_state.terminated
    assert restarted.state.running is not None and restarted.state.running.started_at == at(12)
    assert last is not None and (last.started_at, last.finished_at, last.exit_code) == (at(2), at(12), 1)

    await node.advance(10)  # the second exit, at T0+22: 10 s of back-off
    wake = await node.syncer.sync(pod, record)
    (waiting,) = node.status(pod).container_statuses
    last = waiting.last_state.terminated
    assert waiting.state.waiting is not None and waiting.state.waiting.reason == "CrashLoopBackOff"
    assert last is not None and (last.started_at, last.finished_at) == (at(12), at(22))
    assert wake == pytest.approx(node.kubelet_clock.monotonic() + 10)


async def test_a_restarted_kubelet_schedules_probes_from_the_adopted_containers_start() -> None:
    node = await new_node()
    probe = {"exec": {"command": ["true"]}, "initialDelaySeconds": 30, "periodSeconds": 10}
    pod = new_pod("Always", {}, readinessProbe=probe)
    first = new_record(pod, BackOffPolicy(), node.kubelet_clock.now())
    assert await sync_through_pull(node, pod, first) == pytest.approx(PULL_SECONDS + 30)

    await node.advance(8)  # T0+10: the kubelet restarts, its monotonic clock from 0 again
    restarted = Node(node.runtime_clock, node.runtime, VirtualClock(at(10)))
    record = new_record(pod, BackOffPolicy(), restarted.kubelet_clock.now())
    wake = await restarted.syncer.sync(pod, record)
    assert record.main[0].container_id == first.main[0].container_id  # adopted, not started again
    assert wake == pytest.approx(22.0)  # T0+32 on a clock that read 0 at T0+10


async def test_the_pulled_event_names_the_size_the_runtime_reported() -> None:
    node = await new_node()
    pod = new_pod("Always", {})
    await sync_through_pull(node, pod, new_record(pod, BackOffPolicy(), node.kubelet_clock.now()))
    pulled = [message for reason, message in node.events.seen if reason == "Pulled"]
    assert pulled == [ev.pulled_message("pause", PULL_SECONDS, CATALOGUE["pause"].size)]
