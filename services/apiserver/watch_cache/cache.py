"""The watch cache of one resource: its objects and recent events, kept current by one etcd watch."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import suppress

from services.apiserver.watch_cache.events import (
    ANY_FIELDS,
    EVERYTHING,
    ChangeType,
    Entry,
    Event,
    FieldsOf,
    Filter,
    Obj,
    TooLargeResourceVersionError,
    WatchEventDict,
    bookmark_event,
    expired_event,
    selectable_fields,
    with_rv,
)
from services.apiserver.watch_cache.history import read_history
from services.apiserver.watch_cache.store import ObjectStore
from services.apiserver.watch_cache.watcher import CacheWatcher, History
from services.etcd.client.api import CompactedError, EtcdError, KVClient, Watch, WatchEvent, WatchResponse
from shared.clock import Clock, RealClock
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models.registry import RESOURCES
from shared.selectors import FieldSelectorExpr, LabelSelectorExpr

log = get_logger(__name__)

# Aliases, because inside WatchCache the name ``list`` is the method.
Objects = list[Obj]
Waiters = list[tuple[int, int, asyncio.Future[None]]]
Events = list[Event]
Watchers = list[CacheWatcher]
Seen = list[WatchEventDict]
RETRY_FIRST, RETRY_MAX = 0.1, 5.0
# Pod watches are mostly kubelets asking for their node's pods. Watchers pinned to one spec.nodeName are
# filed under it, so a pod event visits its node's watchers and not every kubelet's (Kubernetes' triggers).
TRIGGER_FIELDS = {"pods": "spec.nodeName"}


class WatchCache:
    """The objects of one resource and its last ``window`` events, from ``/registry/<resource>/``.

    ``queue_size`` bounds each watcher's queue of undelivered live events; ``clock`` paces the
    bookmarks. Until :meth:`start` returns the cache is empty and :meth:`watch` refuses.
    """

    def __init__(
        self,
        kv: KVClient,
        resource: str,
        *,
        window: int = 10_000,
        bookmark_interval: float = 5.0,
        clock: Clock | None = None,
        queue_size: int = 1024,
    ) -> None:
        if window < 1 or queue_size < 1:
            raise ValueError("window and queue_size must be at least 1")
        self.resource = resource
        self.prefix = f"/registry/{resource}/"
        self._kv = kv
        self._store = ObjectStore(self.prefix, self.fields_of)
        self._window = window
        self._bookmark_interval = bookmark_interval
        self._clock: Clock = clock or RealClock()
        self._queue_size = queue_size
        served = next((r for r in RESOURCES if r.plural == resource), None)
        self._kind, self._api_version = (served.kind, served.api_version) if served else ("", "")
        self._trigger = TRIGGER_FIELDS.get(resource)
        self._buffer: deque[Event] = deque(maxlen=window)
        self._rv = 0
        self._floor = 0  # every event after this revision is still in the buffer
        self._watchers: set[CacheWatcher] = set()
        self._unindexed: set[CacheWatcher] = set()
        self._by_trigger: dict[str, set[CacheWatcher]] = {}
        self._waiters: Waiters = []  # a heap of (revision awaited, order, future)
        self._order = itertools.count()
        self._watch: Watch | None = None
        self._relist_needed = False
        self._tasks: tuple[asyncio.Task[None], ...] = ()

    @property
    def resource_version(self) -> int:
        """The revision the cache reflects: every change to the resource up to it has been applied."""
        return self._rv

    @property
    def etcd_watch(self) -> Watch | None:
        """The etcd watch feeding the cache right now (None between two), for diagnostics and tests."""
        return self._watch

    def fields_of(self, obj: Obj) -> dict[str, str]:
        """:func:`selectable_fields` of this resource: what ``fields_of=None`` stands for."""
        return selectable_fields(self.resource, obj)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """List the prefix, create the etcd watch from the list's revision + 1, and follow it. Raises the
        etcd client's error if the store does not answer."""
        revision, entries = await self._store.read(self._kv)
        self._store.replace(entries)
        self._rv = self._floor = revision
        self._watch = await self._open_watch()
        self._tasks = (
            asyncio.create_task(self._follow(), name=f"watch-cache-{self.resource}"),
            asyncio.create_task(self._send_bookmarks(), name=f"watch-cache-bookmarks-{self.resource}"),
        )
        log.info("watch cache started", resource=self.resource, objects=len(entries), revision=revision)

    async def stop(self) -> None:
        """Stop following etcd; every watcher ends (``reason == "stopped"``) and freshness waits fail."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = ()
        await self._drop_watch()
        for watcher in list(self._watchers):
            self._forget(watcher)
            watcher.end("stopped")
        for _, _, future in self._waiters:
            if not future.done():
                future.set_exception(ApiError(503, f"the {self.resource} watch cache stopped"))
        self._waiters.clear()

    # --- reads --------------------------------------------------------------------------------------

    async def wait_until_fresh(self, rv: int, timeout: float) -> None:
        """Return once the cache reflects revision ``rv`` or later, or raise
        :class:`TooLargeResourceVersionError` after ``timeout`` seconds. With ``rv`` from a fresh etcd read
        this makes a cache read consistent; an idle resource advances only on etcd's progress notices,
        about once a second, so expect up to that long a wait."""
        if self._rv >= rv:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rv, next(self._order), future))
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise TooLargeResourceVersionError(wanted=rv, current=self._rv) from None

    def list(
        self,
        namespace: str | None = None,
        label_selector: LabelSelectorExpr = EVERYTHING,
        field_selector: FieldSelectorExpr = ANY_FIELDS,
        fields_of: FieldsOf | None = None,
    ) -> tuple[Objects, int]:
        """The matching objects in key order, and the cache's resourceVersion. ``namespace`` None or ``""``
        is all namespaces (and what a cluster-scoped resource takes); ``fields_of`` None is
        :meth:`fields_of`, whose results the cache holds already."""
        wanted = Filter(None, label_selector, field_selector, fields_of)
        return [entry.obj for entry in self._store.entries(namespace) if wanted.matches(entry)], self._rv

    def get(self, namespace: str | None, name: str) -> Obj | None:
        entry = self._store.get(self._store.key(namespace, name))
        return entry.obj if entry is not None else None

    def watch(
        self,
        from_rv: int = 0,
        namespace: str | None = None,
        label_selector: LabelSelectorExpr = EVERYTHING,
        field_selector: FieldSelectorExpr = ANY_FIELDS,
        fields_of: FieldsOf | None = None,
        *,
        send_initial_events: bool = False,
        allow_bookmarks: bool = False,
    ) -> CacheWatcher:
        """A watch of the matching objects (see :class:`CacheWatcher` for how it ends).

        ``from_rv == 0`` or ``send_initial_events``: an ADDED event per matching object in the cache now,
        then — for ``send_initial_events`` with ``allow_bookmarks`` — a BOOKMARK at the cache's revision
        annotated ``k8s.io/initial-events-end: "true"`` (as in Kubernetes, a plain ``from_rv == 0`` watch
        gets none), then live events. Otherwise every event after ``from_rv``, then live events: from the
        buffer, and — for a ``from_rv`` from before the cache started, while the buffer holds fewer than
        ``window`` events — first those up to the start from etcd's history (see ``history.py``). A
        ``from_rv`` older than the last ``window`` events gets one ERROR event, 410 Expired ``too old
        resource version: <from_rv> (<oldest it could resume from>)``, and the end; so does one whose
        history etcd has compacted. ``allow_bookmarks`` adds a BOOKMARK every ``bookmark_interval`` seconds.
        """
        if not self._tasks:
            raise RuntimeError(f"the {self.resource} watch cache is not running")
        wanted = Filter(namespace or None, label_selector, field_selector, fields_of)
        backlog: Iterator[WatchEventDict]
        history: History | None = None
        if from_rv == 0 or send_initial_events:
            # The snapshot is taken now, synchronously, so no event falls between it and the live ones.
            entries = self._store.entries(namespace)
            backlog = self._initial_events(wanted, entries, self._rv, allow_bookmarks and send_initial_events)
            after = self._rv
        elif from_rv < self._floor:
            # Never evicted, so the window has room: what it lacks is before the cache started.
            room = self._window - len(self._buffer)
            if room < 1:
                return CacheWatcher.ended(expired_event(from_rv, self._floor), "expired")
            # History up to the floor of now, the backlog from it: one bound for both, or an eviction
            # before the task runs would move the floor and deliver the events between twice.
            floor = self._floor
            history = asyncio.create_task(self._read_history(from_rv, floor, room, wanted))
            backlog, after = self._replay(floor, wanted), self._rv
        else:
            backlog, after = self._replay(from_rv, wanted), max(from_rv, self._rv)
        watcher = CacheWatcher(
            backlog,
            selection=wanted,
            after=after,
            allow_bookmarks=allow_bookmarks,
            queue_size=self._queue_size,
            forget=self._forget,
            history=history,
            expired=expired_event(from_rv, self._floor) if history is not None else None,
        )
        self._register(watcher)
        return watcher

    def _replay(self, from_rv: int, wanted: Filter) -> Iterator[WatchEventDict]:
        """The buffered events after ``from_rv`` as ``wanted`` sees them, picked now, converted lazily."""
        replay: Events = []
        for event in reversed(self._buffer):
            if event.rv <= from_rv:
                break
            replay.append(event)
        return (seen for event in reversed(replay) if (seen := wanted.convert(event)) is not None)

    async def _read_history(self, from_rv: int, floor: int, room: int, wanted: Filter) -> Seen | None:
        """The events in ``(from_rv, floor]`` from etcd's history, as ``wanted`` sees them; None if they
        are more than ``room`` or compacted."""
        events = await read_history(self._kv, self._store, from_rv, floor, room)
        log.info(
            "watch resumed from etcd history",
            resource=self.resource,
            resource_version=from_rv,
            floor=floor,
            events=0 if events is None else len(events),
            expired=events is None,
        )
        if events is None:
            return None
        return [seen for event in events if (seen := wanted.convert(event)) is not None]

    def _initial_events(
        self, wanted: Filter, entries: Iterable[Entry], rv: int, end_bookmark: bool
    ) -> Iterator[WatchEventDict]:
        # Filtered lazily, as the watcher's consumer pulls, so a big initial list costs the cache nothing.
        for entry in entries:
            if wanted.matches(entry):
                yield {"type": "ADDED", "object": entry.obj}
        if end_bookmark:
            yield bookmark_event(self._kind, self._api_version, rv, initial_events_end=True)

    # --- watchers -----------------------------------------------------------------------------------

    def _register(self, watcher: CacheWatcher) -> None:
        self._watchers.add(watcher)
        selection = watcher.selection
        if self._trigger is not None and selection is not None and selection.fields_of is None:
            watcher.index = selection.fields.requires_exact_match(self._trigger)
        if watcher.index is None:
            self._unindexed.add(watcher)
        else:
            self._by_trigger.setdefault(watcher.index, set()).add(watcher)

    def _forget(self, watcher: CacheWatcher) -> None:
        self._watchers.discard(watcher)
        self._unindexed.discard(watcher)
        if watcher.index is not None and (filed := self._by_trigger.get(watcher.index)) is not None:
            filed.discard(watcher)
            if not filed:
                del self._by_trigger[watcher.index]

    def _candidates(self, event: Event) -> Watchers:
        found: Watchers = [*self._unindexed]
        if self._trigger is not None:
            values = {entry.fields.get(self._trigger, "") for entry in (event.cur, event.prev) if entry}
            for value in values:
                found.extend(self._by_trigger.get(value, ()))
        return found

    def _record(self, event: Event) -> None:
        """Buffer ``event`` and hand it to every watcher that sees it; end those that cannot keep up."""
        if len(self._buffer) == self._window:
            self._floor = self._buffer[0].rv  # about to be evicted: nobody can resume from before it now
        self._buffer.append(event)
        for watcher in self._candidates(event):
            if event.rv <= watcher.after or watcher.selection is None:
                continue
            seen = watcher.selection.convert(event)
            if seen is not None and not watcher.deliver(seen):
                log.warning("watcher too slow, terminated", resource=self.resource, queued=self._queue_size)
                self._forget(watcher)
                watcher.end("overflow")

    async def _send_bookmarks(self) -> None:
        while True:
            await self._clock.sleep(self._bookmark_interval)
            bookmark = bookmark_event(self._kind, self._api_version, self._rv)
            for watcher in [*self._watchers]:
                watcher.offer_bookmark(self._rv, bookmark)

    # --- following etcd -----------------------------------------------------------------------------

    async def _open_watch(self) -> Watch:
        return await self._kv.watch(self.prefix, prefix=True, start_revision=self._rv + 1, prev_kv=True)

    async def _follow(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                if self._relist_needed:
                    await self._relist()
                if self._watch is None:
                    self._watch = await self._open_watch()
                async for response in self._watch:
                    delay = RETRY_FIRST
                    if response.canceled:
                        self._relist_needed = response.compact_revision > 0
                        log.info("etcd watch canceled", resource=self.resource, compacted=self._relist_needed)
                        break
                    self._apply(response)
                if not self._relist_needed:
                    await asyncio.sleep(delay)  # ended by the store for no reason we know: do not spin
                    delay = min(delay * 2, RETRY_MAX)
            except CompactedError:
                self._relist_needed = True
            except EtcdError as error:
                log.warning("etcd watch failed", resource=self.resource, error=error.message, retry_in=delay)
                # Real time, not the cache's clock: this waits on etcd, which lives in real time.
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
            except Exception:
                # A bug, or data we could not handle: start again from a list rather than stay wrong.
                log.exception("watch cache failed; re-listing", resource=self.resource)
                self._relist_needed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
            await self._drop_watch()

    async def _drop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            with suppress(ApiError):
                await watch.cancel()

    def _apply(self, response: WatchResponse) -> None:
        for change in response.events:
            self._apply_change(change)
        if not response.events:
            self._advance(response.header.revision)  # a progress notice: nothing more up to there

    def _apply_change(self, change: WatchEvent) -> None:
        key, rv = change.kv.key, change.kv.mod_revision
        namespace = self._store.namespace_of(key)
        if change.type == "PUT":
            entry = self._store.decode(change.kv)
            if entry is not None:
                created = change.kv.create_revision == rv
                prev = None if created else self._store.get(key)
                self._store.put(key, entry)
                self._record(Event("ADDED" if created else "MODIFIED", key, namespace, rv, entry, prev))
        else:
            held = self._store.remove(key)
            # The deleted object is etcd's prev_kv; the cache's copy is the same version, should that fail.
            last = (self._store.decode(change.prev_kv) if change.prev_kv else None) or held
            if last is not None:
                gone = Entry(with_rv(last.obj, rv), last.fields, rv)
                self._record(Event("DELETED", key, namespace, rv, gone, last))
        self._advance(rv)

    def _advance(self, rv: int) -> None:
        self._rv = max(self._rv, rv)
        while self._waiters and self._waiters[0][0] <= self._rv:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    async def _relist(self) -> None:
        """After a compaction: list again, and emit the difference from the cached state as events."""
        revision, entries = await self._store.read(self._kv)
        held = self._store.items()
        events: Events = []
        for key, entry in entries.items():
            old = held.get(key)
            if old is None or old.rv != entry.rv:
                kind: ChangeType = "ADDED" if old is None else "MODIFIED"
                events.append(Event(kind, key, self._store.namespace_of(key), entry.rv, entry, old))
        for key in held.keys() - entries.keys():
            old = held[key]
            gone = Entry(with_rv(old.obj, revision), old.fields, revision)
            events.append(Event("DELETED", key, self._store.namespace_of(key), revision, gone, old))
        # In revision order, so that a client's resourceVersion only ever moves forwards.
        events.sort(key=lambda event: (event.rv, event.key))
        self._store.replace(entries)
        for event in events:
            self._record(event)
        self._relist_needed = False
        self._advance(revision)
        log.info("watch cache re-listed", resource=self.resource, revision=revision, changes=len(events))
