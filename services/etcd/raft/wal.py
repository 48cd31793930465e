"""A segmented write-ahead log that makes a Raft member's hard state, entries and snapshot markers durable.

The driver calls ``save`` once per ``Ready`` with the hard state and the new entries, and ``save`` returns
only after one fsync, so everything the member promised in that round survives a crash (group commit). On
``open`` the log is replayed into a ``RecoveredState``; a torn tail left by a crash is cut back, and
corruption anywhere else stops the member with ``WALCorruptError`` rather than losing data silently.

On-disk format (all integers little-endian)::

    <dir>/<seq:016x>-<first_index:016x>.wal       segments, seq counting from 1 without gaps

    record  = magic "\\xa7\\x5e" | type u8 | flags u8 (0) | length u32 | crc u32 | payload[length]
              crc = CRC-32 (zlib) over the first 8 bytes of the frame and the payload
    HEADER  = "KNWL" | version u16 | seq u64 | first_index u64 | chain u32     (first record of a segment)
    ENTRY   = term u64 | index u64 | type u8 | data (the rest of the payload, raw bytes)
    HARD    = term u64 | commit u64 | vote_len u16 | vote utf-8
    MARKER  = index u64 | term u64 | flags u8 | voter_count u16 | (len u16 | utf-8)*  (a snapshot is saved)
              flags: 1 = the snapshot replaced the log, 0 = it compacted the log

Every segment starts with its HEADER, then copies of the latest MARKER and HARD records, so segments
below a snapshot can be deleted without losing the state they held (``release_to``). ``chain`` is a
CRC over the CRCs of every record of the previous segment, so a non-last segment that lost records at a
record boundary (which per-record checksums cannot see) is caught when the next segment is opened.
The stdlib has no CRC-32C, so the CRC is zlib's CRC-32; the header's version names the algorithm.

Replay rules: a later entry at index ``i`` replaces every entry ``>= i`` (a new leader overwrites an
uncommitted tail). A MARKER ``(i, t)`` drops the entries ``<= i``; the entries after ``i`` are kept only
if the log held ``i`` with term ``t`` when the marker was saved (the snapshot compacted the log), and
dropped otherwise (it replaced the log, as ``restore`` does in etcd-io/raft). The writer decides which
from the terms it knows and records it in the marker's flags, so replay needs no released entry. Entries
a batch carries at or below the snapshot are skipped, as ``MemoryStorage.append`` does. ``save`` refuses,
before writing anything, a batch that would leave a gap, so a log this module wrote always replays.

Tail repair: at the first invalid record of the LAST segment, the rest of the file is searched for any
valid record. None found means a torn write (partial record, zero-filled or garbage tail) and the file
is truncated to the last valid record. A valid record after the bad one, or any bad record in an earlier
segment, means corruption of data that was acknowledged, and ``open`` refuses. (An entry whose data
happens to embed a byte-exact valid record can turn a torn tail into a refusal: the safe direction.)
"""

from __future__ import annotations

import fcntl
import itertools
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.etcd.raft.types import EMPTY_HARD_STATE, Entry, HardState, SnapshotMetadata
from services.etcd.raft.wal_format import (
    _FORMAT_VERSION,
    _REC_ENTRY,
    _REC_HARD_STATE,
    _REC_HEADER,
    _REC_MARKER,
    _SEGMENT_HEADER,
    _SEGMENT_MAGIC,
    _SEGMENT_NAME,
    DEFAULT_SEGMENT_SIZE,
    RecoveredState,
    WALCorruptError,
    WALError,
    WALLockedError,
    _chain,
    _decode_entry,
    _decode_hard_state,
    _decode_marker,
    _entry_payload,
    _fdatasync,
    _frame,
    _hard_state_payload,
    _marker_payload,
    _scan,
    _valid_record_after,
)
from services.etcd.raft.wal_state import _LogState
from shared.logging import get_logger

log = get_logger(__name__)

__all__ = ["DEFAULT_SEGMENT_SIZE", "WAL", "RecoveredState", "WALCorruptError", "WALError", "WALLockedError"]


# ---------------------------------------------------------------------------------------------------------
# The WAL


@dataclass(slots=True)
class _Segment:
    seq: int
    first_index: int
    path: Path


def _segment_name(seq: int, first_index: int) -> str:
    return f"{seq:016x}-{first_index:016x}.wal"


