"""The tail of the Raft log that the core holds in memory until the driver reports it durable.

It has two parts, both optional: a snapshot received from the leader, and a run of entries starting at
``offset``. The driver is handed the not-yet-handed-out part in a ``Ready`` ("in progress" from then on) and
confirms it in ``advance``; only then does it leave this structure and get read back from ``Storage``.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.etcd.raft.types import Entry, Snapshot


class Unstable:
    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.snapshot_in_progress = False
        self.entries: list[Entry] = []
        self.offset = offset
        """The index of ``entries[0]`` (or of the next entry to arrive)."""
        self.offset_in_progress = offset
        """Entries in ``[offset, offset_in_progress)`` were handed to the driver and are being persisted."""

    def maybe_first_index(self) -> int | None:
        """The first log index, if an unstable snapshot defines it."""
        return self.snapshot.metadata.index + 1 if self.snapshot is not None else None

    def maybe_last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        if self.snapshot is not None:
            return self.snapshot.metadata.index
        return None

    def maybe_term(self, index: int) -> int | None:
        if index < self.offset:
            if self.snapshot is not None and self.snapshot.metadata.index == index:
                return self.snapshot.metadata.term
            return None
        last = self.maybe_last_index()
        if last is None or index > last:
            return None
        return self.entries[index - self.offset].term

    def next_entries(self) -> list[Entry]:
        """Entries not yet handed to the driver."""
        return self.entries[self.offset_in_progress - self.offset :]

    def next_snapshot(self) -> Snapshot | None:
        """The snapshot, if it was not yet handed to the driver."""
        if self.snapshot is None or self.snapshot_in_progress:
            return None
        return self.snapshot

    def accept_in_progress(self) -> None:
        """Everything unstable is now in the driver's hands (a ``Ready`` carrying it was taken)."""
        if self.entries:
            self.offset_in_progress = self.entries[-1].index + 1
        if self.snapshot is not None:
            self.snapshot_in_progress = True

    def stable_to(self, index: int, term: int) -> None:
        """Entries up to ``index`` are durable, as long as our entry there still has ``term``.

        The term check matters when entries were replaced while the driver was writing them: the driver then
        wrote the old ones, and the new ones must stay here until a later ``Ready`` writes them.
        """
        current = self.maybe_term(index)
        if current is None or index < self.offset or current != term:
            return
        del self.entries[: index + 1 - self.offset]
        self.offset = index + 1
        self.offset_in_progress = max(self.offset_in_progress, self.offset)

    def stable_snap_to(self, index: int) -> None:
        if self.snapshot is not None and self.snapshot.metadata.index == index:
            self.snapshot = None
            self.snapshot_in_progress = False

    def restore(self, snapshot: Snapshot) -> None:
        self.offset = snapshot.metadata.index + 1
        self.offset_in_progress = self.offset
        self.entries = []
        self.snapshot = snapshot
        self.snapshot_in_progress = False

    def truncate_and_append(self, entries: Sequence[Entry]) -> None:
        start = entries[0].index
        if start == self.offset + len(self.entries):
            self.entries.extend(entries)
        elif start <= self.offset:
            # Replaces everything unstable and shadows whatever storage holds from ``start`` on.
            self.offset = start
            self.offset_in_progress = start
            self.entries = list(entries)
        else:
            del self.entries[start - self.offset :]
            self.entries.extend(entries)
            # Entries at or after ``start`` that were handed out are no longer the ones we want durable.
            self.offset_in_progress = min(self.offset_in_progress, start)

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries in ``[lo, hi)``; the caller guarantees ``offset <= lo <= hi <= last + 1``."""
        return self.entries[lo - self.offset : hi - self.offset]
