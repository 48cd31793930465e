"""The basic work queue: a FIFO of keys that collapses duplicates and never hands one key to two workers.

The guarantees are client-go's ``util/workqueue`` ``Type``: a key is *dirty* from ``add`` until a worker
takes it, *processing* from ``get`` until ``done``. Adding a dirty key does nothing (it is processed once);
adding a processing key marks it dirty and it is queued again only when ``done`` is called, so the later
add is not lost and no second worker sees the key while the first still holds it.

The queue is driven from one event loop and is not thread-safe: asyncio's single thread stands in for the
mutex client-go needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from shared.clock import Clock, RealClock

K = TypeVar("K", bound=Hashable)


class ShutDownError(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down and no key is left to hand out."""


class WorkQueue(Generic[K]):
    """A FIFO work queue of hashable keys with at most one worker per key.

    Contract, for every key ``k``:

    * ``add(k)`` while ``k`` is queued does nothing: duplicates collapse while waiting.
    * ``add(k)`` while ``k`` is being processed queues ``k`` again when ``done(k)`` is called, once however
      many times it was added meanwhile.
    * ``get()`` hands keys out in the order they were queued and moves them to *processing*; the caller must
      call ``done(k)`` when it has finished, or ``k`` is never handed out again.

    Shutting down follows client-go's ``ShutDown``: new adds are ignored, but keys already queued (and dirty
    keys re-queued by ``done``) are still handed out; ``get()`` raises :class:`ShutDownError` only when
    nothing is left, so workers drain the queue and then stop.
    """

    def __init__(self, *, clock: Clock | None = None, name: str = "") -> None:
        self.name = name
        self._clock: Clock = clock or RealClock()
        self._queue: deque[K] = deque()  # every key here is dirty and not processing
        self._dirty: set[K] = set()  # keys that need processing: queued, or re-added while processing
        self._processing: dict[K, float] = {}  # key → monotonic time its worker took it
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._shutting_down = False
        self._adds = 0

    def add(self, key: K) -> None:
        """Mark ``key`` as needing processing; ignored after shut down."""
        if self._shutting_down or key in self._dirty:
            return
        self._adds += 1
        self._dirty.add(key)
        if key in self._processing:
            return  # queued by done(), so the key's current worker stays the only one
        self._queue.append(key)
        self._wake_one_getter()

    async def get(self) -> K:
        """Wait for the next key and mark it processing; the caller must call :meth:`done` with it.

        Raises :class:`ShutDownError` when the queue is shut down and empty, waking waiting getters for it.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDownError(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    # Woken for a key this getter will now never take: pass the wake-up on, or the key
                    # could sit in the queue while other getters sleep.
                    self._wake_one_getter()
                else:
                    with contextlib.suppress(ValueError):
                        self._getters.remove(waiter)
                raise
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing[key] = self._clock.monotonic()
        return key

    def done(self, key: K) -> None:
        """Finish processing ``key``; queue it again if it was added meanwhile. No-op if not processing."""
        if self._processing.pop(key, None) is None:
            return
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one_getter()
        self._notify_drain_waiters()

    def shut_down(self) -> None:
        """Ignore new adds and make getters raise :class:`ShutDownError` once the queue is empty."""
        self._shutting_down = True
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until no key is queued or processing (client-go's ``ShutDownWithDrain``).

        Waits forever if nobody takes and finishes the remaining keys, so call it with workers running.
        """
        self.shut_down()
        while self._queue or self._processing:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """The number of keys queued and waiting for a worker (not those being processed)."""
        return len(self._queue)

    # Metrics, after client-go's workqueue metrics.

    @property
    def depth(self) -> int:
        """Keys waiting for a worker; the same as ``len(queue)``."""
        return len(self._queue)

    @property
    def adds(self) -> int:
        """Adds accepted since creation; collapsed duplicates and adds after shut down do not count."""
        return self._adds

    @property
    def processing(self) -> int:
        """Keys handed to workers and not yet done."""
        return len(self._processing)

    @property
    def longest_running_processor(self) -> float:
        """Seconds the oldest unfinished ``get`` has been held; 0 when nothing is processing."""
        if not self._processing:
            return 0.0
        return self._clock.monotonic() - min(self._processing.values())

    def _wake_one_getter(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _notify_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
