"""A client's watch on the watch cache: a backlog fixed at creation, then live events from a bounded queue."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

from services.apiserver.watch_cache.events import Filter, WatchEventDict


class CacheWatcher:
    """One client watch: ``async for event in watcher`` yields ``{"type": ..., "object": ...}`` dicts.

    It first yields its backlog — the initial ADDED events, or the buffered events after its
    resourceVersion, or a single ERROR — then live events. It ends after an ERROR, after :meth:`close`,
    when the cache stops, or when it fell ``queue_size`` live events behind; :attr:`reason` then says
    which (``"expired"``, ``"closed"``, ``"stopped"``, ``"overflow"``). Except after :meth:`close`, what
    was already queued is still yielded before the end. ``async with watcher:`` closes it on leaving.
    """

    def __init__(
        self,
        backlog: Iterator[WatchEventDict],
        *,
        selection: Filter | None = None,
        after: int = 0,
        allow_bookmarks: bool = False,
        queue_size: int = 1,
        forget: Callable[[CacheWatcher], None] | None = None,
    ) -> None:
        self.selection = selection  # None only for a watcher that ends before it starts
        self.allow_bookmarks = allow_bookmarks
        self.reason = ""
        self.after = after  # live events at or below this revision are not for this watcher
        self.index: str | None = None  # the trigger value the cache filed it under, if any
        self._backlog = backlog
        self._queue: deque[WatchEventDict] = deque()
        self._queue_size = queue_size
        self._wakeup = asyncio.Event()
        self._forget = forget
        self._ended = False

    @classmethod
    def ended(cls, event: WatchEventDict, reason: str) -> CacheWatcher:
        """A watcher that yields ``event`` and ends (how an expired resourceVersion is answered)."""
        watcher = cls(iter([event]))
        watcher.end(reason)
        return watcher

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEventDict:
        event = next(self._backlog, None)
        if event is not None:
            return event
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def close(self) -> None:
        """Stop watching: the iteration ends at once, dropping what was queued. Idempotent."""
        self._backlog = iter(())
        self._queue.clear()
        if self._forget is not None:
            self._forget(self)
        self.end("closed")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the cache's side ---------------------------------------------------------------------------

    def end(self, reason: str) -> None:
        """Let the iteration end once the backlog and the queue are drained."""
        if not self._ended:
            self._ended, self.reason = True, reason
            self._wakeup.set()

    def deliver(self, event: WatchEventDict) -> bool:
        """Queue a live event; False when the queue is full (the cache then ends the watcher)."""
        if len(self._queue) >= self._queue_size:
            return False
        self._queue.append(event)
        self._wakeup.set()
        return True

    def offer_bookmark(self, rv: int, bookmark: WatchEventDict) -> None:
        # A bookmark is only a hint, so a full queue drops it instead of cutting the watcher off; and one
        # below the watcher's start would move the client's resourceVersion backwards.
        if self.allow_bookmarks and not self._ended and rv >= self.after:
            self.deliver(bookmark)
