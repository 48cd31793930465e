"""Snapshot files: saved atomically, verified on load, a corrupt newest one set aside, old ones pruned;
and, with the WAL, a restart gets back the snapshot the WAL names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from services.etcd.raft.durable import DurableState, DurableStateError, RestartState
from services.etcd.raft.snapshotter import (
    SnapshotCorruptError,
    SnapshotNotFoundError,
    Snapshotter,
    snapshot_file_name,
)
from services.etcd.raft.types import Entry, HardState, Snapshot, SnapshotMetadata


def snap(index: int, term: int = 1, data: bytes = b"state") -> Snapshot:
    return Snapshot(SnapshotMetadata(index=index, term=term, voters=("cp-1", "cp-2", "cp-3")), data)


def test_a_saved_snapshot_loads_back_equal(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    snapshot = snap(10, 2, bytes(range(256)) * 100)
    path = snapshotter.save(snapshot)
    assert path.name == snapshot_file_name(10, 2)
    assert Snapshotter(tmp_path).load_newest() == snapshot
    assert Snapshotter(tmp_path).load(10, 2) == snapshot


def test_an_empty_directory_has_no_snapshot(tmp_path: Path) -> None:
    assert Snapshotter(tmp_path / "snap").load_newest() is None


def test_the_newest_snapshot_is_the_one_with_the_highest_index(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    for index in (5, 300, 20):  # 300 > 20 although "20" sorts after "300" as text
        snapshotter.save(snap(index))
    newest = snapshotter.load_newest()
    assert newest is not None and newest.metadata.index == 300


def test_save_fsyncs_the_file_then_the_directory_and_leaves_no_temp_file(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    snapshotter.save(snap(1))
    assert snapshotter.fsync_count == 2
    assert [p.name for p in tmp_path.iterdir()] == [snapshot_file_name(1, 1)]


def test_a_corrupt_newest_snapshot_is_set_aside_and_the_older_one_loaded(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    snapshotter.save(snap(5, data=b"old"))
    newest = snapshotter.save(snap(9, data=b"new" * 50))
    blob = bytearray(newest.read_bytes())
    blob[-10] ^= 0x40
    newest.write_bytes(bytes(blob))

    loaded = Snapshotter(tmp_path).load_newest()
    assert loaded == snap(5, data=b"old")
    assert not newest.exists()
    assert newest.with_name(newest.name + ".broken").exists()


def test_a_truncated_newest_snapshot_is_set_aside_too(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    snapshotter.save(snap(5))
    newest = snapshotter.save(snap(9))
    newest.write_bytes(newest.read_bytes()[:20])
    assert Snapshotter(tmp_path).load_newest() == snap(5)


def test_a_file_whose_content_does_not_match_its_name_is_corrupt(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    path = snapshotter.save(snap(5))
    path.rename(tmp_path / snapshot_file_name(6, 1))
    with pytest.raises(SnapshotCorruptError, match="file name"):
        snapshotter.load(6, 1)
    assert snapshotter.load_newest() is None


def test_load_of_an_exact_snapshot_refuses_rather_than_falls_back(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path)
    snapshotter.save(snap(5))
    path = snapshotter.save(snap(9))
    path.write_bytes(b"garbage")
    with pytest.raises(SnapshotCorruptError):
        snapshotter.load(9, 1)
    with pytest.raises(SnapshotNotFoundError):
        snapshotter.load(7, 1)


def test_temporary_files_are_ignored_and_removed(tmp_path: Path) -> None:
    Snapshotter(tmp_path).save(snap(5))
    (tmp_path / (snapshot_file_name(9, 1) + ".tmp")).write_bytes(b"half a snapsh")
    snapshotter = Snapshotter(tmp_path)
    assert snapshotter.load_newest() == snap(5)
    assert snapshotter.indexes() == [(5, 1)]
    assert not list(tmp_path.glob("*.tmp"))


def test_only_the_newest_snapshots_are_kept(tmp_path: Path) -> None:
    snapshotter = Snapshotter(tmp_path, keep=2)
    for index in range(1, 6):
        snapshotter.save(snap(index * 10))
    assert snapshotter.indexes() == [(40, 1), (50, 1)]


# ---------------------------------------------------------------------------------------------------------
# Snapshot files together with the WAL (durable.DurableState)


class RecordingStorage:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        self.calls.append(("apply_snapshot", snapshot))

    def append(self, entries: Sequence[Entry]) -> None:
        self.calls.append(("append", tuple(entries)))

    def set_hard_state(self, hard_state: HardState) -> None:
        self.calls.append(("set_hard_state", hard_state))


def entries(first: int, last: int, term: int = 1) -> list[Entry]:
    return [Entry(term, i, f"cmd {i}".encode()) for i in range(first, last + 1)]


def test_a_restart_gets_back_the_snapshot_the_wal_names_and_the_entries_after_it(tmp_path: Path) -> None:
    durable, state = DurableState.open(tmp_path, segment_size=200)
    assert state == RestartState(HardState(), None, ())
    durable.persist(HardState(term=1, vote="cp-1", commit=10), entries(1, 12))
    durable.persist(None, [], snap(10, data=b"applied through 10"))
    durable.persist(HardState(term=1, vote="cp-1", commit=13), entries(13, 14))
    durable.close()

    durable, state = DurableState.open(tmp_path, segment_size=200)
    durable.close()
    assert state.snapshot == snap(10, data=b"applied through 10")
    assert state.entries == tuple(entries(11, 14))
    assert state.hard_state == HardState(term=1, vote="cp-1", commit=13)
    storage = RecordingStorage()
    state.rebuild(storage)
    assert [name for name, _ in storage.calls] == ["apply_snapshot", "append", "set_hard_state"]


def test_persisting_a_snapshot_releases_the_wal_segments_below_it(tmp_path: Path) -> None:
    durable, _ = DurableState.open(tmp_path, segment_size=100)
    for i in range(1, 21):
        durable.persist(HardState(term=1, commit=i), entries(i, i))
    before = len(list((tmp_path / "wal").glob("*.wal")))
    durable.persist(None, [], snap(18))
    after = len(list((tmp_path / "wal").glob("*.wal")))
    durable.close()
    assert after < before
    durable, state = DurableState.open(tmp_path, segment_size=100)
    durable.close()
    assert state.snapshot == snap(18)
    assert state.entries == tuple(entries(19, 20))


def test_a_follower_snapshot_replaces_its_conflicting_log_in_one_persist(tmp_path: Path) -> None:
    durable, _ = DurableState.open(tmp_path)
    durable.persist(HardState(term=1), entries(1, 10, term=1))
    durable.persist(HardState(term=3, commit=8), entries(9, 9, term=3), snap(8, term=3))
    assert durable.wal.fsync_count == 2
    durable.close()
    durable, state = DurableState.open(tmp_path)
    durable.close()
    assert state.snapshot == snap(8, term=3)
    assert state.entries == tuple(entries(9, 9, term=3))


def test_a_snapshot_file_no_wal_marker_names_is_removed_on_open(tmp_path: Path) -> None:
    durable, _ = DurableState.open(tmp_path)
    durable.persist(HardState(term=1), entries(1, 10))
    durable.persist(None, [], snap(5))
    durable.close()
    Snapshotter(tmp_path / "snap").save(snap(9))  # a crash before the WAL marker was written

    durable, state = DurableState.open(tmp_path)
    durable.close()
    assert state.snapshot == snap(5)
    assert state.entries == tuple(entries(6, 10))
    assert Snapshotter(tmp_path / "snap").indexes() == [(5, 1)]


def test_a_missing_snapshot_named_by_the_wal_stops_the_restart(tmp_path: Path) -> None:
    durable, _ = DurableState.open(tmp_path)
    durable.persist(HardState(term=1), entries(1, 10))
    durable.persist(None, [], snap(5))
    durable.close()
    (tmp_path / "snap" / snapshot_file_name(5, 1)).unlink()
    with pytest.raises(DurableStateError, match=r"\(5, 1\)"):
        DurableState.open(tmp_path)
    DurableState.open(tmp_path / "other")[0].close()
    with pytest.raises(DurableStateError):  # the WAL lock was released: the error is repeatable
        DurableState.open(tmp_path)
