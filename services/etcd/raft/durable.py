"""A member's durable Raft state on disk: the write-ahead log and the snapshot files, kept consistent.

Layout: ``<dir>/wal/`` (``wal.WAL``) and ``<dir>/snap/`` (``snapshotter.Snapshotter``). ``persist`` writes a
``Ready``'s parts in the only safe order: the snapshot file (fsynced and renamed into place), then, in one
WAL write with one fsync, the snapshot marker, the entries and the hard state; only then are WAL segments
wholly below the snapshot deleted. A crash between the first two steps leaves a snapshot file that no
marker names; ``open`` deletes it, because nothing was acknowledged on the strength of it.

``open`` returns exactly what a restarting member needs: the hard state, the snapshot the WAL's last
marker names (verified; a missing or corrupt one is an error, since the entries it covers may already be
released), and the entries after it. ``RestartState.rebuild`` loads them into a ``MemoryStorage``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.etcd.raft.snapshotter import SnapshotError, Snapshotter
from services.etcd.raft.types import Entry, HardState, Snapshot
from services.etcd.raft.wal import DEFAULT_SEGMENT_SIZE, WAL
from shared.logging import get_logger

log = get_logger(__name__)


class DurableStateError(Exception):
    """The WAL and the snapshot files do not fit together; the member must not start."""


class RebuildTarget(Protocol):
    """The writes of ``storage.MemoryStorage`` that a restart needs."""

    def apply_snapshot(self, snapshot: Snapshot) -> None: ...

    def append(self, entries: Sequence[Entry]) -> None: ...

    def set_hard_state(self, hard_state: HardState) -> None: ...


@dataclass(frozen=True, slots=True)
class RestartState:
    hard_state: HardState
    snapshot: Snapshot | None
    entries: tuple[Entry, ...]
    """The entries after the snapshot's index (from index 1 without a snapshot)."""

    def rebuild(self, storage: RebuildTarget) -> None:
        """Load this state into a fresh in-memory storage, snapshot first, as the driver would."""
        if self.snapshot is not None:
            storage.apply_snapshot(self.snapshot)
        storage.append(self.entries)
        storage.set_hard_state(self.hard_state)


class DurableState:
    """The WAL and snapshotter of one member, written together. Not thread-safe, like ``WAL``."""

    def __init__(self, wal: WAL, snapshotter: Snapshotter) -> None:
        self.wal = wal
        self.snapshotter = snapshotter

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        keep_snapshots: int = 3,
    ) -> tuple[DurableState, RestartState]:
        root = Path(directory)
        snapshotter = Snapshotter(root / "snap", keep=keep_snapshots)
        wal, recovered = WAL.open(root / "wal", segment_size=segment_size)
        try:
            snapshot = None
            marker = recovered.snapshot
            marked = (marker.index, marker.term) if marker is not None else (0, 0)
            for index, term in snapshotter.indexes():
                if (index, term) > marked:
                    log.warning("removing a snapshot no wal marker names", index=index, term=term)
                    snapshotter.remove(index, term)
            if marker is not None:
                try:
                    snapshot = snapshotter.load(marker.index, marker.term)
                except SnapshotError as exc:
                    raise DurableStateError(
                        f"the snapshot the wal names, ({marker.index}, {marker.term}), is unusable: {exc}"
                    ) from exc
        except BaseException:
            wal.close()
            raise
        state = RestartState(hard_state=recovered.hard_state, snapshot=snapshot, entries=recovered.entries)
        return cls(wal, snapshotter), state

    def persist(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None = None,
        *,
        sync: bool = True,
    ) -> None:
        """Make one ``Ready``'s snapshot, entries and hard state durable (see the module docstring).

        ``sync=False`` is for a ``Ready`` whose ``must_sync`` is false; a snapshot is always synced.
        """
        if snapshot is not None and snapshot.is_empty():
            snapshot = None
        if snapshot is not None:
            # The file first: a WAL marker must never name a snapshot that is not on disk.
            self.snapshotter.save(snapshot)
        meta = snapshot.metadata if snapshot is not None else None
        self.wal.save(hard_state, entries, snapshot=meta, sync=sync or snapshot is not None)
        if snapshot is not None:
            self.wal.release_to(snapshot.metadata.index)

    def close(self) -> None:
        self.wal.close()
