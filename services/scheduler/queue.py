"""The scheduling queue: an active queue, a back-off queue and the unschedulable pods, as Kubernetes' own.

* **active** — pods ready to be tried, highest ``spec.priority`` first, then the earliest queued.
* **back-off** — pods that failed recently and wait ``1 s × 2^(attempts−1)``, at most 10 s, before they
  may be tried again; they move to active when that time is up.
* **unschedulable** — pods that fit no node. They stay until a cluster event that could help them happens
  (the plugins that rejected a pod say which events those are), and then move to back-off, or straight to
  active if their back-off is over. As a safety net, a pod left there for 5 minutes is retried anyway.

A failure is filed with the *scheduling cycle* it was tried in. If a helpful event arrived while that
cycle ran, the pod goes to back-off instead of unschedulable, so an event that came too late for the
attempt is not lost (Kubernetes' ``moveRequestCycle``). The queue is driven from one event loop; the
methods taking ``now`` are pure bookkeeping, :meth:`pop` waits on the injected clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from services.scheduler.framework import ALL_EVENTS, ClusterEvent
from services.scheduler.nodeinfo import PodInfo
from shared.clock import Clock, RealClock

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 300.0

EventsFor = Callable[[set[str]], frozenset[ClusterEvent]]


class QueueClosedError(Exception):
    """The queue was closed while a caller waited in :meth:`SchedulingQueue.pop`."""


@dataclass(eq=False)
class QueuedPod:
    """A pod in the queue with its scheduling history."""

    pod: PodInfo
    timestamp: float
    """When it was last (re)queued, the tie-breaker after priority."""
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    cycle: int = 0
    """The scheduling cycle in which it was last popped."""
    unschedulable_since: float = 0.0
    token: int = 0
    """Which heap entry is current: a pod pushed again leaves its older entries behind, stale."""

    @property
    def key(self) -> str:
        return self.pod.key


class SchedulingQueue:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        events_for: EventsFor | None = None,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_in_unschedulable: float = MAX_IN_UNSCHEDULABLE,
    ) -> None:
        self.clock = clock or RealClock()
        self.events_for: EventsFor = events_for or (lambda plugins: ALL_EVENTS)
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._active: dict[str, QueuedPod] = {}
        self._active_heap: list[tuple[int, float, int, str]] = []
        self._backoff: dict[str, QueuedPod] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []
        self.unschedulable: dict[str, QueuedPod] = {}
        self.in_flight: dict[str, QueuedPod] = {}
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False

    # --- adding and removing -------------------------------------------------------------------------

    def add(self, pod: PodInfo) -> None:
        """A new (or newly seen) pending pod: active, unless the queue already holds it (then updated)."""
        if self._holds(pod.key):
            self.update(pod)
            return
        self._push_active(QueuedPod(pod, self.clock.monotonic()))

    def update(self, pod: PodInfo) -> None:
        """A pending pod changed. Its stored copy is replaced; an unschedulable one is tried again, since
        the change may be what it needed."""
        key = pod.key
        for where in (self._active, self._backoff, self.in_flight):
            if key in where:
                where[key].pod = pod
                return
        queued = self.unschedulable.pop(key, None)
        if queued is None:
            self.add(pod)
            return
        queued.pod = pod
        self._requeue(queued, self.clock.monotonic())

    def delete(self, key: str) -> None:
        """The pod is gone or bound: forget it wherever it is."""
        self._active.pop(key, None)
        self._backoff.pop(key, None)
        self.unschedulable.pop(key, None)
        self.in_flight.pop(key, None)

    def done(self, key: str) -> None:
        """The cycle of a popped pod is over (bound, or filed again by one of the ``add_*`` calls)."""
        self.in_flight.pop(key, None)

    # --- after a failed attempt ----------------------------------------------------------------------

    def add_unschedulable(self, queued: QueuedPod, plugins: Iterable[str]) -> None:
        """The pod fit nowhere in its cycle; park it until an event that ``plugins`` care about. A pod no
        longer in flight (deleted or bound meanwhile) is dropped."""
        if self.in_flight.pop(queued.key, None) is None:
            return
        queued.unschedulable_plugins = set(plugins)
        now = self.clock.monotonic()
        if self.move_request_cycle >= queued.cycle:
            self._push_backoff(queued, now)
        else:
            queued.timestamp = queued.unschedulable_since = now
            self.unschedulable[queued.key] = queued

    def add_backoff(self, queued: QueuedPod) -> None:
        """An error (or a failed bind): try again after the back-off (dropped if no longer in flight)."""
        if self.in_flight.pop(queued.key, None) is None:
            return
        self._push_backoff(queued, self.clock.monotonic())

    # --- events ---------------------------------------------------------------------------------------

    def move_on_event(self, event: ClusterEvent) -> int:
        """Move the unschedulable pods ``event`` could help; returns how many moved."""
        self.move_request_cycle = self.scheduling_cycle
        now = self.clock.monotonic()
        moving = [q for q in self.unschedulable.values() if event in self.events_for(q.unschedulable_plugins)]
        for queued in moving:
            del self.unschedulable[queued.key]
            self._requeue(queued, now)
        return len(moving)

    def flush(self, now: float) -> None:
        """Back-offs that are over go to active; pods unschedulable for too long are retried."""
        while self._backoff_heap and self._backoff_heap[0][0] <= now:
            _, token, key = heapq.heappop(self._backoff_heap)
            queued = self._backoff.get(key)
            if queued is not None and queued.token == token:
                self._push_active(queued)
        stale = [
            q for q in self.unschedulable.values() if now - q.unschedulable_since >= self.max_in_unschedulable
        ]
        for queued in stale:
            del self.unschedulable[queued.key]
            self._requeue(queued, now)

    # --- taking pods ------------------------------------------------------------------------------------

    def pop_nowait(self) -> QueuedPod | None:
        """The next active pod (now in flight, in a new scheduling cycle), or None."""
        while self._active_heap:
            _, _, seq, key = heapq.heappop(self._active_heap)
            queued = self._active.get(key)
            if queued is None or queued.token != seq:
                continue  # a stale heap entry: the pod was removed or re-pushed
            del self._active[key]
            self.scheduling_cycle += 1
            queued.cycle = self.scheduling_cycle
            queued.attempts += 1
            self.in_flight[key] = queued
            return queued
        return None

    async def pop(self) -> QueuedPod:
        """Wait for the next pod: woken by additions and by the earliest back-off ending."""
        while True:
            if self._closed:
                raise QueueClosedError()
            self.flush(self.clock.monotonic())
            queued = self.pop_nowait()
            if queued is not None:
                return queued
            self._wakeup.clear()
            deadline = self.next_deadline()
            waiter = asyncio.ensure_future(self._wakeup.wait())
            timer = (
                asyncio.ensure_future(self.clock.sleep(deadline - self.clock.monotonic()))
                if deadline
                else None
            )
            try:
                await asyncio.wait({waiter, *([timer] if timer else [])}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                if timer is not None:
                    timer.cancel()

    def next_deadline(self) -> float | None:
        """When the queue next changes by itself: the earliest back-off end or unschedulable timeout."""
        times = [self._backoff_heap[0][0]] if self._backoff_heap else []
        if self.unschedulable:
            oldest = min(q.unschedulable_since for q in self.unschedulable.values())
            times.append(oldest + self.max_in_unschedulable)
        return min(times) if times else None

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def backoff_duration(self, attempts: int) -> float:
        """1 s after the first failed attempt, doubling to at most 10 s."""
        if attempts <= 0:
            return 0.0
        return float(min(self.initial_backoff * 2 ** (attempts - 1), self.max_backoff))

    def pending(self) -> dict[str, int]:
        return {
            "active": len(self._active),
            "backoff": len(self._backoff),
            "unschedulable": len(self.unschedulable),
            "in_flight": len(self.in_flight),
        }

    def __contains__(self, key: str) -> bool:
        return self._holds(key)

    # --- internals -----------------------------------------------------------------------------------------

    def _holds(self, key: str) -> bool:
        return (
            key in self._active or key in self._backoff or key in self.unschedulable or key in self.in_flight
        )

    def _push_active(self, queued: QueuedPod) -> None:
        self._backoff.pop(queued.key, None)
        self._active[queued.key] = queued
        queued.token = next(self._seq)
        entry = (-queued.pod.priority, queued.timestamp, queued.token, queued.key)
        heapq.heappush(self._active_heap, entry)
        self._wakeup.set()

    def _push_backoff(self, queued: QueuedPod, now: float) -> None:
        queued.timestamp = now
        self._push_backoff_until(queued, now + self.backoff_duration(queued.attempts))

    def _requeue(self, queued: QueuedPod, now: float) -> None:
        """Back to back-off if its back-off is not over yet, else to active."""
        if now < queued.timestamp + self.backoff_duration(queued.attempts):
            self._push_backoff_until(queued, queued.timestamp + self.backoff_duration(queued.attempts))
        else:
            queued.timestamp = now
            self._push_active(queued)

    def _push_backoff_until(self, queued: QueuedPod, expires: float) -> None:
        self._active.pop(queued.key, None)
        self._backoff[queued.key] = queued
        queued.token = next(self._seq)
        heapq.heappush(self._backoff_heap, (expires, queued.token, queued.key))
        self._wakeup.set()
