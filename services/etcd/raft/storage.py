"""The contract between the Raft core and the durable log it reads, and an in-memory implementation of it.

The core only ever *reads* storage. The driver writes to it, in the order a ``Ready`` dictates: a snapshot
first, then entries, then the hard state, all made durable before any of the ``Ready``'s messages leave.
Index arithmetic follows etcd: storage holds a contiguous run of entries ``[first_index, last_index]``, and
the term of ``first_index - 1`` (the last entry folded into the snapshot) is still known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from services.etcd.raft.types import (
    EMPTY_HARD_STATE,
    Entry,
    HardState,
    Snapshot,
    SnapshotMetadata,
)

ENTRY_OVERHEAD = 16
"""Bytes an entry costs besides its data when batching, so that even empty entries are bounded per message."""


def entry_size(entry: Entry) -> int:
    return len(entry.data) + ENTRY_OVERHEAD


def limit_size(entries: Sequence[Entry], max_bytes: int | None) -> list[Entry]:
    """The longest prefix of ``entries`` within ``max_bytes``, but never less than one entry.

    Returning at least one entry is what keeps replication moving when a single entry is larger than the
    per-message budget.
    """
    if max_bytes is None or not entries:
        return list(entries)
    total = entry_size(entries[0])
    n = 1
    while n < len(entries):
        total += entry_size(entries[n])
        if total > max_bytes:
            break
        n += 1
    return list(entries[:n])


class StorageError(Exception):
    """Base class of the errors a ``Storage`` may raise."""


class CompactedError(StorageError):
    """The requested index lies before the first retained entry: it was folded into a snapshot."""


class UnavailableError(StorageError):
    """The requested index lies after the last entry in storage."""


class SnapshotOutOfDateError(StorageError):
    """A snapshot older than the one storage already holds was offered."""


class SnapshotTemporarilyUnavailableError(StorageError):
    """No snapshot can be produced right now (e.g. one is being built); the leader retries later."""


class Storage(Protocol):
    """Read access to a member's durable Raft state.

    Contracts shared by every method: indexes are 1-based and contiguous; the entries returned are owned by
    the caller only in the sense that they are immutable values (never mutate storage through them); no
    method blocks on the network. Implementations may be written to concurrently by the driver only between
    two calls into the core, never during one.
    """

    def initial_state(self) -> tuple[HardState, tuple[str, ...]]:
        """The persisted hard state and the voters (from the latest snapshot, else the bootstrap set).

        An empty ``HardState`` means a fresh member that has never voted.
        """
        ...

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries with indexes in ``[lo, hi)``, truncated to ``max_bytes`` but never to fewer than one.

        Raises ``CompactedError`` if ``lo < first_index()`` and ``UnavailableError`` if
        ``hi > last_index() + 1``.
        """
        ...

    def term(self, index: int) -> int:
        """The term of the entry at ``index``, valid for ``first_index() - 1 <= index <= last_index()``.

        Raises ``CompactedError`` below that range and ``UnavailableError`` above it.
        """
        ...

    def first_index(self) -> int:
        """The index of the first entry still available (the snapshot's index + 1)."""
        ...

    def last_index(self) -> int:
        """The index of the last entry; ``first_index() - 1`` when storage holds no entries."""
        ...

    def snapshot(self) -> Snapshot:
        """The most recent snapshot, to send to a follower whose next entry was compacted.

        Raises ``SnapshotTemporarilyUnavailableError`` if it is not ready yet; the core will ask again later.
        """
        ...


