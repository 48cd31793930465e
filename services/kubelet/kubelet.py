"""One node's kubelet: watches the pods bound to it, runs them through its runtime, and keeps the node alive
in the API (registration, status, Lease). Many run side by side in one process as hollow nodes.

Its loops: the pod informer (``fieldSelector spec.nodeName=<node>``) wakes pod workers; the PLEG relists
the runtime's containers about every second and wakes the workers of pods whose containers changed; the
status loop checks the runtime (``version``) and reports the node; the heartbeat renews the Lease.
Fault injection (:mod:`services.kubelet.faults`) switches it between up, crashed and partitioned.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.kubelet import events as ev
from services.kubelet.admission import AdmitResult, admit, used_resources
from services.kubelet.backoff import BackOffPolicy
from services.kubelet.heartbeat import NodePresence
from services.kubelet.ipam import PodIPAllocator
from services.kubelet.nodeconfig import NodeConfig
from services.kubelet.nodestatus import NodeHealth
from services.kubelet.podsync import PodSyncer
from services.kubelet.records import PodRecord, new_record
from services.kubelet.stats import NodeStats, node_stats
from services.kubelet.statusmanager import StatusManager
from services.kubelet.tasks import cancel_all
from services.kubelet.workers import DONE, PodWorkers
from services.runtime import api as cri
from shared.apiclient import ApiClient, resource
from shared.clock import Clock
from shared.errors import ApiError
from shared.informer import Informer, key_of
from shared.logging import get_logger
from shared.models import RESOURCE_MEMORY, Pod

log = get_logger("kubelet")

PODS = resource("", "v1", "pods")
RUNTIME_ERRORS = (ApiError, OSError, TimeoutError)
INFORMER_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class KubeletOptions:
    lease_seconds: float = 10.0
    status_interval: float = 10.0
    relist_period: float = 1.0
    backoff_scale: float = 1.0
    node_events: bool = True
    """Record the node's own events (Starting, NodeReady); hollow nodes leave them out, so that hundreds
    of nodes starting at once write nothing but their pods' events."""


