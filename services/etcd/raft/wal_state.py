"""The write-ahead log's logical state: which entries, hard state and snapshot marker its records add up to.

Shared by replay (lenient where released segments leave gaps) and by ``save`` (strict: a batch that
would leave a gap is refused before anything is written). See :mod:`services.etcd.raft.wal`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from services.etcd.raft.types import Entry, SnapshotMetadata
from services.etcd.raft.wal_format import WALCorruptError

# ---------------------------------------------------------------------------------------------------------
# The log's logical state, shared by replay (lenient where released segments leave gaps) and save (strict)


class _LogState:
    """Which entries the log holds after the records seen so far: an anchor ``(index, term)`` and the
    terms of the entries after it. The anchor is the last snapshot marker, or, while replaying a log
    whose first segments were released, the index before the first remaining segment ("pseudo": its
    term is unknown, and what lies at or below it is gone, until a marker at or above it is replayed).

    Whether a marker compacted the log or replaced it is decided once, when it is saved (from the terms
    the writer knows), and recorded in the marker, so replay never needs the terms of released entries.
    """

    def __init__(self, anchor: int, keep_entries: bool) -> None:
        self.anchor = anchor
        self.anchor_term: int | None = 0 if anchor == 0 else None
        self.terms: list[int] = []
        self.entries: list[Entry] | None = [] if keep_entries else None
        self.marker: SnapshotMetadata | None = None

    @property
    def pseudo(self) -> bool:
        return self.anchor_term is None

    @property
    def last_index(self) -> int:
        return self.anchor + len(self.terms)

    def term(self, index: int) -> int | None:
        if index == self.anchor:
            return self.anchor_term
        if self.anchor < index <= self.last_index:
            return self.terms[index - self.anchor - 1]
        return None

    # -- strict checks used by save(): they raise before anything is written or changed --

    def replaces_log(self, marker: SnapshotMetadata) -> bool:
        """Whether saving ``marker`` replaces the log (etcd-io/raft's restore) rather than compacts it.

        A log that holds the snapshot's last entry (same index and term) holds the same prefix, by the
        Log Matching property, so only the entries up to it are dropped; any other log is replaced.
        """
        return self.term(marker.index) != marker.term

    def check_batch(self, marker: SnapshotMetadata | None, entries: Sequence[Entry]) -> Sequence[Entry]:
        """Validate a batch; return its entries without those the snapshot already covers."""
        anchor, last = self.anchor, self.last_index
        if marker is not None:
            if marker.index < anchor or (marker.index == anchor and marker.term != self.anchor_term):
                raise ValueError(
                    f"snapshot marker ({marker.index}, {marker.term}) is older than or conflicts with "
                    f"the saved one ({anchor}, {self.anchor_term})"
                )
            if self.replaces_log(marker):
                last = marker.index
            anchor = marker.index
        for prev, entry in itertools.pairwise(entries):
            if entry.index != prev.index + 1:
                raise ValueError(f"entries are not contiguous: {prev.index} then {entry.index}")
        if entries and entries[0].index <= anchor:
            # Covered by the snapshot (it was installed while they were in flight): skipped, as
            # MemoryStorage.append does, so the WAL and the in-memory log never disagree.
            entries = entries[anchor + 1 - entries[0].index :]
        if entries and entries[0].index > last + 1:
            raise ValueError(f"entry {entries[0].index} leaves a gap after the last entry {last}")
        return entries

    # -- transitions; in replay mode, violations mean the file lies about itself --

    def apply_marker(self, meta: SnapshotMetadata, replace: bool, where: tuple[Path, int]) -> None:
        index = meta.index
        if replace:
            if index < self.anchor and not self.pseudo:
                raise WALCorruptError(*where, f"snapshot marker {index} is older than {self.anchor}")
            # The log is now exactly the snapshot, whatever came before.
            self.terms.clear()
            if self.entries is not None:
                self.entries.clear()
        elif index < self.anchor:
            if self.pseudo:
                return  # a copy of an old marker heading a segment whose predecessors were released
            raise WALCorruptError(*where, f"snapshot marker {index} is older than {self.anchor}")
        elif index == self.anchor:
            if self.anchor_term is not None and meta.term != self.anchor_term:
                raise WALCorruptError(*where, f"snapshot marker {index} changes the term at its index")
        else:
            if self.term(index) != meta.term:
                raise WALCorruptError(*where, f"compaction to {index} does not match the entry there")
            del self.terms[: index - self.anchor]
            if self.entries is not None:
                del self.entries[: index - self.anchor]
        self.anchor, self.anchor_term, self.marker = index, meta.term, meta

    def apply_entry(self, entry: Entry, where: tuple[Path, int] | None) -> None:
        index = entry.index
        if index <= self.anchor:
            if not self.pseudo:
                if where is None:
                    raise AssertionError("save() lets no entry at or below the snapshot through")
                raise WALCorruptError(*where, f"entry {index} is at or below the snapshot {self.anchor}")
            # Released segments held what came before; this overwrite moves the pseudo anchor down.
            self.anchor, self.anchor_term = index - 1, (0 if index == 1 else None)
            self.terms.clear()
            if self.entries is not None:
                self.entries.clear()
        elif index > self.last_index + 1:
            if where is not None:
                raise WALCorruptError(*where, f"entry {index} follows entry {self.last_index}: a gap")
            raise AssertionError("save() lets no gap through")
        offset = index - self.anchor - 1
        del self.terms[offset:]
        self.terms.append(entry.term)
        if self.entries is not None:
            del self.entries[offset:]
            self.entries.append(entry)
