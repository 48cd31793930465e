"""The multi-version key-value store: every version of every key since the last compaction, by revision.

Layout (etcd's ``kvstore.go`` with its B-tree and bolt backend turned into Python structures):

- ``_log``: main revision -> the key-value records written at it, indexed by sub revision. A record is
  either a version of a key or a tombstone (a delete). This is the history reads at past revisions and
  watchers catching up are served from; compaction removes the records nobody can ask for any more.
- ``_index``: key -> :class:`KeyIndex`, the revisions of that key; ``_keys``: the same keys, sorted, so
  a range ``[key, range_end)`` is two binary searches. Reads at past revisions go this way.
- ``_current`` and ``_live``: the live version of every existing key, and those keys sorted. Most reads
  are at the current revision (every Kubernetes list and get), and these answer them without touching
  the history: a count is two binary searches and a limited list costs its limit, not the range's size.

The store starts at revision 1 with nothing in it, and a write that changes anything takes the next
revision, so the first put is at revision 2 (etcd's numbering, which clients can observe). A write that
changes nothing (a delete that matched no key, a txn whose branch only reads) takes no revision.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from itertools import takewhile
from typing import Any

from services.etcd.mvcc.errors import CompactedError, FutureRevisionError, LeaseNotFoundError
from services.etcd.mvcc.key_index import KeyIndex
from services.etcd.mvcc.lessor import NO_LEASE, Lessor
from services.etcd.mvcc.requests import Op, PutRequest, RangeRequest
from services.etcd.mvcc.revision import Revision
from services.etcd.mvcc.txn import Compare, check_ops
from services.etcd.mvcc.types import (
    CompactResult,
    DeleteRangeResult,
    Event,
    EventType,
    KeyValue,
    OpResult,
    PutResult,
    RangeResult,
    TxnResult,
)
from services.etcd.mvcc.wire import ALL_KEYS


class KVStore:
    """Range, put, delete_range, txn and compact with etcd's semantics. Not thread-safe: one caller."""

    def __init__(self, lessor: Lessor | None = None) -> None:
        self.lessor = lessor if lessor is not None else Lessor()
        self._index: dict[str, KeyIndex] = {}
        self._keys: list[str] = []
        self._current: dict[str, KeyValue] = {}
        self._live: list[str] = []
        self._log: dict[int, list[KeyValue | None]] = {}
        self._revision = 1
        self._compact_revision = -1
        self._changes: list[Event] = []  # of the write in progress
        self._events: list[Event] = []  # of finished writes, until drain_events()

    @property
    def revision(self) -> int:
        """The revision of the last write (1 for an empty store)."""
        return self._revision

    @property
    def compact_revision(self) -> int:
        """The revision of the last compaction, -1 if none: reads below it are gone."""
        return self._compact_revision

    def __len__(self) -> int:
        """How many keys exist now."""
        return len(self._current)

    # --- reads --------------------------------------------------------------------------------------------

    def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        limit: int = 0,
        revision: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
    ) -> RangeResult:
        """Keys in ``[key, range_end)`` (just ``key`` when ``range_end`` is None; :data:`ALL_KEYS` as
        ``range_end`` means no upper bound) as of ``revision`` (<= 0: now), in key order. ``count`` is
        the number of keys in the range even when ``limit`` returns fewer; ``more`` says it did."""
        return self._range(
            RangeRequest(key, range_end, limit, revision, keys_only, count_only), self._revision
        )

    def _range(self, req: RangeRequest, current: int) -> RangeResult:
        if req.revision > current:
            raise FutureRevisionError()
        at = current if req.revision <= 0 else req.revision
        if at < self._compact_revision:
            raise CompactedError(self._compact_revision)
        want = 0 if req.count_only else req.limit if req.limit > 0 else -1
        if at == current:
            # The live view is the state at the current revision (including a txn's own writes so far).
            if req.range_end is None:
                kv = self._current.get(req.key)
                kvs, count = ([] if kv is None or want == 0 else [kv]), (0 if kv is None else 1)
            else:
                lo, hi = _span(self._live, req.key, req.range_end)
                count = hi - lo
                stop = hi if want < 0 else min(hi, lo + want)
                kvs = [self._current[k] for k in self._live[lo:stop]]
        else:
            kvs, count = [], 0
            for key in self._keys_in(req.key, req.range_end):
                ki = self._index.get(key)
                got = ki.get(at) if ki is not None else None
                if got is None:
                    continue
                count += 1
                if want < 0 or len(kvs) < want:
                    kvs.append(self._record(got[0]))
        more = not req.count_only and req.limit > 0 and count > len(kvs)
        return RangeResult(current, kvs, count, more, req.keys_only)

    def _keys_in(self, key: str, range_end: str | None) -> list[str]:
        """Every key with an index in the range, existing now or not."""
        if range_end is None:
            return [key]
        lo, hi = _span(self._keys, key, range_end)
        return self._keys[lo:hi]

    def _record(self, rev: Revision) -> KeyValue:
        kv = self._log[rev.main][rev.sub]
        if kv is None:
            raise RuntimeError(f"index points at compacted record {rev}")  # a bug, never a request error
        return kv

    # --- writes -------------------------------------------------------------------------------------------

    def put(self, key: str, value: str, lease: int = NO_LEASE, prev_kv: bool = False) -> PutResult:
        """Write a new version of ``key``, attached to ``lease`` (which must exist; 0 for none)."""
        self._check_lease(lease)
        prev = self._put(key, value, lease)
        return PutResult(self._end(), prev if prev_kv else None)

    def delete_range(
        self, key: str, range_end: str | None = None, prev_kv: bool = False
    ) -> DeleteRangeResult:
        """Delete every key in the range, all at one revision (sub revisions in key order)."""
        prevs = self._delete_range(key, range_end)
        return DeleteRangeResult(self._end(), len(prevs), prevs if prev_kv else None)

    def delete_keys(self, keys: Iterable[str]) -> int:
        """Delete these keys (those that exist) at one revision; a revoked lease's keys go this way."""
        deleted = sum(1 for key in keys if self._delete_range(key, None))
        self._end()
        return deleted

    def txn(self, compares: list[Compare], success: list[Op], failure: list[Op]) -> TxnResult:
        """If every compare holds, run ``success``, else ``failure``; all its writes at one revision.

        Every op is checked before the first write, so a txn that fails changes nothing. Ranges inside
        the txn see the txn's own earlier writes, as in etcd.
        """
        succeeded = all(self._compare(c) for c in compares)
        ops = success if succeeded else failure
        check_ops(ops)
        for op in ops:
            if isinstance(op, PutRequest):
                self._check_lease(op.lease)
            elif isinstance(op, RangeRequest) and op.revision > 0:
                if op.revision > self._revision:
                    raise FutureRevisionError()
                if op.revision < self._compact_revision:
                    raise CompactedError(self._compact_revision)
        responses: list[OpResult] = []
        write = self._revision + 1
        for op in ops:
            if isinstance(op, RangeRequest):
                responses.append(self._range(op, write if self._changes else self._revision))
            elif isinstance(op, PutRequest):
                prev = self._put(op.key, op.value, op.lease)
                responses.append(PutResult(write, prev if op.prev_kv else None))
            else:
                prevs = self._delete_range(op.key, op.range_end)
                responses.append(DeleteRangeResult(write, len(prevs), prevs if op.prev_kv else None))
        return TxnResult(self._end(), succeeded, responses)

    def _check_lease(self, lease: int) -> None:
        if lease != NO_LEASE and self.lessor.lookup(lease) is None:
            raise LeaseNotFoundError()

    def _compare(self, c: Compare) -> bool:
        return c.holds(self._range(RangeRequest(c.key, c.range_end), self._revision).kvs)

    def _put(self, key: str, value: str, lease: int) -> KeyValue | None:
        main = self._revision + 1
        ki = self._index.get(key)
        if ki is None:
            ki = self._index[key] = KeyIndex(key)
            insort(self._keys, key)
        prev = self._current.get(key)
        if prev is None:
            kv = KeyValue(key, value, main, main, 1, lease)
            insort(self._live, key)
        else:
            kv = KeyValue(key, value, prev.create_revision, main, prev.version + 1, lease)
        self._current[key] = kv
        self._append(ki, kv, tombstone=False)
        old_lease = prev.lease if prev is not None else NO_LEASE
        if old_lease != lease:
            if old_lease != NO_LEASE:
                self.lessor.detach(old_lease, key)
            if lease != NO_LEASE:
                self.lessor.attach(lease, key)
        self._changes.append(Event(EventType.PUT, kv, prev))
        return prev

    def _delete_range(self, key: str, range_end: str | None) -> list[KeyValue]:
        main = self._revision + 1
        prevs: list[KeyValue] = []
        if range_end is None:
            if key not in self._current:
                return prevs
            lo, hi = (i := bisect_left(self._live, key)), i + 1
        else:
            lo, hi = _span(self._live, key, range_end)
        keys = self._live[lo:hi]
        del self._live[lo:hi]
        for k in keys:
            prev = self._current.pop(k)
            tomb = KeyValue(k, "", 0, main, 0)
            self._append(self._index[k], tomb, tombstone=True)
            if prev.lease != NO_LEASE:
                self.lessor.detach(prev.lease, k)
            self._changes.append(Event(EventType.DELETE, tomb, prev))
            prevs.append(prev)
        return prevs

    def _append(self, ki: KeyIndex, kv: KeyValue, tombstone: bool) -> None:
        records = self._log.setdefault(kv.mod_revision, [])
        rev = Revision(kv.mod_revision, len(records))
        records.append(kv)
        if tombstone:
            ki.tombstone(rev)
        else:
            ki.put(rev)

    def _end(self) -> int:
        """Finish the write in progress: it takes a revision only if it changed something."""
        if self._changes:
            self._revision += 1
            self._events.extend(self._changes)
            self._changes = []
        return self._revision

    def drain_events(self) -> list[Event]:
        """The changes made since the last call, in revision order, each with its ``prev_kv``."""
        events, self._events = self._events, []
        return events

    # --- compaction and history -----------------------------------------------------------------------

    def compact(self, revision: int) -> CompactResult:
        """Forget every version that no read at ``revision`` or later can see. Takes no revision."""
        if revision <= self._compact_revision:
            raise CompactedError(self._compact_revision)
        if revision > self._revision:
            raise FutureRevisionError()
        available: set[Revision] = set()
        emptied = []
        for key, ki in self._index.items():
            ki.compact(revision, available)
            if ki.is_empty():
                emptied.append(key)
        for key in emptied:
            del self._index[key]
        if emptied:
            self._keys = [k for k in self._keys if k in self._index]
        # The log is in revision order, so the revisions to prune are a prefix of it.
        for main in list(takewhile(lambda m: m <= revision, self._log)):
            records = self._log[main]
            for sub, kv in enumerate(records):
                if kv is not None and Revision(main, sub) not in available:
                    records[sub] = None
            if all(kv is None for kv in records):
                del self._log[main]
        self._compact_revision = revision
        return CompactResult(self._revision)

    def history(self, start: int, end: int, match: Callable[[str], bool], with_prev: bool) -> list[Event]:
        """The events of revisions ``start..end`` (inclusive) on keys ``match`` accepts, in order; the
        caller makes sure ``start`` is not below the compact revision."""
        events = []
        for main in range(max(start, 1), end + 1):
            for kv in self._log.get(main, ()):
                if kv is None or not match(kv.key):
                    continue
                prev = self._prev(kv) if with_prev else None
                events.append(Event(EventType.DELETE if kv.is_tombstone else EventType.PUT, kv, prev))
        return events

    def _prev(self, kv: KeyValue) -> KeyValue | None:
        """The version ``kv`` replaced; like etcd, unknown once that revision is compacted."""
        at = kv.mod_revision - 1
        ki = self._index.get(kv.key)
        if at < self._compact_revision or ki is None or (got := ki.get(at)) is None:
            return None
        return self._record(got[0])

    # --- snapshot -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything, as JSON-ready data: the counters and every record left (tombstones have version 0)."""
        log = [
            [main, sub, kv.key, kv.value, kv.create_revision, kv.version, kv.lease]
            for main, records in self._log.items()
            for sub, kv in enumerate(records)
            if kv is not None
        ]
        return {"revision": self._revision, "compact_revision": self._compact_revision, "log": log}

    def restore(self, state: dict[str, Any]) -> None:
        """Replace everything with ``state``; the index is rebuilt from the records, as etcd does at boot,
        and each live key is attached again to its lease (which the lessor must already hold)."""
        self._index, self._keys, self._log, self._current = {}, [], {}, {}
        self._changes, self._events = [], []
        for main, sub, key, value, create, version, lease in state["log"]:
            records = self._log.setdefault(main, [])
            records.extend([None] * (sub + 1 - len(records)))
            kv = records[sub] = KeyValue(key, value, create, main, version, lease)
            rev = Revision(main, sub)
            ki = self._index.get(key)
            if ki is None:
                ki = self._index[key] = KeyIndex(key)
                if kv.is_tombstone:
                    ki.restore_tombstone(rev)
                else:
                    ki.restore(create, rev, version)
            elif kv.is_tombstone:
                ki.tombstone(rev)
            else:
                ki.put(rev)
        self._keys = sorted(self._index)
        self._revision = state["revision"]
        self._compact_revision = state["compact_revision"]
        for ki in self._index.values():
            if (cur := ki.current()) is not None:
                kv = self._current[ki.key] = self._record(cur)
                if kv.lease != NO_LEASE:
                    self.lessor.attach(kv.lease, ki.key)
        self._live = sorted(self._current)


def _span(keys: list[str], key: str, range_end: str) -> tuple[int, int]:
    """The slice of sorted ``keys`` in ``[key, range_end)``; empty when ``range_end <= key``."""
    lo = bisect_left(keys, key)
    hi = len(keys) if range_end == ALL_KEYS else bisect_left(keys, range_end, lo)
    return lo, max(lo, hi)
