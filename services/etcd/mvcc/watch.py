"""The watchable side of the store: watchers over a key or range, fed every change in revision order.

Watchers are in one of two groups, as in etcd's ``watchable_store.go``:

- *synced*: it has every event up to the store's revision, so it gets each new change as it is
  applied, from :meth:`WatchableStore.notify`;
- *unsynced*: it started at a past revision (or fell behind when a snapshot replaced the store) and
  is caught up from the store's history by :meth:`WatchableStore.sync`, at most ``batch_revisions``
  revisions per watcher per call, so one old watcher cannot stall the others; once it reaches the
  store's revision it joins the synced group.

A watcher is in exactly one group and ``next_revision`` is the first revision it has not been given,
so each revision's events reach it exactly once and in order. A watcher whose ``next_revision`` falls
below the compact revision cannot be caught up: :meth:`sync` cancels it with ``compact_revision``, and
the client re-lists (Kubernetes' 410).

Nothing is sent from here: every method returns :class:`WatchResponse` values and the caller (the NATS
adapter) delivers them, numbering them with ``seq``. Watchers are local to the member serving them;
they are not replicated and not in snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.etcd.mvcc.kv import KVStore
from services.etcd.mvcc.types import Event, Wire, header
from services.etcd.mvcc.wire import ALL_KEYS

BATCH_REVISIONS = 1000
"""Revisions one catch-up step reads for one watcher (etcd's ``watchBatchMaxRevs``)."""
MAX_WATCHERS_PER_SYNC = 512
"""Unsynced watchers one :meth:`WatchableStore.sync` call advances (etcd's ``maxWatchersPerSync``)."""


@dataclass(slots=True)
class Watcher:
    id: int
    key: str
    range_end: str | None
    prev_kv: bool
    next_revision: int
    """The first revision whose events this watcher has not been given."""

    def matches(self, key: str) -> bool:
        if self.range_end is None:
            return key == self.key
        return self.key <= key and (self.range_end == ALL_KEYS or key < self.range_end)


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """One message for one watcher: events (maybe none: a progress notice) or a cancellation."""

    watch_id: int
    revision: int
    """The store's revision when the message was made (the header revision)."""
    events: list[Event] = field(default_factory=list)
    compact_revision: int = 0
    canceled: bool = False

    def to_wire(self) -> Wire:
        if self.canceled:
            return {"watch_id": self.watch_id, "compact_revision": self.compact_revision, "canceled": True}
        return {
            "watch_id": self.watch_id,
            "header": header(self.revision),
            "events": [ev.to_wire() for ev in self.events],
        }


class WatchableStore:
    """The watchers of one member over one :class:`KVStore`."""

    def __init__(
        self,
        kv: KVStore,
        batch_revisions: int = BATCH_REVISIONS,
        max_watchers_per_sync: int = MAX_WATCHERS_PER_SYNC,
    ) -> None:
        self.kv = kv
        self.batch_revisions = batch_revisions
        self.max_watchers_per_sync = max_watchers_per_sync
        self._next_id = 1
        self._unsynced: dict[int, Watcher] = {}
        # Synced watchers, split so that an event finds single-key watchers by dict lookup.
        self._by_key: dict[str, dict[int, Watcher]] = {}
        self._ranges: dict[int, Watcher] = {}

    def __len__(self) -> int:
        return len(self._unsynced) + len(self._ranges) + sum(len(ws) for ws in self._by_key.values())

    @property
    def has_unsynced(self) -> bool:
        """True while some watcher still needs :meth:`sync` calls to catch up (or to be cancelled)."""
        return bool(self._unsynced)

    def is_synced(self, watch_id: int) -> bool:
        return watch_id in self._ranges or any(watch_id in ws for ws in self._by_key.values())

    def watch(
        self, key: str, range_end: str | None = None, start_revision: int = 0, prev_kv: bool = False
    ) -> int:
        """Add a watcher from ``start_revision`` (<= 0: the next change); returns its id. A start in the
        past makes it unsynced, so call :meth:`sync` next; a start below the compact revision ends in a
        cancellation from :meth:`sync`."""
        watch_id = self._next_id
        self._next_id += 1
        current = self.kv.revision
        if 0 < start_revision <= current:
            self._unsynced[watch_id] = Watcher(watch_id, key, range_end, prev_kv, start_revision)
        else:
            self._add_synced(Watcher(watch_id, key, range_end, prev_kv, max(start_revision, current + 1)))
        return watch_id

    def cancel(self, watch_id: int) -> bool:
        """Remove a watcher; False if there is none with that id."""
        if self._unsynced.pop(watch_id, None) is not None or self._ranges.pop(watch_id, None) is not None:
            return True
        for key, ws in self._by_key.items():
            if ws.pop(watch_id, None) is not None:
                if not ws:
                    del self._by_key[key]
                return True
        return False

    def _add_synced(self, w: Watcher) -> None:
        if w.range_end is None:
            self._by_key.setdefault(w.key, {})[w.id] = w
        else:
            self._ranges[w.id] = w

    def _synced(self) -> list[Watcher]:
        return [*self._ranges.values(), *(w for ws in self._by_key.values() for w in ws.values())]

    def notify(self, events: Sequence[Event]) -> list[WatchResponse]:
        """Hand just-applied events (in revision order) to the synced watchers they concern."""
        if not events:
            return []
        per_watcher: dict[int, list[Event]] = {}
        watchers: dict[int, Watcher] = {}
        for ev in events:
            key = ev.kv.key
            for w in (*self._by_key.get(key, {}).values(), *self._ranges.values()):
                # A watcher created with a future start skips what comes before it.
                if ev.revision >= w.next_revision and w.matches(key):
                    per_watcher.setdefault(w.id, []).append(ev if w.prev_kv else _without_prev(ev))
                    watchers[w.id] = w
        last = events[-1].revision
        for w in watchers.values():
            w.next_revision = max(w.next_revision, last + 1)
        revision = self.kv.revision
        return [WatchResponse(wid, revision, evs) for wid, evs in sorted(per_watcher.items())]

    def sync(self) -> list[WatchResponse]:
        """Advance up to ``max_watchers_per_sync`` unsynced watchers by one batch each, oldest watcher
        first; cancels those whose start is compacted. Call until :attr:`has_unsynced` is False."""
        responses = []
        current, compacted = self.kv.revision, self.kv.compact_revision
        for w in [self._unsynced[i] for i in sorted(self._unsynced)[: self.max_watchers_per_sync]]:
            if w.next_revision < compacted:
                del self._unsynced[w.id]
                responses.append(WatchResponse(w.id, current, compact_revision=compacted, canceled=True))
                continue
            end = min(current, w.next_revision + self.batch_revisions - 1)
            if end >= w.next_revision:
                events = self.kv.history(w.next_revision, end, w.matches, w.prev_kv)
                w.next_revision = end + 1
                if events:
                    responses.append(WatchResponse(w.id, current, events))
            if w.next_revision > current:
                del self._unsynced[w.id]
                self._add_synced(w)
        return responses

    def progress(self) -> list[WatchResponse]:
        """Empty responses for every synced watcher, telling it the store's revision (unsynced watchers
        are behind it, so they get none, as in etcd)."""
        revision = self.kv.revision
        return [WatchResponse(w.id, revision) for w in sorted(self._synced(), key=lambda w: w.id)]

    def unsync_all(self) -> None:
        """Move every synced watcher to the unsynced group; called just before a snapshot replaces the
        store, after which they catch up from the new history (or are cancelled if it is compacted)."""
        after = self.kv.revision + 1
        for w in self._synced():
            w.next_revision = max(w.next_revision, after)
            self._unsynced[w.id] = w
        self._by_key.clear()
        self._ranges.clear()


def _without_prev(ev: Event) -> Event:
    return ev if ev.prev_kv is None else Event(ev.type, ev.kv)
