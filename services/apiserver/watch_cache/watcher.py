"""A client's watch on the watch cache: a backlog fixed at creation, then live events from a bounded queue."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self

from services.apiserver.watch_cache.events import Filter, WatchEventDict
from shared.logging import get_logger

log = get_logger(__name__)

History = asyncio.Task[list[WatchEventDict] | None]
"""Events the cache reads from etcd before the backlog (see ``history.py``); None: too old after all."""


class CacheWatcher:
    """One client watch: ``async for event in watcher`` yields ``{"type": ..., "object": ...}`` dicts.

    It first yields its backlog — the initial ADDED events, or the buffered events after its
    resourceVersion (preceded, for a resourceVersion from before the cache's window, by the ``history``
    read from etcd, or replaced by the ``expired`` ERROR when that history is not to be had), or a
    single ERROR — then live events. It ends after an ERROR, after :meth:`close`, when the cache stops,
    when it fell ``queue_size`` live events behind, or when its history read failed; :attr:`reason` then
    says which (``"expired"``, ``"closed"``, ``"stopped"``, ``"overflow"``, ``"unavailable"``). Except
    after :meth:`close`, what was already queued is still yielded before the end — but never live events
    without the history before them. ``async with watcher:`` closes it on leaving.
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
        history: History | None = None,
        expired: WatchEventDict | None = None,
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
        self._history = history
        self._history_pending = history is not None
        self._expired = expired

    @classmethod
    def ended(cls, event: WatchEventDict, reason: str) -> CacheWatcher:
        """A watcher that yields ``event`` and ends (how an expired resourceVersion is answered)."""
        watcher = cls(iter([event]))
        watcher.end(reason)
        return watcher

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEventDict:
        if self._history_pending:
            await self._take_history()
        event = next(self._backlog, None)
        if event is not None:
            return event
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    async def _take_history(self) -> None:
        assert self._history is not None
        self._history_pending = False
        # wait(), not await: a close() meanwhile cancels the read, and that must end this watch quietly.
        await asyncio.wait([self._history])
        if self._history.cancelled():  # ended meanwhile: nothing may follow the missing history
            self._stop("closed", None)
        elif (error := self._history.exception()) is not None:
            log.warning("watch history read failed", error=repr(error))
            self._stop("unavailable", None)
        elif (events := self._history.result()) is None:
            self._stop("expired", self._expired)
        else:
            self._backlog = itertools.chain(events, self._backlog)

    def _stop(self, reason: str, last: WatchEventDict | None) -> None:
        self._backlog = iter(() if last is None else (last,))
        self._queue.clear()
        if self._forget is not None:
            self._forget(self)
        self.end(reason)

    def close(self) -> None:
        """Stop watching: the iteration ends at once, dropping what was queued. Idempotent."""
        self._stop("closed", None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the cache's side ---------------------------------------------------------------------------

    def end(self, reason: str) -> None:
        """Let the iteration end once the backlog and the queue are drained (a history read still under
        way is abandoned: the watch ends without it)."""
        if self._history is not None:
            self._history.cancel()
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