def _list_segments(directory: Path) -> list[_Segment]:
    segments = []
    for path in directory.iterdir():
        match = _SEGMENT_NAME.match(path.name)
        if match:
            segments.append(_Segment(int(match[1], 16), int(match[2], 16), path))
    segments.sort(key=lambda s: s.seq)
    return segments


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class WAL:
    """An open write-ahead log. Not thread-safe: one caller (the driver's persistence thread) at a time.

    A failed write or fsync makes the object unusable: after a failed fsync the kernel may have dropped
    the dirty pages, so retrying could report success for data that is gone (PostgreSQL's "fsyncgate").
    The member must restart and replay instead.
    """

    def __init__(
        self,
        directory: Path,
        dir_fd: int,
        segments: list[_Segment],
        state: _LogState,
        hard_state: HardState,
        size: int,
        chain: int,
        segment_size: int,
    ) -> None:
        self._dir = directory
        self._dir_fd = dir_fd
        self._segments = segments
        self._state = state
        self._hard_state = hard_state
        self._size = size  # bytes in the active (last) segment
        self._chain = chain  # running chain over the active segment's records
        self._segment_size = segment_size
        self._fd: int | None = os.open(segments[-1].path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._failed: BaseException | None = None
        self._dirty = False  # written with sync=False and not yet fsynced
        self.fsync_count = 0
        """fsyncs of segment files: one per ``save`` call that had something to write (and ``sync``)."""
        self.dir_fsync_count = 0
        """fsyncs of the directory: one per segment created or set of segments deleted."""
        self.segments_created = 0

    # -- opening --

    @classmethod
    def create(cls, directory: str | os.PathLike[str], *, segment_size: int = DEFAULT_SEGMENT_SIZE) -> WAL:
        """Start an empty log in ``directory``; refuses if a log is already there."""
        path = Path(directory)
        if path.is_dir() and _list_segments(path):
            raise FileExistsError(f"a write-ahead log already exists in {path}")
        wal, _ = cls.open(path, segment_size=segment_size)
        return wal

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], *, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> tuple[WAL, RecoveredState]:
        """Replay the log in ``directory`` (creating an empty one if there is none) and open it for appends.

        Raises ``WALCorruptError`` on corruption that is not a torn tail, ``WALLockedError`` if another
        ``WAL`` has the directory open.
        """
        if segment_size < 1:
            raise ValueError("segment_size must be positive")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(dir_fd)
            raise WALLockedError(f"{path} is in use by another WAL") from None
        try:
            return cls._replay(path, dir_fd, segment_size)
        except BaseException:
            os.close(dir_fd)  # closing the descriptor releases the lock
            raise

    @classmethod
    def _replay(cls, directory: Path, dir_fd: int, segment_size: int) -> tuple[WAL, RecoveredState]:
        segments = _list_segments(directory)
        for prev, seg in itertools.pairwise(segments):
            if seg.seq != prev.seq + 1:
                raise WALCorruptError(seg.path, 0, f"segment {prev.seq + 1} is missing before it")
        for leftover in directory.glob("*.wal.tmp"):
            leftover.unlink()  # an interrupted creation of the first segment
        if not segments:
            # Created under a temporary name and renamed, so a segment file never exists without its
            # header: an unreadable header is then always damage, never an interrupted first start.
            seg = _Segment(1, 1, directory / _segment_name(1, 1))
            header, _ = _frame(_REC_HEADER, _SEGMENT_HEADER.pack(_SEGMENT_MAGIC, _FORMAT_VERSION, 1, 1, 0))
            temp = seg.path.with_name(seg.path.name + ".tmp")
            _create_file(temp, header)
            os.rename(temp, seg.path)
            os.fsync(dir_fd)
            segments = [seg]

        state = _LogState(segments[0].first_index - 1, keep_entries=True)
        hard_state = EMPTY_HARD_STATE
        prev_chain: int | None = None
        size = chain = 0
        cut = 0
        # Repairs wait until the whole log has replayed: a log that is refused is left as it was found.
        remove: Path | None = None
        truncate: tuple[Path, int] | None = None
        for position, seg in enumerate(list(segments)):
            is_last = position == len(segments) - 1
            data = seg.path.read_bytes()
            records, end, reason = _scan(data)
            if end < len(data):
                if not is_last:
                    raise WALCorruptError(seg.path, end, f"{reason} (not the last segment)")
                later = _valid_record_after(data, end)
                if later is not None:
                    raise WALCorruptError(seg.path, end, f"{reason}; a valid record follows at {later}")
                if not records and position > 0:
                    # A crash while creating the segment: nothing in it was ever acknowledged.
                    remove, cut = seg.path, len(data)
                    segments.pop()
                    break
                if not records:
                    raise WALCorruptError(seg.path, 0, f"{reason} in the only segment's header")
                truncate, cut = (seg.path, end), len(data) - end
            chain = 0
            for number, rec in enumerate(records):
                where = (seg.path, rec.offset)
                try:
                    if number == 0:
                        if rec.type != _REC_HEADER:
                            raise WALCorruptError(*where, "segment does not start with a header")
                        cls._check_header(rec.payload, seg, prev_chain, state, where, position)
                    elif rec.type == _REC_ENTRY:
                        state.apply_entry(_decode_entry(rec.payload), where)
                    elif rec.type == _REC_HARD_STATE:
                        hard_state = _decode_hard_state(rec.payload)
                    elif rec.type == _REC_MARKER:
                        meta, replace = _decode_marker(rec.payload)
                        state.apply_marker(meta, replace, where)
                    else:
                        raise WALCorruptError(*where, "a segment header inside a segment")
                except (struct.error, ValueError, KeyError) as exc:
                    # The checksum matched, so this was written like this: a format this code cannot read.
                    raise WALCorruptError(*where, f"undecodable record: {exc}") from exc
                chain = _chain(chain, rec.crc)
            prev_chain = chain
            size = end

        if state.pseudo:
            raise WALCorruptError(
                segments[0].path, 0, f"entries up to {state.anchor} were released but no snapshot covers them"
            )
        if remove is not None:
            log.warning("removing a torn new wal segment", path=str(remove), size=cut)
            remove.unlink()
            os.fsync(dir_fd)
        if truncate is not None:
            log.warning("cutting a torn wal tail", path=str(truncate[0]), offset=truncate[1], dropped=cut)
            _truncate(*truncate)
        assert state.entries is not None
        recovered = RecoveredState(
            hard_state=hard_state,
            snapshot=state.marker if state.anchor > 0 else None,
            entries=tuple(state.entries),
            tail_bytes_cut=cut,
        )
        state.entries = None  # from here on only terms are tracked, the entries live in raft's storage
        wal = cls(directory, dir_fd, segments, state, hard_state, size, chain, segment_size)
        return wal, recovered

    @staticmethod
    def _check_header(
        payload: bytes,
        seg: _Segment,
        prev_chain: int | None,
        state: _LogState,
        where: tuple[Path, int],
        position: int,
    ) -> None:
        magic, version, seq, first_index, chain = _SEGMENT_HEADER.unpack(payload)
        if magic != _SEGMENT_MAGIC or version != _FORMAT_VERSION:
            raise WALCorruptError(*where, f"unknown segment format {magic!r} version {version}")
        if (seq, first_index) != (seg.seq, seg.first_index):
            raise WALCorruptError(*where, f"header says segment {seq} from index {first_index}")
        if prev_chain is not None and chain != prev_chain:
            raise WALCorruptError(*where, "the previous segment does not end where this one says it did")
        if position > 0 and first_index != state.last_index + 1:
            raise WALCorruptError(*where, f"starts at {first_index} but the log ends at {state.last_index}")

    # -- writing --

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def last_index(self) -> int:
        """The index of the last entry the log holds (the snapshot index if none follows it)."""
        return self._state.last_index

    @property
    def snapshot_index(self) -> int:
        return self._state.anchor

    @property
    def segment_paths(self) -> list[Path]:
        return [seg.path for seg in self._segments]

    def save(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        *,
        snapshot: SnapshotMetadata | None = None,
        sync: bool = True,
    ) -> None:
        """Append a snapshot marker (if given), the entries, then the hard state, and fsync once.

        ``entries`` must be contiguous and start at most one past the last entry (an earlier start
        overwrites the tail); entries at or below the snapshot index are skipped. An empty or unchanged
        hard state is not written, and a call with nothing to write returns without an fsync. Raises
        ``ValueError``, having written nothing, for entries that break those rules.

        ``sync=False`` (for a ``Ready`` whose ``must_sync`` is false: only the commit index changed)
        writes without the fsync; the next synced save, or the roll-over to a new segment, covers it.
        """
        self._check_usable()
        entries = self._state.check_batch(snapshot, entries)
        replace = snapshot is not None and self._state.replaces_log(snapshot)
        if hard_state is not None and (hard_state.is_empty() or hard_state == self._hard_state):
            hard_state = None
        if hard_state is None and not entries and snapshot is None:
            return
        frames: list[bytes] = []
        crcs: list[int] = []
        # Payloads are built before anything is written, so a bad value (a term over 64 bits) changes nothing.
        if snapshot is not None:
            self._add(frames, crcs, _REC_MARKER, _marker_payload(snapshot, replace))
        for entry in entries:
            self._add(frames, crcs, _REC_ENTRY, _entry_payload(entry))
        # The hard state goes last: if a torn write cuts the batch, the recovered commit index never points
        # past the recovered entries.
        if hard_state is not None:
            self._add(frames, crcs, _REC_HARD_STATE, _hard_state_payload(hard_state))
        try:
            new_dir_entry = False
            if self._size >= self._segment_size:
                self._roll()
                new_dir_entry = True
            assert self._fd is not None
            blob = b"".join(frames)
            _write_all(self._fd, blob)
            if sync:
                _fdatasync(self._fd)
                self.fsync_count += 1
            self._dirty = not sync
            if new_dir_entry:
                # Only now is the new file's name durable; without this a crash could lose the whole file.
                os.fsync(self._dir_fd)
                self.dir_fsync_count += 1
        except BaseException as exc:
            self._failed = exc
            raise
        self._size += len(blob)
        for crc in crcs:
            self._chain = _chain(self._chain, crc)
        if snapshot is not None:
            self._state.apply_marker(snapshot, replace, (self._segments[-1].path, -1))
        for entry in entries:
            self._state.apply_entry(entry, None)
        if hard_state is not None:
            self._hard_state = hard_state

    def save_snapshot_marker(self, metadata: SnapshotMetadata) -> None:
        """Record that a snapshot at ``metadata.index`` is durable (save it first), with one fsync."""
        self.save(None, (), snapshot=metadata)

    @staticmethod
    def _add(frames: list[bytes], crcs: list[int], rec_type: int, payload: bytes) -> None:
        frame, crc = _frame(rec_type, payload)
        frames.append(frame)
        crcs.append(crc)

    def _roll(self) -> None:
        """Start the next segment with a header and copies of the current marker and hard state."""
        seq = self._segments[-1].seq + 1
        first_index = self._state.last_index + 1
        seg = _Segment(seq, first_index, self._dir / _segment_name(seq, first_index))
        header = _SEGMENT_HEADER.pack(_SEGMENT_MAGIC, _FORMAT_VERSION, seq, first_index, self._chain)
        frames: list[bytes] = []
        crcs: list[int] = []
        assert self._fd is not None
        if self._dirty:
            # Only the last segment may have a torn tail: an earlier one must be complete on disk.
            _fdatasync(self._fd)
            self.fsync_count += 1
            self._dirty = False
        self._add(frames, crcs, _REC_HEADER, header)
        if self._state.marker is not None:
            # A copy sits at the anchor itself: a no-op on replay unless earlier segments are gone.
            self._add(frames, crcs, _REC_MARKER, _marker_payload(self._state.marker, replaces_log=False))
        if not self._hard_state.is_empty():
            self._add(frames, crcs, _REC_HARD_STATE, _hard_state_payload(self._hard_state))
        blob = b"".join(frames)
        # No fsync here: the caller's one fsync covers this file's header and its batch together.
        _create_file(seg.path, blob, sync=False)
        os.close(self._fd)
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._segments.append(seg)
        self._size = len(blob)
        self._chain = 0
        for crc in crcs:
            self._chain = _chain(self._chain, crc)
        self.segments_created += 1

    def release_to(self, index: int) -> None:
        """Delete the segments whose entries all lie below ``index``; the one holding ``index`` stays.

        ``index`` must not exceed the last snapshot marker's index: entries above it are still needed.
        """
        self._check_usable()
        if index > self._state.anchor:
            raise ValueError(
                f"cannot release to {index}: the last snapshot marker is at {self._state.anchor}"
            )
        # A segment's surviving entries all lie below the next segment's first index (its name), because
        # a segment is rolled when the log ends right before that index.
        doomed = 0
        while doomed + 1 < len(self._segments) and self._segments[doomed + 1].first_index <= index:
            doomed += 1
        if not doomed:
            return
        # Oldest first, so a crash midway leaves a contiguous run of segments.
        for seg in self._segments[:doomed]:
            seg.path.unlink()
        del self._segments[:doomed]
        # Not needed for safety (a resurrected old segment replays consistently) but keeps disk usage honest.
        os.fsync(self._dir_fd)
        self.dir_fsync_count += 1

    def close(self) -> None:
        """Close the files and release the directory lock, fsyncing writes saved with ``sync=False``."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self._dirty and self._failed is None:
                    _fdatasync(fd)
                    self.fsync_count += 1
            finally:
                os.close(fd)
                os.close(self._dir_fd)
        if self._failed is None:
            self._failed = WALError("closed")

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise WALError(f"the write-ahead log is closed or failed: {self._failed!r}")


def _create_file(path: Path, content: bytes, *, sync: bool = True) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        _write_all(fd, content)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
