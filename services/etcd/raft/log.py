"""The Raft log as the core sees it: durable entries in ``Storage`` plus the ``Unstable`` tail in memory.

It also tracks three positions: ``committed`` (known replicated on a quorum), ``applying`` (handed to the
driver to apply) and ``applied`` (confirmed applied), with ``applied <= applying <= committed``.
Indexes in ``[first_index() - 1, last_index()]`` have a known term.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.etcd.raft.log_unstable import Unstable
from services.etcd.raft.storage import (
    CompactedError,
    Storage,
    UnavailableError,
    entry_size,
    limit_size,
)
from services.etcd.raft.types import Entry, Snapshot


class LogCorruptionError(AssertionError):
    """An invariant of the log broke: a bug, or storage that lost data it had confirmed durable."""


class RaftLog:
    def __init__(self, storage: Storage, max_applying_bytes: int | None = None) -> None:
        self.storage = storage
        self.unstable = Unstable(storage.last_index() + 1)
        first = storage.first_index()
        # Everything up to the snapshot is committed and applied by definition; the hard state may say more.
        self.committed = first - 1
        self.applying = first - 1
        self.applied = first - 1
        self.max_applying_bytes = max_applying_bytes

    def __repr__(self) -> str:
        return (
            f"RaftLog(committed={self.committed}, applied={self.applied}, applying={self.applying}, "
            f"unstable.offset={self.unstable.offset}, unstable.len={len(self.unstable.entries)})"
        )

    # --- bounds and terms --------------------------------------------------------------------------------

    def first_index(self) -> int:
        index = self.unstable.maybe_first_index()
        return index if index is not None else self.storage.first_index()

    def last_index(self) -> int:
        index = self.unstable.maybe_last_index()
        return index if index is not None else self.storage.last_index()

    def term(self, index: int) -> int:
        """The term at ``index``; raises ``CompactedError``/``UnavailableError`` outside the known range."""
        term = self.unstable.maybe_term(index)
        if term is not None:
            return term
        if index + 1 < self.first_index():
            raise CompactedError(f"term of {index}: first index is {self.first_index()}")
        if index > self.last_index():
            raise UnavailableError(f"term of {index}: last index is {self.last_index()}")
        return self.storage.term(index)

    def term_or_zero(self, index: int) -> int:
        """The term at ``index``, or 0 where it is unknown (0 is never a real entry's term)."""
        try:
            return self.term(index)
        except (CompactedError, UnavailableError):
            return 0

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except (CompactedError, UnavailableError):
            return False

    def is_up_to_date(self, last_index: int, term: int) -> bool:
        """Whether a log ending at (``last_index``, ``term``) is at least as up to date as ours (§5.4.1)."""
        our_term = self.last_term()
        return term > our_term or (term == our_term and last_index >= self.last_index())

    # --- appending ----------------------------------------------------------------------------------------

    def find_conflict(self, entries: Sequence[Entry]) -> int:
        """The index of the first entry whose term differs from ours (or that we lack); 0 if none."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (index', term') with index' <= ``index`` and term' <= ``term`` in our log.

        A leader whose entry at ``index + 1`` has its previous entry at ``term`` can only match us at or
        below such a position, since terms never decrease along a log: this skips a whole term per round
        trip instead of one entry. Returns term' 0 where our term is unknown (compacted).
        """
        while index > 0:
            try:
                ours = self.term(index)
            except (CompactedError, UnavailableError):
                return index, 0
            if ours <= term:
                return index, ours
            index -= 1
        return 0, 0

    def maybe_append(self, index: int, log_term: int, committed: int, entries: Sequence[Entry]) -> int | None:
        """Append a leader's ``entries`` that follow (``index``, ``log_term``), if we hold that entry.

        Returns the index of the last entry the leader sent (our log now matches the leader's up to there),
        or None if the consistency check failed. Only the suffix after the first conflict is written, so a
        stale, shorter append never truncates entries we already took from the same leader.
        """
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            if conflict <= self.committed:
                raise LogCorruptionError(
                    f"entry {conflict} conflicts with committed entry (committed={self.committed})"
                )
            self.append(entries[conflict - (index + 1) :])
        self.commit_to(min(committed, last_new))
        return last_new

    def append(self, entries: Sequence[Entry]) -> int:
        if not entries:
            return self.last_index()
        if entries[0].index - 1 < self.committed:
            raise LogCorruptionError(
                f"append after {entries[0].index - 1} would overwrite committed {self.committed}"
            )
        self.unstable.truncate_and_append(entries)
        return self.last_index()

    # --- reading ------------------------------------------------------------------------------------------

    def entries(self, lo: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries from ``lo`` to the end, within ``max_bytes`` (at least one). Raises ``CompactedError``."""
        if lo > self.last_index():
            return []
        return self.slice(lo, self.last_index() + 1, max_bytes)

    def all_entries(self) -> list[Entry]:
        return self.entries(self.first_index())

    def slice(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries in ``[lo, hi)``, stable ones read from storage and the rest from memory."""
        if lo > hi:
            raise ValueError(f"invalid slice [{lo}, {hi})")
        if lo < self.first_index():
            raise CompactedError(f"slice from {lo}: first index is {self.first_index()}")
        if hi > self.last_index() + 1:
            raise LogCorruptionError(f"slice to {hi}: last index is {self.last_index()}")
        if lo == hi:
            return []
        offset = self.unstable.offset
        if lo >= offset:
            return limit_size(self.unstable.slice(lo, hi), max_bytes)
        cut = min(hi, offset)
        stable = self.storage.entries(lo, cut, max_bytes)
        if hi <= offset or len(stable) < cut - lo:
            return stable
        used = sum(entry_size(e) for e in stable)
        if max_bytes is not None:
            if used >= max_bytes:
                return stable
            rest = limit_size(self.unstable.slice(offset, hi), max_bytes - used)
            # limit_size keeps one entry even when it alone is over budget; here we already have some.
            if len(rest) == 1 and used + entry_size(rest[0]) > max_bytes:
                return stable
            return stable + rest
        return stable + self.unstable.slice(offset, hi)

    def snapshot(self) -> Snapshot:
        """The newest snapshot, pending or stored (storage may raise it is temporarily unavailable)."""
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    # --- commit and apply ---------------------------------------------------------------------------------

    def commit_to(self, index: int) -> None:
        if index <= self.committed:
            return
        if index > self.last_index():
            raise LogCorruptionError(
                f"commit to {index} beyond last index {self.last_index()}: was the log truncated or lost?"
            )
        self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Commit up to ``index`` if that entry has ``term`` (the leader passes its own term: Figure 8)."""
        if index > self.committed and self.match_term(index, term):
            self.commit_to(index)
            return True
        return False

    def applied_to(self, index: int) -> None:
        if index > self.committed or index < self.applied:
            raise LogCorruptionError(f"applied {index} outside [{self.applied}, {self.committed}]")
        self.applied = index
        self.applying = max(self.applying, index)

    def has_pending_snapshot(self) -> bool:
        """A received snapshot is not yet durable (handed out or not)."""
        return self.unstable.snapshot is not None

    def next_committed_entries(self) -> list[Entry]:
        """Committed entries not yet handed out for applying.

        None while a snapshot is pending: it must be applied first, and the entries after it come next.
        Entries still being persisted are included, because the driver persists before it applies.
        """
        if self.has_pending_snapshot() or self.applying >= self.committed:
            return []
        return self.slice(self.applying + 1, self.committed + 1, self.max_applying_bytes)

    def has_next_committed_entries(self) -> bool:
        return not self.has_pending_snapshot() and self.applying < self.committed

    def accept_applying(self, index: int) -> None:
        self.applying = index

    # --- durability handshake with the driver ------------------------------------------------------------

    def next_unstable_entries(self) -> list[Entry]:
        return self.unstable.next_entries()

    def has_next_unstable_entries(self) -> bool:
        return self.unstable.offset_in_progress < self.unstable.offset + len(self.unstable.entries)

    def next_unstable_snapshot(self) -> Snapshot | None:
        return self.unstable.next_snapshot()

    def accept_unstable(self) -> None:
        self.unstable.accept_in_progress()

    def stable_to(self, index: int, term: int) -> None:
        self.unstable.stable_to(index, term)

    def stable_snap_to(self, index: int) -> None:
        self.unstable.stable_snap_to(index)

    def restore(self, snapshot: Snapshot) -> None:
        """Discard the whole log in favour of ``snapshot`` (its state is committed by definition)."""
        self.committed = snapshot.metadata.index
        self.unstable.restore(snapshot)
