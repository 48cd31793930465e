"""The delaying work queue: a :class:`WorkQueue` whose keys can also be added after a delay.

As client-go's ``DelayingInterface``: waiting keys sit in a heap ordered by the time they become ready,
one timer task sleeps on the injected :class:`~shared.clock.Clock` until the earliest of them, and a key
asked for twice keeps only its earliest deadline. Tests pass a ``VirtualClock`` and move time with
``advance``; nothing here sleeps on the real clock unless given it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from shared.clock import Clock
from shared.workqueue.queue import K, WorkQueue


class DelayingQueue(WorkQueue[K]):
    """A :class:`WorkQueue` with :meth:`add_after`; must be used from within a running event loop."""

    def __init__(self, *, clock: Clock | None = None, name: str = "") -> None:
        super().__init__(clock=clock, name=name)
        # A heap of (ready_at, seq, key). Moving a key to an earlier deadline pushes a new entry and leaves
        # the old one behind; _ready_at names the live entry so the stale one is skipped when popped.
        self._waiting: list[tuple[float, int, K]] = []
        self._ready_at: dict[K, tuple[float, int]] = {}
        self._seq = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._retries = 0

    def add_after(self, key: K, seconds: float) -> None:
        """Add ``key`` once ``seconds`` have passed on the clock; at once if ``seconds <= 0``.

        If ``key`` is already waiting, the earlier of the two deadlines wins and the later request is
        dropped. A waiting key is not yet queued: ``len()`` does not count it and an ``add(key)`` meanwhile
        queues it independently. Ignored after shut down, and waiting keys are dropped by it.
        """
        if self.shutting_down:
            return
        self._retries += 1
        if seconds <= 0:
            self.add(key)
            return
        ready_at = self._clock.monotonic() + seconds
        current = self._ready_at.get(key)
        if current is not None and current[0] <= ready_at:
            return
        seq = next(self._seq)
        heapq.heappush(self._waiting, (ready_at, seq, key))
        self._ready_at[key] = (ready_at, seq)
        if self._waiting[0][1] == seq:
            # The new key is due before whatever the timer sleeps towards: sleep again, to it.
            if self._timer is not None:
                self._timer.cancel()
            self._timer = asyncio.get_running_loop().create_task(
                self._run_timer(), name=f"workqueue-timer-{self.name}"
            )

    def shut_down(self) -> None:
        super().shut_down()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._ready_at.clear()

    @property
    def waiting(self) -> int:
        """Keys waiting for their :meth:`add_after` deadline."""
        return len(self._ready_at)

    @property
    def retries(self) -> int:
        """Delayed adds accepted (``add_after`` and ``add_rate_limited``), as client-go counts retries."""
        return self._retries

    async def _run_timer(self) -> None:
        # Pops entries in deadline order, sleeping until each is due; re-checks after every sleep because
        # a sleep may end a hair early on a real clock and an entry may have gone stale meanwhile.
        while self._waiting:
            ready_at, seq, key = self._waiting[0]
            live = self._ready_at.get(key)
            if live is None or live[1] != seq:
                heapq.heappop(self._waiting)
                continue
            delay = ready_at - self._clock.monotonic()
            if delay > 0:
                await self._clock.sleep(delay)
                continue
            heapq.heappop(self._waiting)
            del self._ready_at[key]
            self.add(key)
        if self._timer is asyncio.current_task():
            self._timer = None
