"""The write-ahead log's records: framing, checksums, payload encodings, and scanning a segment.

The on-disk format is described in :mod:`services.etcd.raft.wal`.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from services.etcd.raft.types import Entry, EntryType, HardState, SnapshotMetadata
from shared.logging import get_logger

log = get_logger(__name__)


DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024

_MAGIC = b"\xa7\x5e"
_FRAME = struct.Struct("<2sBBII")  # magic, type, flags, payload length, crc
_FRAME_SIZE = _FRAME.size
_MAX_PAYLOAD = 1 << 30  # a frame claiming more is garbage, whatever its checksum

_REC_HEADER = 1
_REC_ENTRY = 2
_REC_HARD_STATE = 3
_REC_MARKER = 4
_RECORD_TYPES = frozenset({_REC_HEADER, _REC_ENTRY, _REC_HARD_STATE, _REC_MARKER})

_SEGMENT_MAGIC = b"KNWL"
_FORMAT_VERSION = 1  # 1 = zlib CRC-32 frames, layouts as in the module docstring
_SEGMENT_HEADER = struct.Struct("<4sHQQI")
_ENTRY_HEAD = struct.Struct("<QQB")
_HARD_HEAD = struct.Struct("<QQ")  # then the vote as a length-prefixed string
_MARKER_HEAD = struct.Struct("<QQBH")  # index, term, flags, voter count
_MARKER_REPLACES_LOG = 1
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64_MAX = (1 << 64) - 1

_ENTRY_TYPE_CODES = {EntryType.NORMAL: 0, EntryType.CONF_CHANGE: 1}
_ENTRY_TYPES = {code: kind for kind, code in _ENTRY_TYPE_CODES.items()}

_SEGMENT_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")

# fdatasync is enough for an append-only file (it flushes the size too) and skips the mtime update.
_fdatasync = getattr(os, "fdatasync", os.fsync)


class WALError(Exception):
    """The write-ahead log cannot be used (locked, failed write, or corrupt)."""


class WALCorruptError(WALError):
    """A record that was once durable is unreadable; the member must not start on a guessed log."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"corrupt write-ahead log {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class WALLockedError(WALError):
    """Another WAL object (in this or another process) holds the directory."""


@dataclass(frozen=True, slots=True)
class RecoveredState:
    """What replaying the log gives back: the member's durable Raft state."""

    hard_state: HardState
    snapshot: SnapshotMetadata | None
    """The last snapshot marker; ``entries`` start right after its index (or at 1 without one)."""
    entries: tuple[Entry, ...]
    tail_bytes_cut: int = 0
    """How many bytes of a torn tail ``open`` truncated (0 for a clean shutdown)."""


# ---------------------------------------------------------------------------------------------------------
# Record encoding


def _frame(rec_type: int, payload: bytes) -> tuple[bytes, int]:
    if len(payload) > _MAX_PAYLOAD:
        # Replay would take such a frame for garbage and cut it: refuse it before it is acknowledged.
        raise ValueError(f"a record of {len(payload)} bytes exceeds the {_MAX_PAYLOAD}-byte limit")
    head = _MAGIC + bytes((rec_type, 0)) + _U32.pack(len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + _U32.pack(crc) + payload, crc


def _pack_str(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise ValueError(f"a name of {len(raw)} bytes does not fit the WAL's 16-bit length")
    return _U16.pack(len(raw)) + raw


def _check_u64(*values: int) -> None:
    for value in values:
        if not 0 <= value <= _U64_MAX:
            raise ValueError(f"{value} does not fit an unsigned 64-bit field")


def _entry_payload(entry: Entry) -> bytes:
    _check_u64(entry.term, entry.index)
    return _ENTRY_HEAD.pack(entry.term, entry.index, _ENTRY_TYPE_CODES[entry.type]) + entry.data


def _hard_state_payload(hs: HardState) -> bytes:
    _check_u64(hs.term, hs.commit)
    return _HARD_HEAD.pack(hs.term, hs.commit) + _pack_str(hs.vote)


def _marker_payload(meta: SnapshotMetadata, replaces_log: bool) -> bytes:
    _check_u64(meta.index, meta.term)
    flags = _MARKER_REPLACES_LOG if replaces_log else 0
    head = _MARKER_HEAD.pack(meta.index, meta.term, flags, len(meta.voters))
    return head + b"".join(_pack_str(v) for v in meta.voters)


def _read_str(payload: bytes, offset: int) -> tuple[str, int]:
    (length,) = _U16.unpack_from(payload, offset)
    start = offset + 2
    if start + length > len(payload):
        raise ValueError("string runs past the end of the record")
    return payload[start : start + length].decode(), start + length


def _decode_entry(payload: bytes) -> Entry:
    term, index, code = _ENTRY_HEAD.unpack_from(payload)
    return Entry(term=term, index=index, data=payload[_ENTRY_HEAD.size :], type=_ENTRY_TYPES[code])


def _decode_hard_state(payload: bytes) -> HardState:
    term, commit = _HARD_HEAD.unpack_from(payload)
    vote, end = _read_str(payload, _HARD_HEAD.size)
    if end != len(payload):
        raise ValueError("trailing bytes after the hard state")
    return HardState(term=term, vote=vote, commit=commit)


def _decode_marker(payload: bytes) -> tuple[SnapshotMetadata, bool]:
    index, term, flags, count = _MARKER_HEAD.unpack_from(payload)
    if flags & ~_MARKER_REPLACES_LOG:
        raise ValueError(f"unknown snapshot marker flags {flags:#x}")
    offset = _MARKER_HEAD.size
    voters = []
    for _ in range(count):
        voter, offset = _read_str(payload, offset)
        voters.append(voter)
    if offset != len(payload):
        raise ValueError("trailing bytes after the snapshot marker")
    return SnapshotMetadata(index=index, term=term, voters=tuple(voters)), bool(flags & _MARKER_REPLACES_LOG)


def _chain(running: int, crc: int) -> int:
    return zlib.crc32(_U32.pack(crc), running)


# ---------------------------------------------------------------------------------------------------------
# Record scanning


def _check_frame(data: bytes, offset: int) -> tuple[int, int, int] | str:
    """Return ``(type, payload_end, crc)`` of a valid frame at ``offset``, or why it is not one."""
    if offset + _FRAME_SIZE > len(data):
        return "truncated record header"
    magic, rec_type, flags, length, crc = _FRAME.unpack_from(data, offset)
    if magic != _MAGIC:
        return "bad record magic"
    if flags != 0 or rec_type not in _RECORD_TYPES or length > _MAX_PAYLOAD:
        return "bad record header"
    start = offset + _FRAME_SIZE
    end = start + length
    if end > len(data):
        return "record runs past the end of the file"
    if zlib.crc32(data[start:end], zlib.crc32(data[offset : offset + 8])) != crc:
        return "checksum mismatch"
    return rec_type, end, crc


def _valid_record_after(data: bytes, offset: int) -> int | None:
    """Find any valid record starting after ``offset``: its presence tells corruption from a torn tail."""
    pos = data.find(_MAGIC, offset + 1)
    while pos != -1:
        if not isinstance(_check_frame(data, pos), str):
            return pos
        pos = data.find(_MAGIC, pos + 1)
    return None


@dataclass(slots=True)
class _Record:
    offset: int
    type: int
    payload: bytes
    crc: int


def _scan(data: bytes) -> tuple[list[_Record], int, str]:
    """Parse records from the start; return them, where the valid prefix ends, and why it ended."""
    records: list[_Record] = []
    offset = 0
    while offset < len(data):
        checked = _check_frame(data, offset)
        if isinstance(checked, str):
            return records, offset, checked
        rec_type, end, crc = checked
        records.append(_Record(offset, rec_type, data[offset + _FRAME_SIZE : end], crc))
        offset = end
    return records, offset, ""