class Kubelet:
    def __init__(
        self,
        config: NodeConfig,
        api: ApiClient,
        runtime: cri.RuntimeClient,
        clock: Clock,
        options: KubeletOptions | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.api = api
        self.runtime = runtime
        self.clock = clock
        self.options = options or KubeletOptions()
        self.policy = BackOffPolicy(scale=self.options.backoff_scale)
        self.presence = NodePresence(api, config, clock, self.options.lease_seconds)
        self.statuses = StatusManager(api)
        self.records: dict[str, PodRecord] = {}
        self.crashed = False
        self.partitioned = False
        self.events = ev.EventRecorder(api, self.name, clock, can_send=lambda: self.connected)
        self.informer = self._new_informer()
        self.ipam = PodIPAllocator(config.cidr)
        self.syncer = self._new_syncer()
        self.workers = PodWorkers(self._sync, clock, self.name)
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._relist_failed = False

    @property
    def connected(self) -> bool:
        return not (self.crashed or self.partitioned)

    def _new_informer(self) -> Informer:
        informer = Informer(self.api, PODS, field_selector=f"spec.nodeName={self.name}")
        informer.add_handler(
            on_add=lambda pod: self.workers.wake(key_of(pod)),
            on_update=lambda _old, pod: self.workers.wake(key_of(pod)),
            on_delete=lambda pod: self.workers.wake(key_of(pod)),
        )
        return informer

    def _new_syncer(self) -> PodSyncer:
        return PodSyncer(
            node=self.name,
            host_ip=self.config.internal_ip,
            runtime=self.runtime,
            clock=self.clock,
            ipam=self.ipam,
            statuses=self.statuses,
            admit=self._admit,
            events=self.events,
        )

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, stagger: float = 0.0) -> None:
        """Register (retrying until the API server answers), then start every loop."""
        await self._register_until_done()
        if self.options.node_events:
            self.events.event(self._node_ref(), ev.NORMAL, "Starting", "Starting kubelet.")
            self._node_readiness(None)
        await self.informer.start()
        spread = stagger or random.uniform(0, 1)
        self._loops = [
            asyncio.create_task(
                self._every(self.options.lease_seconds, self._heartbeat, spread), name="lease"
            ),
            asyncio.create_task(
                self._every(self.options.status_interval, self._report, spread), name="status"
            ),
            asyncio.create_task(self._every(self.options.relist_period, self._relist, spread), name="pleg"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        loops, self._loops = self._loops, []
        await cancel_all(loops)
        await self.stop_informer()
        await self.workers.stop()
        await self.events.flush()
        await self.events.stop()

    async def stop_informer(self) -> None:
        # Bounded: a list or watch request that swallowed its cancellation must not hold up a stop.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.informer.stop(), INFORMER_STOP_TIMEOUT)

    async def wait_synced(self, timeout: float) -> bool:
        return await self.informer.wait_for_sync(timeout)

    async def _register_until_done(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.presence.register(await self.health())
                await self.presence.renew_lease()
                return
            except (ApiError, OSError, TimeoutError) as error:
                log.warning("node registration failed", node=self.name, error=repr(error))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _every(self, period: float, step: Callable[[], Awaitable[None]], first: float) -> None:
        await asyncio.sleep(first * period)  # staggered, so hollow nodes do not all fire together
        while not self._stopping:
            if not self.crashed:
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning("node loop failed", node=self.name, step=step.__name__, error=repr(error))
            await asyncio.sleep(period)

    async def _heartbeat(self) -> None:
        if self.connected:
            await self.presence.renew_lease()

    async def _report(self) -> None:
        if self.connected:
            was_ready = self.presence.ready
            await self.presence.report(await self.health())
            self._node_readiness(was_ready)

    def _node_ref(self) -> ev.Involved:
        # As Kubernetes: an event about a node names the node as its uid.
        return ev.Involved("Node", "", self.name, self.name)

    def _node_readiness(self, was_ready: bool | None) -> None:
        """``NodeReady``/``NodeNotReady`` when the Ready status last reported changed."""
        ready = self.presence.ready
        if self.options.node_events and ready is not None and ready is not was_ready:
            reason = "NodeReady" if ready else "NodeNotReady"
            self.events.event(self._node_ref(), ev.NORMAL, reason, ev.node_status_message(self.name, ready))

    async def health(self) -> NodeHealth:
        try:
            version = await self.runtime.version()
        except RUNTIME_ERRORS as error:
            return NodeHealth(runtime_ok=False, runtime_message=_describe(error))
        available: int | None = None
        with contextlib.suppress(*RUNTIME_ERRORS):
            used = sum(s.memory_bytes for s in await self.runtime.container_stats())
            available = self.config.allocatable()[RESOURCE_MEMORY].value() - used
        return NodeHealth(
            runtime_ok=True, runtime_version=version.runtime_version, memory_available=available
        )

    # --- pods --------------------------------------------------------------------------------------

    def _admit(self, pod: Pod, record: PodRecord) -> AdmitResult:
        return admit(pod, self._admitted_pods(exclude=record.uid), self.config.allocatable())

    def _admitted_pods(self, exclude: str = "") -> list[Pod]:
        pods = []
        for key, other in self.records.items():
            obj = self.informer.get_by_key(key)
            if other.admitted and not other.terminal and other.uid != exclude and obj is not None:
                pods.append(Pod.model_validate(obj))
        return pods

    async def _sync(self, key: str) -> float | None:
        obj = self.informer.get_by_key(key)
        record = self.records.get(key)
        if record is not None and (obj is None or obj["metadata"].get("uid") != record.uid):
            await self.syncer.remove(record)
            del self.records[key]
            self.statuses.forget(key)
            record = None
        if obj is None:
            return DONE
        pod = Pod.model_validate(obj)
        if record is None:
            record = self.records[key] = new_record(pod, self.policy, self.clock.now())
        if pod.metadata.deletion_timestamp is None:
            return await self.syncer.sync(pod, record)
        if not record.deleting:
            await self.syncer.terminate(pod, record)
        if self.connected:
            with contextlib.suppress(ApiError):
                await self.api.delete(PODS, record.name, record.namespace, grace_period_seconds=0)
        return None  # the informer's DELETED event brings the last sync, which removes the sandbox

    async def _relist(self) -> None:
        """PLEG: wake the worker of every pod whose containers the runtime shows differently from what the
        worker last saw (an exit, a kill, a container lost with a restarted runtime)."""
        try:
            containers = await self.runtime.list_containers()
        except RUNTIME_ERRORS:
            self._relist_failed = True
            raise
        seen = {c.id: c.state for c in containers}
        recovered, self._relist_failed = self._relist_failed, False
        for key, record in list(self.records.items()):
            if recovered or any(
                c.current is not None and seen.get(c.container_id) != c.current.state
                for c in record.containers()
            ):
                self.workers.wake(key)

    async def _housekeeping(self) -> None:
        """Once the pods are listed: remove sandboxes of pods that are gone (deleted while away)."""
        while not self.informer.has_synced:
            await asyncio.sleep(0.1)
        with contextlib.suppress(*RUNTIME_ERRORS):
            await self.remove_orphans()

    async def remove_orphans(self) -> int:
        known = {str(obj["metadata"].get("uid")) for obj in self.informer.list()}
        known |= {record.uid for record in self.records.values()}
        removed = 0
        for sandbox in await self.runtime.list_pod_sandboxes():
            if sandbox.config.uid not in known:
                await self.runtime.stop_pod_sandbox(sandbox.id)
                await self.runtime.remove_pod_sandbox(sandbox.id)
                self.ipam.release(sandbox.config.uid)
                removed += 1
                log.info(
                    "orphan sandbox removed",
                    node=self.name,
                    pod=f"{sandbox.config.namespace}/{sandbox.config.name}",
                )
        return removed

    # --- stats -------------------------------------------------------------------------------------

    async def stats(self) -> NodeStats:
        pods = self._admitted_pods()
        requested = used_resources(pods)
        requested["pods"] = len(pods)
        running = [
            (r.sandbox_id, r.namespace, r.name, r.uid)
            for r in self.records.values()
            if r.sandbox_id and not r.terminal
        ]
        return node_stats(
            self.name,
            self.clock.now(),
            self.config.capacity(),
            self.config.allocatable(),
            requested,
            running,
            await self.runtime.container_stats(),
        )


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