class MemoryStorage:
    """A ``Storage`` held in memory: the test harness's durable disk, and a reference for real ones.

    ``_entries[0]`` is a dummy that carries the snapshot's index and term, so that ``term(first_index-1)``
    needs no special case.
    """

    def __init__(self, voters: Sequence[str] = ()) -> None:
        self._hard_state = EMPTY_HARD_STATE
        self._snapshot = Snapshot(metadata=SnapshotMetadata(voters=tuple(voters)))
        self._entries: list[Entry] = [Entry(term=0, index=0)]

    # --- Storage protocol ---------------------------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, tuple[str, ...]]:
        return self._hard_state, self._snapshot.metadata.voters

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        offset = self._entries[0].index
        if lo <= offset:
            raise CompactedError(f"entries from {lo}: compacted up to {offset}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"entries up to {hi - 1}: last index is {self.last_index()}")
        if lo >= hi:
            return []
        return limit_size(self._entries[lo - offset : hi - offset], max_bytes)

    def term(self, index: int) -> int:
        offset = self._entries[0].index
        if index < offset:
            raise CompactedError(f"term of {index}: compacted up to {offset}")
        if index - offset >= len(self._entries):
            raise UnavailableError(f"term of {index}: last index is {self.last_index()}")
        return self._entries[index - offset].term

    def first_index(self) -> int:
        return self._entries[0].index + 1

    def last_index(self) -> int:
        return self._entries[0].index + len(self._entries) - 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # --- writes, done by the driver -----------------------------------------------------------------------

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def append(self, entries: Sequence[Entry]) -> None:
        """Append ``entries`` (contiguous), replacing any stored suffix they overlap.

        Entries at or before the snapshot index are skipped: they are already covered by the snapshot, which
        can happen when a snapshot was installed while those entries were being written.
        """
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        at = entries[0].index - self._entries[0].index
        if at > len(self._entries):
            raise UnavailableError(f"append at {entries[0].index} leaves a gap after {self.last_index()}")
        del self._entries[at:]
        self._entries.extend(entries)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace everything with ``snapshot``: the log restarts right after its index.

        A snapshot without voters keeps the ones we know (membership does not change in this Raft).
        """
        if snapshot.metadata.index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDateError(
                f"snapshot at {snapshot.metadata.index} is not newer than {self._snapshot.metadata.index}"
            )
        if not snapshot.metadata.voters:
            metadata = replace(snapshot.metadata, voters=self._snapshot.metadata.voters)
            snapshot = replace(snapshot, metadata=metadata)
        self._snapshot = snapshot
        self._entries = [Entry(term=snapshot.metadata.term, index=snapshot.metadata.index)]

    def create_snapshot(self, index: int, data: bytes, voters: Sequence[str] | None = None) -> Snapshot:
        """Record a snapshot of the applied state at ``index`` (which must be applied, hence stored).

        Does not discard entries: call ``compact`` for that, typically keeping some entries behind the
        snapshot so that slightly lagging followers can still catch up from the log.
        """
        if index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDateError(
                f"snapshot at {index} is not newer than {self._snapshot.metadata.index}"
            )
        if index > self.last_index():
            raise UnavailableError(f"snapshot at {index}: last index is {self.last_index()}")
        metadata = SnapshotMetadata(
            index=index,
            term=self.term(index),
            voters=tuple(voters) if voters is not None else self._snapshot.metadata.voters,
        )
        self._snapshot = Snapshot(metadata=metadata, data=data)
        return self._snapshot

    def compact(self, index: int) -> None:
        """Discard entries up to and including ``index``, which must not exceed the last index.

        ``index`` should be at most the applied index; a snapshot covering it must exist for lagging
        followers to catch up.
        """
        offset = self._entries[0].index
        if index <= offset:
            raise CompactedError(f"compact to {index}: already compacted up to {offset}")
        if index > self.last_index():
            raise UnavailableError(f"compact to {index}: last index is {self.last_index()}")
        self._entries = [
            Entry(term=self._entries[index - offset].term, index=index),
            *self._entries[index - offset + 1 :],
        ]


__all__ = [
    "CompactedError",
    "MemoryStorage",
    "SnapshotOutOfDateError",
    "SnapshotTemporarilyUnavailableError",
    "Storage",
    "StorageError",
    "UnavailableError",
    "entry_size",
    "limit_size",
]
