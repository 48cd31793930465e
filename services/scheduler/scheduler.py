"""The scheduler: informer events feed the cache and the queue; the loop places one pod at a time.

Informer handlers run whether or not this replica leads, so a standby's cache and queue are current
when it takes over. :meth:`Scheduler.run` is the part that only the leader runs: pop a pod, run a
scheduling cycle on the cache (synchronously, so the view cannot change under it), assume the pod onto the
chosen node, and bind it in a background task so the next cycle starts at once. Cancelling ``run`` (the
lease was lost) cancels the bindings in flight and un-assumes their pods.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.scheduler.cache import SchedulerCache
from services.scheduler.events import EventRecorder, StatusWriter
from services.scheduler.framework import ClusterEvent, CycleState
from services.scheduler.nodeinfo import PodInfo
from services.scheduler.queue import QueuedPod, SchedulingQueue
from services.scheduler.runtime import FitError, Framework
from shared.apiclient import ApiClient
from shared.clock import Clock, RealClock
from shared.informer import Informer
from shared.logging import get_logger
from shared.models import Node

log = get_logger(__name__)

Object = dict[str, Any]
TERMINAL_PHASES = ("Succeeded", "Failed")


def _spec(obj: Object) -> Object:
    return obj.get("spec") or {}


def _meta(obj: Object) -> Object:
    return obj.get("metadata") or {}


def is_assigned(obj: Object) -> bool:
    return bool(_spec(obj).get("nodeName"))


def is_terminal(obj: Object) -> bool:
    return (obj.get("status") or {}).get("phase") in TERMINAL_PHASES


class Scheduler:
    def __init__(
        self,
        client: ApiClient,
        framework: Framework,
        *,
        identity: str,
        clock: Clock | None = None,
        max_binds: int = 64,
    ) -> None:
        self.client = client
        self.framework = framework
        self.identity = identity
        self.clock = clock or RealClock()
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(self.clock, events_for=framework.events_for)
        self.recorder = EventRecorder(client, identity, self.clock)
        self.status = StatusWriter(client, self.clock)
        self.pods: Informer | None = None
        self._bind_slots = asyncio.Semaphore(max_binds)
        self._binds: set[asyncio.Task[None]] = set()
        self.scheduled = 0
        self.failed = 0

    # --- informer handlers: keep the cache and the queue current -------------------------------------

    def attach(self, pods: Informer, nodes: Informer) -> None:
        self.pods = pods
        pods.add_handler(on_add=self.on_pod_add, on_update=self.on_pod_update, on_delete=self.on_pod_delete)
        nodes.add_handler(
            on_add=self.on_node_set, on_update=self.on_node_update, on_delete=self.on_node_delete
        )

    def responsible_for(self, obj: Object) -> bool:
        name = _spec(obj).get("schedulerName") or "default-scheduler"
        return name == self.framework.scheduler_name and not _meta(obj).get("deletionTimestamp")

    def on_pod_add(self, obj: Object) -> None:
        if is_assigned(obj):
            if not is_terminal(obj):
                self.cache.add_pod(PodInfo.of(obj))
                self.queue.move_on_event(ClusterEvent.POD_ADD)
        elif self.responsible_for(obj) and not is_terminal(obj):
            self.queue.add(PodInfo.of(obj))

    def on_pod_update(self, old: Object, new: Object) -> None:
        key = f"{_meta(new).get('namespace')}/{_meta(new).get('name')}"
        if is_assigned(new):
            self.queue.delete(key)
            if is_terminal(new):
                if self.cache.remove_pod(key):
                    self.queue.move_on_event(ClusterEvent.POD_DELETE)
                return
            self.cache.add_pod(PodInfo.of(new))
            if not is_assigned(old):
                self.queue.move_on_event(ClusterEvent.POD_ADD)
            elif _meta(old).get("labels") != _meta(new).get("labels"):
                self.queue.move_on_event(ClusterEvent.POD_LABEL)
        elif self.responsible_for(new) and not is_terminal(new):
            if old is new or _spec(old) != _spec(new) or _meta(old).get("labels") != _meta(new).get("labels"):
                self.queue.update(PodInfo.of(new))
        else:
            self.queue.delete(key)

    def on_pod_delete(self, obj: Object) -> None:
        key = f"{_meta(obj).get('namespace')}/{_meta(obj).get('name')}"
        self.queue.delete(key)
        if self.cache.remove_pod(key):
            self.queue.move_on_event(ClusterEvent.POD_DELETE)

    def on_node_set(self, obj: Object) -> None:
        for event in self.cache.set_node(Node.model_validate(obj)):
            self.queue.move_on_event(event)

    def on_node_update(self, old: Object, new: Object) -> None:
        self.on_node_set(new)

    def on_node_delete(self, obj: Object) -> None:
        self.cache.remove_node(str(_meta(obj).get("name")))

    # --- the scheduling loop (leader only) -------------------------------------------------------------

    async def run(self) -> None:
        """Schedule until cancelled; then stop the bindings in flight and hand their pods back."""
        log.info("scheduling started", identity=self.identity, **self.cache.counts(), **self.queue.pending())
        try:
            while True:
                queued = await self.queue.pop()
                self.schedule_one(queued)
                await asyncio.sleep(0)  # let informer events and bindings in between pods
        finally:
            binds = list(self._binds)
            for task in binds:
                task.cancel()
            await asyncio.gather(*binds, return_exceptions=True)
            for queued in list(self.queue.in_flight.values()):
                self.queue.done(queued.key)
                self.queue.add(queued.pod)
            log.info("scheduling stopped", identity=self.identity, scheduled=self.scheduled)

    def schedule_one(self, queued: QueuedPod) -> None:
        """One scheduling cycle: decide, assume, and start the binding. Never awaits."""
        pod = queued.pod
        if self._skip(pod):
            self.queue.done(pod.key)
            return
        state = CycleState()
        try:
            result = self.framework.schedule(pod, self.cache.snapshot(), state)
        except FitError as failure:
            self._failed(queued, str(failure), unschedulable_plugins=failure.diagnosis.unschedulable_plugins)
            return
        except Exception as failure:
            log.exception("scheduling cycle failed", pod=pod.key)
            self._failed(queued, f"running scheduling cycle: {failure!r}", unschedulable_plugins=None)
            return
        self.cache.assume(pod, result.node)
        reserved = self.framework.run_reserve(state, pod, result.node)
        if not reserved.ok:
            self.cache.forget(pod.key)
            self._failed(queued, reserved.message(), unschedulable_plugins={reserved.plugin})
            return
        task = asyncio.create_task(self._bind(queued, result.node, state), name=f"bind-{pod.key}")
        self._binds.add(task)
        task.add_done_callback(self._binds.discard)

    def _skip(self, pod: PodInfo) -> bool:
        """A pod deleted, bound or assumed since it was queued is not scheduled again."""
        if self.cache.pod(pod.key) is not None:
            return True
        if self.pods is None:
            return False
        current = self.pods.get(pod.namespace, pod.name)
        return current is None or is_assigned(current) or not self.responsible_for(current)

    async def _bind(self, queued: QueuedPod, node: str, state: CycleState) -> None:
        pod = queued.pod
        try:
            async with self._bind_slots:
                status = await self.framework.run_bind(pod, node)
        except BaseException:
            self.cache.forget(pod.key)
            self.framework.run_unreserve(state, pod, node)
            raise
        if status.ok:
            self.cache.finish_binding(pod.key)
            self.queue.done(pod.key)
            self.scheduled += 1
            log.debug("pod bound", pod=pod.key, node=node)
            self.recorder.event(pod.obj, "Normal", "Scheduled", f"Successfully assigned {pod.key} to {node}")
            return
        # The binding was refused: take the pod off the node again, which frees room for others too.
        if self.cache.forget(pod.key):
            self.queue.move_on_event(ClusterEvent.POD_DELETE)
        self.framework.run_unreserve(state, pod, node)
        log.warning("binding failed", pod=pod.key, node=node, error=status.message())
        self._failed(queued, status.message(), unschedulable_plugins=None)

    def _failed(self, queued: QueuedPod, message: str, *, unschedulable_plugins: set[str] | None) -> None:
        """Record why the pod was not placed, and queue it again: unschedulable until an event that may
        help it, or back-off after an error."""
        pod = queued.pod
        current = self.pods.get(pod.namespace, pod.name) if self.pods is not None else pod.obj
        if current is None or is_assigned(current) or pod.key not in self.queue.in_flight:
            self.queue.done(pod.key)  # deleted or bound meanwhile: nothing to report
            return
        self.failed += 1
        reason = "Unschedulable" if unschedulable_plugins is not None else "SchedulerError"
        log.info("pod unschedulable", pod=pod.key, reason=reason, why=message)
        self.recorder.event(current, "Warning", "FailedScheduling", message)
        self.status.unschedulable(current, reason, message)
        if unschedulable_plugins is not None:
            self.queue.add_unschedulable(queued, unschedulable_plugins)
        else:
            self.queue.add_backoff(queued)

    async def drain(self) -> None:
        """Wait (briefly) for event and status writes still in flight."""
        await self.recorder.background.drain()
        await self.status.background.drain()
