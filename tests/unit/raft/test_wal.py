"""The write-ahead log: what is saved comes back, torn tails are cut, and real corruption is refused."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.etcd.raft import wal as wal_module
from services.etcd.raft import wal_format
from services.etcd.raft.types import Entry, EntryType, HardState, SnapshotMetadata
from services.etcd.raft.wal import WAL, RecoveredState, WALCorruptError, WALError, WALLockedError

FRAME = 12  # magic, type, flags, length, crc
ENTRY_HEAD = 17  # term, index, type


def ents(first: int, last: int, term: int = 1, size: int = 8) -> list[Entry]:
    return [
        Entry(term=term, index=i, data=f"{i}:{term}".encode().ljust(size, b"."))
        for i in range(first, last + 1)
    ]


def entry_frame_size(entry: Entry) -> int:
    return FRAME + ENTRY_HEAD + len(entry.data)


def hard_state_frame_size(hs: HardState) -> int:
    return FRAME + 16 + 2 + len(hs.vote.encode())


def reopen(path: Path, **kwargs: int) -> RecoveredState:
    wal, state = WAL.open(path, **kwargs)
    wal.close()
    return state


def segments(path: Path) -> list[Path]:
    return sorted(path.glob("*.wal"))


def flip_bit(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------------------------------------
# Round trips


def test_open_on_an_empty_directory_starts_an_empty_log(tmp_path: Path) -> None:
    wal, state = WAL.open(tmp_path / "wal")
    wal.close()
    assert state == RecoveredState(hard_state=HardState(), snapshot=None, entries=())
    assert [p.name for p in segments(tmp_path / "wal")] == ["0000000000000001-0000000000000001.wal"]


def test_create_refuses_a_directory_that_already_holds_a_log(tmp_path: Path) -> None:
    WAL.create(tmp_path).close()
    with pytest.raises(FileExistsError):
        WAL.create(tmp_path)


def test_saved_hard_state_entries_and_marker_come_back_after_reopen(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1, vote="cp-1", commit=0), ents(1, 5))
    wal.save(HardState(term=2, vote="cp-2", commit=3), [Entry(2, 6, b"\x00\xffraw", EntryType.CONF_CHANGE)])
    wal.save_snapshot_marker(SnapshotMetadata(index=2, term=1, voters=("cp-1", "cp-2", "cp-3")))
    wal.close()

    state = reopen(tmp_path)
    assert state.hard_state == HardState(term=2, vote="cp-2", commit=3)
    assert state.snapshot == SnapshotMetadata(index=2, term=1, voters=("cp-1", "cp-2", "cp-3"))
    assert state.entries == (*ents(3, 5), Entry(2, 6, b"\x00\xffraw", EntryType.CONF_CHANGE))
    assert state.tail_bytes_cut == 0


def test_a_later_append_replaces_every_entry_from_its_index_on(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1, commit=2), ents(1, 10, term=1))
    wal.save(HardState(term=2, commit=2), ents(4, 6, term=2))
    wal.close()
    assert reopen(tmp_path).entries == (*ents(1, 3, term=1), *ents(4, 6, term=2))


def test_appending_after_reopen_continues_the_log(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 3))
    wal.close()
    wal, _ = WAL.open(tmp_path)
    wal.save(None, ents(4, 5))
    wal.close()
    assert reopen(tmp_path).entries == tuple(ents(1, 5))


def test_a_marker_matching_the_log_keeps_the_entries_after_it(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1, commit=8), ents(1, 10))
    wal.save_snapshot_marker(SnapshotMetadata(index=8, term=1))
    wal.close()
    state = reopen(tmp_path)
    assert state.snapshot == SnapshotMetadata(index=8, term=1)
    assert state.entries == tuple(ents(9, 10))


def test_a_marker_conflicting_with_the_log_drops_the_stale_tail(tmp_path: Path) -> None:
    # A follower with an uncommitted tail of term 1 installs a snapshot from a leader of term 3.
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 10, term=1))
    wal.save(HardState(term=3, commit=7), [], snapshot=SnapshotMetadata(index=7, term=3))
    assert wal.last_index == 7
    wal.save(None, ents(8, 8, term=3))
    wal.close()
    state = reopen(tmp_path)
    assert state.snapshot == SnapshotMetadata(index=7, term=3)
    assert state.entries == tuple(ents(8, 8, term=3))


def test_save_refuses_appends_that_would_break_the_log_and_writes_nothing(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 5))
    wal.save_snapshot_marker(SnapshotMetadata(index=3, term=1))
    size = segments(tmp_path)[-1].stat().st_size
    with pytest.raises(ValueError, match="gap"):
        wal.save(None, ents(7, 8))
    with pytest.raises(ValueError, match="contiguous"):
        wal.save(None, [*ents(6, 6), *ents(8, 8)])
    with pytest.raises(ValueError, match="older"):
        wal.save_snapshot_marker(SnapshotMetadata(index=2, term=1))
    assert segments(tmp_path)[-1].stat().st_size == size
    wal.save(None, ents(6, 6))  # the log is still usable
    wal.close()
    assert reopen(tmp_path).entries == tuple(ents(4, 6))


def test_entries_the_snapshot_already_covers_are_skipped_like_memory_storage_does(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 5, term=1))
    wal.save(None, ents(1, 6, term=2), snapshot=SnapshotMetadata(index=7, term=2))  # all covered
    wal.save(None, ents(6, 9, term=2))  # 6 and 7 covered, 8 and 9 kept
    wal.close()
    state = reopen(tmp_path)
    assert state.snapshot == SnapshotMetadata(index=7, term=2)
    assert state.entries == tuple(ents(8, 9, term=2))


def test_a_record_too_large_for_the_format_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal_format, "_MAX_PAYLOAD", 100)  # the real limit is 1 GiB
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 1))
    size = segments(tmp_path)[-1].stat().st_size
    with pytest.raises(ValueError, match="exceeds"):
        wal.save(HardState(term=2), [Entry(1, 2, bytes(200))])
    assert segments(tmp_path)[-1].stat().st_size == size
    wal.save(None, ents(2, 2))  # still usable: nothing reached the disk
    wal.close()
    assert reopen(tmp_path).entries == tuple(ents(1, 2))


# ---------------------------------------------------------------------------------------------------------
# Group commit


def test_each_save_call_fsyncs_exactly_once(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    for i in range(1, 11):
        wal.save(HardState(term=1, commit=i - 1), ents(i * 10 - 9, i * 10))
    assert wal.fsync_count == 10
    assert wal.dir_fsync_count == 0
    wal.close()


def test_a_save_with_nothing_new_does_not_fsync(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1, vote="a"), ents(1, 1))
    size = segments(tmp_path)[-1].stat().st_size
    wal.save(None, [])
    wal.save(HardState(term=1, vote="a"), [])  # unchanged
    wal.save(HardState(), [])  # empty means "no change"
    assert wal.fsync_count == 1
    assert segments(tmp_path)[-1].stat().st_size == size
    wal.close()


def test_a_save_without_sync_writes_but_does_not_fsync_until_the_next_synced_save(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1, commit=0), ents(1, 3))
    wal.save(HardState(term=1, commit=3), [], sync=False)  # a commit-only change, as Ready.must_sync allows
    assert wal.fsync_count == 1
    wal.save(None, ents(4, 4))
    assert wal.fsync_count == 2
    wal.save(HardState(term=1, commit=4), [], sync=False)
    wal.close()  # a clean close fsyncs what is pending
    assert wal.fsync_count == 3
    state = reopen(tmp_path)
    assert state.hard_state == HardState(term=1, commit=4)
    assert state.entries == tuple(ents(1, 4))


def test_rolling_over_fsyncs_a_segment_left_unsynced_so_only_the_last_can_be_torn(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 3))
    wal.close()
    # The first segment is now just below the limit, so the unsynced save lands in it.
    wal, _ = WAL.open(tmp_path, segment_size=segments(tmp_path)[0].stat().st_size + 1)
    wal.save(HardState(term=1, commit=3), [], sync=False)
    assert wal.fsync_count == 0
    wal.save(None, ents(4, 4))  # rolls: the old segment's unsynced tail is fsynced first
    assert wal.fsync_count == 2
    assert len(wal.segment_paths) == 2
    wal.close()


def test_rolling_to_a_new_segment_fsyncs_the_file_once_and_the_directory_once(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=200)
    wal.save(HardState(term=1), ents(1, 10))  # fills the first segment past 200 bytes
    wal.save(None, ents(11, 11))  # rolls
    assert wal.segments_created == 1
    assert wal.fsync_count == 2
    assert wal.dir_fsync_count == 1
    wal.close()


# ---------------------------------------------------------------------------------------------------------
# Segments


def test_segments_roll_over_and_replay_as_one_log(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=300)
    for i in range(1, 41):
        wal.save(HardState(term=1 + i // 10, commit=i - 1), ents(i, i, term=1 + i // 10))
    wal.close()
    names = [p.name for p in segments(tmp_path)]
    assert len(names) > 5
    assert names[1].startswith("0000000000000002-")
    state = reopen(tmp_path)
    assert state.hard_state == HardState(term=5, commit=39)
    assert [e.index for e in state.entries] == list(range(1, 41))


def test_an_overwrite_reaching_back_into_an_earlier_segment_wins(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=150)
    for i in range(1, 21):
        wal.save(HardState(term=1), ents(i, i, term=1))
    wal.save(HardState(term=2), ents(5, 7, term=2))
    wal.save(None, ents(8, 8, term=2))
    wal.close()
    assert reopen(tmp_path, segment_size=150).entries == (*ents(1, 4, term=1), *ents(5, 8, term=2))


def test_release_to_deletes_only_segments_wholly_below_the_index(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=200)
    for i in range(1, 31):
        wal.save(HardState(term=1, vote="x", commit=i), ents(i, i))
    wal.save_snapshot_marker(SnapshotMetadata(index=20, term=1, voters=("a",)))
    before = wal.segment_paths
    wal.release_to(20)
    after = wal.segment_paths
    wal.close()

    assert len(after) < len(before)
    first_index = int(after[0].name.split("-")[1].split(".")[0], 16)
    assert first_index <= 20  # the segment holding index 20 is kept
    second_index = int(after[1].name.split("-")[1].split(".")[0], 16)
    assert second_index > 20
    state = reopen(tmp_path, segment_size=200)
    assert state.snapshot == SnapshotMetadata(index=20, term=1, voters=("a",))
    assert state.hard_state == HardState(term=1, vote="x", commit=30)
    assert state.entries == tuple(ents(21, 30))


def test_state_recorded_only_in_released_segments_survives_through_segment_headers(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=100)
    wal.save(HardState(term=7, vote="v", commit=3), ents(1, 5))
    wal.save_snapshot_marker(SnapshotMetadata(index=5, term=1, voters=("v",)))
    for i in range(6, 12):
        wal.save(None, ents(i, i))  # no hard state and no marker in these segments' batches
    wal.release_to(5)
    wal.close()
    state = reopen(tmp_path, segment_size=100)
    assert state.hard_state == HardState(term=7, vote="v", commit=3)
    assert state.snapshot == SnapshotMetadata(index=5, term=1, voters=("v",))
    assert state.entries == tuple(ents(6, 11))


def test_an_overwrite_reaching_below_the_first_kept_segment_replays_after_release(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=64)
    wal.save(HardState(term=1), ents(1, 5, term=1))
    wal.save(HardState(term=2), ents(3, 8, term=2))  # rolls: segment 2 starts at 6 but rewrites 3..5
    wal.save_snapshot_marker(SnapshotMetadata(index=7, term=2))
    wal.release_to(7)
    assert len(wal.segment_paths) < 3
    wal.close()
    state = reopen(tmp_path)
    assert state.snapshot == SnapshotMetadata(index=7, term=2)
    assert state.entries == tuple(ents(8, 8, term=2))


def test_an_old_marker_copied_at_the_head_of_the_first_kept_segment_is_ignored(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=64)
    wal.save(HardState(term=1), ents(1, 10))
    wal.save_snapshot_marker(SnapshotMetadata(index=2, term=1))
    wal.save(None, ents(11, 20))  # rolls: segment 2 starts with a copy of the marker at 2
    wal.save_snapshot_marker(SnapshotMetadata(index=15, term=1))
    wal.release_to(15)
    wal.close()
    assert not (tmp_path / "0000000000000001-0000000000000001.wal").exists()
    state = reopen(tmp_path)
    assert state.snapshot == SnapshotMetadata(index=15, term=1)
    assert state.entries == tuple(ents(16, 20))


def test_a_lost_first_segment_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=64)
    for i in range(1, 5):
        wal.save(None, ents(i, i))
    wal.close()
    segments(tmp_path)[0].unlink()  # no snapshot marker covers what it held
    with pytest.raises(WALCorruptError, match="released but no snapshot"):
        WAL.open(tmp_path)


def test_a_destroyed_header_of_the_only_segment_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.close()
    only = segments(tmp_path)[0]
    only.write_bytes(bytes(only.stat().st_size))
    with pytest.raises(WALCorruptError, match="only segment"):
        WAL.open(tmp_path)


def test_release_to_beyond_the_snapshot_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=100)
    wal.save(HardState(term=1), ents(1, 20))
    with pytest.raises(ValueError, match="snapshot"):
        wal.release_to(5)
    wal.close()


def test_a_second_open_of_the_same_directory_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    with pytest.raises(WALLockedError):
        WAL.open(tmp_path)
    wal.close()
    reopen(tmp_path)


def test_a_failed_write_makes_the_log_unusable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 1))

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(wal_module, "_fdatasync", broken_fsync)
    with pytest.raises(OSError):
        wal.save(None, ents(2, 2))
    monkeypatch.undo()
    with pytest.raises(WALError, match="failed"):
        wal.save(None, ents(2, 2))  # never retry an fsync that failed
    wal.close()


# ---------------------------------------------------------------------------------------------------------
# Torn tails are cut


def _log_with_prefix(path: Path) -> tuple[RecoveredState, int]:
    """Write a few batches; return the state they make and the file size after them."""
    wal, _ = WAL.open(path)
    wal.save(HardState(term=1, vote="a", commit=0), ents(1, 3))
    wal.save(HardState(term=2, vote="b", commit=2), ents(3, 5, term=2))
    wal.close()
    return reopen(path), segments(path)[-1].stat().st_size


def test_truncating_the_last_record_at_every_byte_recovers_exactly_the_prefix(tmp_path: Path) -> None:
    source = tmp_path / "source"
    prefix, size_before = _log_with_prefix(source)
    wal, _ = WAL.open(source)
    wal.save(None, ents(6, 6, term=2, size=40))
    wal.close()
    size_after = segments(source)[-1].stat().st_size
    assert size_after - size_before == entry_frame_size(ents(6, 6, 2, 40)[0])

    for cut in range(size_before, size_after):
        copy = tmp_path / f"cut{cut}"
        shutil.copytree(source, copy)
        os.truncate(segments(copy)[-1], cut)
        wal, state = WAL.open(copy)
        assert state.entries == prefix.entries, cut
        assert state.hard_state == prefix.hard_state
        assert state.tail_bytes_cut == cut - size_before
        assert segments(copy)[-1].stat().st_size == size_before  # the torn bytes are gone from the file
        wal.save(None, ents(6, 6, term=3))  # appending after the cut writes a readable record
        wal.close()
        assert reopen(copy).entries == (*prefix.entries, *ents(6, 6, term=3))
        shutil.rmtree(copy)


def test_truncating_a_multi_record_batch_recovers_the_records_written_whole(tmp_path: Path) -> None:
    source = tmp_path / "source"
    prefix, size_before = _log_with_prefix(source)
    batch = ents(6, 8, term=3)
    hard = HardState(term=3, vote="c", commit=6)
    wal, _ = WAL.open(source)
    wal.save(hard, batch)
    wal.close()
    ends = [size_before]
    for entry in batch:
        ends.append(ends[-1] + entry_frame_size(entry))
    ends.append(ends[-1] + hard_state_frame_size(hard))
    assert segments(source)[-1].stat().st_size == ends[-1]

    for cut in range(size_before, ends[-1] + 1):
        copy = tmp_path / f"cut{cut}"
        shutil.copytree(source, copy)
        os.truncate(segments(copy)[-1], cut)
        state = reopen(copy)
        whole = sum(1 for end in ends[1:] if end <= cut)
        assert state.entries == (*prefix.entries, *batch[: min(whole, 3)]), cut
        assert state.hard_state == (hard if whole == 4 else prefix.hard_state)
        shutil.rmtree(copy)


def test_a_zero_filled_tail_is_cut(tmp_path: Path) -> None:
    prefix, size = _log_with_prefix(tmp_path)
    with segments(tmp_path)[-1].open("ab") as f:
        f.write(bytes(4096))
    state = reopen(tmp_path)
    assert state.entries == prefix.entries
    assert state.tail_bytes_cut == 4096
    assert segments(tmp_path)[-1].stat().st_size == size


def test_a_partial_record_followed_by_zeros_is_cut(tmp_path: Path) -> None:
    # A torn write into preallocated space: the start of a record, then what the disk held before.
    prefix, size = _log_with_prefix(tmp_path)
    wal, _ = WAL.open(tmp_path)
    wal.save(None, ents(6, 6, term=2, size=100))
    wal.close()
    data = segments(tmp_path)[-1].read_bytes()
    segments(tmp_path)[-1].write_bytes(data[: size + 30] + bytes(len(data) - size - 30 + 512))
    assert reopen(tmp_path).entries == prefix.entries


def test_a_flipped_bit_anywhere_in_the_last_record_is_detected_and_cut(tmp_path: Path) -> None:
    source = tmp_path / "source"
    prefix, size_before = _log_with_prefix(source)
    wal, _ = WAL.open(source)
    wal.save(None, ents(6, 6, term=2))
    wal.close()
    size_after = segments(source)[-1].stat().st_size

    for offset in range(size_before, size_after):
        copy = tmp_path / f"flip{offset}"
        shutil.copytree(source, copy)
        flip_bit(segments(copy)[-1], offset, bit=offset % 8)
        state = reopen(copy)
        assert state.entries == prefix.entries, offset
        assert segments(copy)[-1].stat().st_size == size_before
        shutil.rmtree(copy)


def test_a_write_that_dies_halfway_leaves_a_tail_that_the_next_open_cuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, size = _log_with_prefix(tmp_path)
    real_write_all = wal_module._write_all

    def dies_halfway(fd: int, data: bytes) -> None:
        real_write_all(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    wal, _ = WAL.open(tmp_path)
    monkeypatch.setattr(wal_module, "_write_all", dies_halfway)
    with pytest.raises(OSError):
        wal.save(HardState(term=9, commit=5), ents(6, 9, term=3))
    monkeypatch.undo()
    wal.close()
    assert segments(tmp_path)[-1].stat().st_size > size
    wal, state = WAL.open(tmp_path)
    # Whole records of the dead batch may survive (it was never acknowledged); the hard state, last, cannot.
    assert state.entries[: len(prefix.entries)] == prefix.entries
    assert state.hard_state == prefix.hard_state
    wal.save(HardState(term=9, commit=5), ents(6, 9, term=3))
    wal.close()
    assert reopen(tmp_path).entries == (*prefix.entries, *ents(6, 9, term=3))


def test_a_torn_new_segment_from_a_crash_during_roll_over_is_removed(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=100)
    wal.save(HardState(term=1), ents(1, 10))
    wal.close()
    (tmp_path / "0000000000000002-000000000000000b.wal").write_bytes(b"\xa7\x5e\x01")
    wal, state = WAL.open(tmp_path, segment_size=100)
    assert state.entries == tuple(ents(1, 10))
    assert len(segments(tmp_path)) == 1
    wal.save(None, ents(11, 11))  # rolls again, under the same name
    wal.close()
    assert reopen(tmp_path).entries == tuple(ents(1, 11))


# ---------------------------------------------------------------------------------------------------------
# Corruption is refused


def test_a_flipped_bit_anywhere_in_a_middle_record_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    wal, _ = WAL.open(source)
    wal.save(HardState(term=1), ents(1, 2))
    start = segments(source)[-1].stat().st_size
    wal.save(None, ents(3, 3))
    end = segments(source)[-1].stat().st_size
    wal.save(None, ents(4, 5))
    wal.close()

    for offset in range(start, end):
        copy = tmp_path / f"flip{offset}"
        shutil.copytree(source, copy)
        flip_bit(segments(copy)[-1], offset, bit=(offset * 3) % 8)
        with pytest.raises(WALCorruptError) as caught:
            WAL.open(copy)
        assert caught.value.offset == start, offset
        assert caught.value.path == segments(copy)[-1]
        assert str(segments(copy)[-1]) in str(caught.value)
        shutil.rmtree(copy)


def test_a_flipped_bit_in_a_non_last_segment_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=100)
    for i in range(1, 11):
        wal.save(HardState(term=1), ents(i, i))
    wal.close()
    first = segments(tmp_path)[0]
    size = first.stat().st_size
    flip_bit(first, size - 1)  # inside the segment's last record: nothing valid follows in that file
    with pytest.raises(WALCorruptError, match="not the last segment") as caught:
        WAL.open(tmp_path, segment_size=100)
    assert caught.value.path == first


def test_a_non_last_segment_that_lost_whole_records_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=100)
    for i in range(1, 11):
        wal.save(None, ents(i, i))
    wal.close()
    first = segments(tmp_path)[0]
    last_entry = entry_frame_size(ents(1, 1)[0])
    os.truncate(first, first.stat().st_size - last_entry)  # cut exactly at a record boundary
    with pytest.raises(WALCorruptError, match="previous segment"):
        WAL.open(tmp_path, segment_size=100)


def test_a_missing_segment_is_refused(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path, segment_size=100)
    for i in range(1, 11):
        wal.save(None, ents(i, i))
    wal.close()
    assert len(segments(tmp_path)) >= 3
    segments(tmp_path)[1].unlink()
    with pytest.raises(WALCorruptError, match="missing"):
        WAL.open(tmp_path)


def test_a_segment_renamed_to_claim_other_indexes_is_refused(tmp_path: Path) -> None:
    WAL.create(tmp_path).close()
    segments(tmp_path)[0].rename(tmp_path / "0000000000000001-0000000000000009.wal")
    with pytest.raises(WALCorruptError, match="header says"):
        WAL.open(tmp_path)


def _crafted(kind: str) -> bytes:
    """A record with a valid checksum but content no writer of this module produces."""
    w = wal_format
    payloads = {
        "gap": (w._REC_ENTRY, w._entry_payload(Entry(1, 9))),
        "header": (w._REC_HEADER, w._SEGMENT_HEADER.pack(b"KNWL", 1, 1, 1, 0)),
        "flags": (w._REC_MARKER, w._MARKER_HEAD.pack(4, 1, 0x80, 0)),
        "trailing": (w._REC_HARD_STATE, w._hard_state_payload(HardState(term=1)) + b"x"),
        "compaction": (w._REC_MARKER, w._marker_payload(SnapshotMetadata(9, 1), replaces_log=False)),
        "older": (w._REC_MARKER, w._marker_payload(SnapshotMetadata(2, 1), replaces_log=False)),
        "below": (w._REC_ENTRY, w._entry_payload(Entry(1, 2))),
    }
    return w._frame(*payloads[kind])[0]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("gap", "gap"),
        ("header", "header inside"),
        ("flags", "undecodable"),
        ("trailing", "undecodable"),
        ("compaction", "does not match"),
        ("older", "older than 3"),
        ("below", "at or below the snapshot"),
    ],
)
def test_a_checksummed_record_that_contradicts_the_log_is_refused(
    tmp_path: Path, kind: str, reason: str
) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.save(HardState(term=1), ents(1, 5))
    wal.save_snapshot_marker(SnapshotMetadata(index=3, term=1))
    wal.close()
    with segments(tmp_path)[-1].open("ab") as f:
        f.write(_crafted(kind) + bytes(100))  # and a torn tail, which must not be cut from a refused log
    before = segments(tmp_path)[-1].read_bytes()
    with pytest.raises(WALCorruptError, match=reason):
        WAL.open(tmp_path)
    assert segments(tmp_path)[-1].read_bytes() == before


# ---------------------------------------------------------------------------------------------------------
# Property: any sequence of saves, markers, releases and reopens replays to what an in-memory model holds


@dataclass
class Model:
    hard_state: HardState = field(default_factory=HardState)
    snapshot: SnapshotMetadata | None = None
    log: list[Entry] = field(default_factory=list)

    @property
    def anchor(self) -> int:
        return self.snapshot.index if self.snapshot else 0

    @property
    def last(self) -> int:
        return self.anchor + len(self.log)

    def term(self, index: int) -> int | None:
        if index == self.anchor:
            return self.snapshot.term if self.snapshot else 0
        if self.anchor < index <= self.last:
            return self.log[index - self.anchor - 1].term
        return None

    def append(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            if entry.index <= self.anchor:
                continue  # covered by the snapshot
            del self.log[entry.index - self.anchor - 1 :]
            self.log.append(entry)

    def batch(self, a: int, count: int, term: int) -> list[Entry]:
        """``count`` entries from a valid start: anywhere from a little below the snapshot to last + 1."""
        low = max(1, self.anchor - 2)
        first = low + a % (self.last - low + 2)
        return [Entry(term, i, bytes([a % 256]) * (a % 7)) for i in range(first, first + count)]

    def mark(self, meta: SnapshotMetadata) -> None:
        if meta.index == self.anchor:
            self.snapshot = meta
            return
        if self.term(meta.index) == meta.term:
            del self.log[: meta.index - self.anchor]
        else:
            self.log.clear()
        self.snapshot = meta

    def recovered(self) -> tuple[HardState, SnapshotMetadata | None, tuple[Entry, ...]]:
        return self.hard_state, self.snapshot, tuple(self.log)


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, int, int, int]]:
    """Abstract steps (kind, a, b, c), resolved against the model when run so every step is valid."""
    kinds = st.sampled_from(["save", "save", "save", "save", "mark", "release", "reopen"])
    return draw(
        st.lists(
            st.tuples(kinds, st.integers(0, 1000), st.integers(0, 5), st.integers(1, 4)),
            min_size=1,
            max_size=40,
        )
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations(), segment_size=st.sampled_from([64, 256, 4096]))
# A snapshot that replaced the log, in a segment whose predecessor holding the replaced entries was released.
@example(
    ops=[("save", 0, 2, 1), ("save", 158, 1, 1), ("mark", 1, 0, 2), ("mark", 0, 0, 1), ("release", 0, 0, 1)],
    segment_size=64,
)
def test_any_sequence_of_saves_replays_to_the_in_memory_model(
    ops: list[tuple[str, int, int, int]], segment_size: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        model = Model()
        wal, _ = WAL.open(directory, segment_size=segment_size)
        try:
            for kind, a, b, c in ops:
                if kind == "save":
                    batch = model.batch(a, b, c)
                    hs = HardState(term=c, vote=f"m{a % 3}", commit=min(model.last, a)) if a % 2 else None
                    wal.save(hs, batch, sync=a % 5 != 0)
                    model.append(batch)
                    if hs is not None and not hs.is_empty():
                        model.hard_state = hs
                elif kind == "mark":
                    index = model.anchor + 1 + a % (model.last - model.anchor + 2)
                    known = model.term(index)
                    term = known if known is not None and b % 2 else c
                    meta = SnapshotMetadata(
                        index=index, term=term, voters=tuple(f"v{i}" for i in range(b % 3))
                    )
                    model.mark(meta)
                    batch = model.batch(a // 7, b // 2, term)  # a follower's Ready: snapshot, then entries
                    wal.save(None, batch, snapshot=meta)
                    model.append(batch)
                elif kind == "release":
                    wal.release_to(model.anchor)
                else:
                    wal.close()
                    wal, state = WAL.open(directory, segment_size=segment_size)
                    assert (state.hard_state, state.snapshot, state.entries) == model.recovered()
        finally:
            wal.close()
        state = reopen(Path(directory), segment_size=segment_size)
        assert (state.hard_state, state.snapshot, state.entries) == model.recovered()
        assert state.tail_bytes_cut == 0
