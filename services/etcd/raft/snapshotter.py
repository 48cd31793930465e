"""Snapshot files: each Raft snapshot is written whole and atomically to its own checksummed file.

A file is named ``<index:016x>-<term:016x>.snap`` (so names sort by index) and holds::

    magic "KNSNAP" 0x00 0x01 | crc u32 | index u64 | term u64 | voter_count u16 | (len u16 | utf-8)*
                            | data_len u64 | data

little-endian, where ``crc`` is zlib's CRC-32 of everything after it. ``save`` writes ``<name>.tmp``,
fsyncs it, renames it into place and fsyncs the directory, so a crash leaves either the whole new file
or none (a leftover ``.tmp`` is ignored and removed). Only the newest ``keep`` snapshots are kept.

A corrupt newest snapshot is skipped by ``load_newest``: it is renamed to ``<name>.broken`` (kept for
inspection, no longer loaded or counted), a warning is logged, and the next older one is returned. That
is safe for Raft: an older snapshot is still a committed prefix, and the entries after it are either in
the WAL (which is released only up to a snapshot known to be durable) or fetched from the leader. A
caller that needs one exact snapshot uses ``load(index, term)``, which refuses rather than falls back.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from services.etcd.raft.types import Snapshot, SnapshotMetadata
from shared.logging import get_logger

log = get_logger(__name__)

_MAGIC = b"KNSNAP\x00\x01"
_CRC = struct.Struct("<I")
_META = struct.Struct("<QQH")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")
_U64_MAX = (1 << 64) - 1


class SnapshotError(Exception):
    """A snapshot could not be loaded."""


class SnapshotNotFoundError(SnapshotError):
    pass


class SnapshotCorruptError(SnapshotError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"corrupt snapshot file {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _File:
    index: int
    term: int
    path: Path


def snapshot_file_name(index: int, term: int) -> str:
    return f"{index:016x}-{term:016x}.snap"


def encode_snapshot(snapshot: Snapshot) -> bytes:
    meta = snapshot.metadata
    if not (0 <= meta.index <= _U64_MAX and 0 <= meta.term <= _U64_MAX):
        raise ValueError("snapshot index and term must fit unsigned 64-bit fields")
    parts = [_META.pack(meta.index, meta.term, len(meta.voters))]
    for voter in meta.voters:
        raw = voter.encode()
        parts.append(_U16.pack(len(raw)) + raw)
    parts.append(_U64.pack(len(snapshot.data)))
    parts.append(snapshot.data)
    body = b"".join(parts)
    return _MAGIC + _CRC.pack(zlib.crc32(body)) + body


def decode_snapshot(blob: bytes) -> Snapshot:
    """Decode and verify one snapshot file's content; raises ``ValueError`` saying what is wrong."""
    head = len(_MAGIC) + _CRC.size
    if len(blob) < head + _META.size or not blob.startswith(_MAGIC):
        raise ValueError("not a snapshot file (bad magic or too short)")
    (crc,) = _CRC.unpack_from(blob, len(_MAGIC))
    if zlib.crc32(memoryview(blob)[head:]) != crc:
        raise ValueError("checksum mismatch")
    try:
        index, term, count = _META.unpack_from(blob, head)
        offset = head + _META.size
        voters = []
        for _ in range(count):
            (length,) = _U16.unpack_from(blob, offset)
            offset += _U16.size
            if offset + length > len(blob):
                raise ValueError("voter name runs past the end")
            voters.append(blob[offset : offset + length].decode())
            offset += length
        (data_len,) = _U64.unpack_from(blob, offset)
        offset += _U64.size
    except struct.error as exc:
        raise ValueError(f"truncated: {exc}") from exc
    if offset + data_len != len(blob):
        raise ValueError("data length does not match the file size")
    return Snapshot(SnapshotMetadata(index=index, term=term, voters=tuple(voters)), blob[offset:])


class Snapshotter:
    """Saves and loads the snapshot files of one member's ``snap`` directory (one writer at a time)."""

    def __init__(self, directory: str | os.PathLike[str], *, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.fsync_count = 0
        for leftover in self.directory.glob("*.snap.tmp"):
            leftover.unlink()  # a save interrupted by a crash; the rename never happened

    def _files(self) -> list[_File]:
        """Snapshot files by index, newest last; temporary and broken files are not snapshots."""
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append(_File(int(match[1], 16), int(match[2], 16), path))
        found.sort(key=lambda f: (f.index, f.term))
        return found

    def save(self, snapshot: Snapshot) -> Path:
        """Write ``snapshot`` durably under its own name, then prune all but the newest ``keep`` files."""
        if snapshot.is_empty():
            raise ValueError("an empty snapshot (index 0) is not saved")
        meta = snapshot.metadata
        blob = encode_snapshot(snapshot)
        path = self.directory / snapshot_file_name(meta.index, meta.term)
        temp = path.with_name(path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # the content must be durable before the name can point at it
            self.fsync_count += 1
        finally:
            os.close(fd)
        os.replace(temp, path)
        self._sync_directory()
        self._prune()
        return path

    def _sync_directory(self) -> None:
        dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
            self.fsync_count += 1
        finally:
            os.close(dir_fd)

    def _prune(self) -> None:
        files = self._files()
        for old in files[: -self.keep]:
            old.path.unlink()

    def load(self, index: int, term: int) -> Snapshot:
        """The snapshot at exactly ``(index, term)``; raises if it is missing or corrupt."""
        path = self.directory / snapshot_file_name(index, term)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise SnapshotNotFoundError(f"no snapshot file {path}") from None
        return self._verify(path, blob, index, term)

    def load_newest(self) -> Snapshot | None:
        """The newest snapshot that verifies, or None; corrupt newer files are set aside as ``.broken``."""
        for file in reversed(self._files()):
            try:
                return self._verify(file.path, file.path.read_bytes(), file.index, file.term)
            except SnapshotCorruptError as exc:
                log.warning("skipping a corrupt snapshot", path=str(file.path), reason=exc.reason)
                file.path.rename(file.path.with_name(file.path.name + ".broken"))
        return None

    @staticmethod
    def _verify(path: Path, blob: bytes, index: int, term: int) -> Snapshot:
        try:
            snapshot = decode_snapshot(blob)
        except ValueError as exc:  # UnicodeDecodeError included
            raise SnapshotCorruptError(path, str(exc)) from exc
        if (snapshot.metadata.index, snapshot.metadata.term) != (index, term):
            raise SnapshotCorruptError(path, "content does not match the file name")
        return snapshot

    def remove(self, index: int, term: int) -> None:
        """Delete the snapshot file at ``(index, term)``, if there is one."""
        (self.directory / snapshot_file_name(index, term)).unlink(missing_ok=True)

    def indexes(self) -> list[tuple[int, int]]:
        """``(index, term)`` of every snapshot file present, oldest first (unverified)."""
        return [(f.index, f.term) for f in self._files()]
