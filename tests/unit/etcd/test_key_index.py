"""The per-key index: generations, tombstones, reads at a revision and compaction (etcd's key_index.go)."""

from __future__ import annotations

import pytest

from services.etcd.mvcc import KeyIndex, Revision
from services.etcd.mvcc.revision import MAX_SUB


def example() -> KeyIndex:
    """The worked example of key_index.py: put 2, put 3, delete 5.1, put 7."""
    ki = KeyIndex("a")
    ki.put(Revision(2, 0))
    ki.put(Revision(3, 0))
    ki.tombstone(Revision(5, 1))
    ki.put(Revision(7, 0))
    return ki


def revs(ki: KeyIndex) -> list[list[str]]:
    return [[str(r) for r in g.revs] for g in ki.generations]


def test_revisions_order_by_main_then_sub() -> None:
    assert Revision(4, 0) < Revision(4, 1) < Revision(5, 0) < Revision(5, MAX_SUB) < Revision(6, 0)
    assert sorted([Revision(5, 0), Revision(4, 1), Revision(4, 0)]) == [(4, 0), (4, 1), (5, 0)]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (1, None),  # before the key existed
        (2, (Revision(2, 0), 2, 1)),
        (3, (Revision(3, 0), 2, 2)),
        (4, (Revision(3, 0), 2, 2)),
        (5, None),  # deleted at 5
        (6, None),
        (7, (Revision(7, 0), 7, 1)),  # re-created: new create revision, version 1
        (100, (Revision(7, 0), 7, 1)),
    ],
)
def test_get_returns_mod_create_and_version_as_of_a_revision(
    at: int, expected: tuple[Revision, int, int] | None
) -> None:
    assert example().get(at) == expected


def test_tombstone_closes_the_generation_and_opens_an_empty_one() -> None:
    ki = example()
    assert revs(ki) == [["2.0", "3.0", "5.1"], ["7.0"]]
    ki.tombstone(Revision(8, 0))
    assert revs(ki) == [["2.0", "3.0", "5.1"], ["7.0", "8.0"], []]
    assert ki.current() is None


def test_tombstone_of_a_deleted_key_is_refused() -> None:
    ki = KeyIndex("a")
    with pytest.raises(ValueError, match="does not exist"):
        ki.tombstone(Revision(2, 0))


def test_put_must_move_forward() -> None:
    ki = example()
    with pytest.raises(ValueError, match="not after"):
        ki.put(Revision(7, 0))


@pytest.mark.parametrize(
    ("at", "expected", "kept"),
    [
        (1, [["2.0", "3.0", "5.1"], ["7.0"]], set()),
        (2, [["2.0", "3.0", "5.1"], ["7.0"]], {Revision(2, 0)}),
        (3, [["3.0", "5.1"], ["7.0"]], {Revision(3, 0)}),
        (4, [["3.0", "5.1"], ["7.0"]], {Revision(3, 0)}),
        # The tombstone at the compact revision stays, so a watch from 5 still sees the delete.
        (5, [["5.1"], ["7.0"]], {Revision(5, 1)}),
        (6, [["7.0"]], set()),
        (7, [["7.0"]], {Revision(7, 0)}),
    ],
)
def test_compact_keeps_the_latest_revision_at_or_below_it_and_everything_after(
    at: int, expected: list[list[str]], kept: set[Revision]
) -> None:
    ki = example()
    available: set[Revision] = set()
    ki.compact(at, available)
    assert revs(ki) == expected
    assert available == kept
    # Reads at the compact revision and after are unchanged.
    for rev in range(at, 9):
        assert ki.get(rev) == example().get(rev), rev


def test_a_deleted_key_compacted_past_its_tombstone_is_empty() -> None:
    ki = KeyIndex("a")
    ki.put(Revision(2, 0))
    ki.tombstone(Revision(3, 0))
    ki.compact(3, set())
    assert not ki.is_empty()  # the tombstone at 3 is kept for one more compaction
    ki.compact(4, set())
    assert ki.is_empty()


def test_restore_from_a_surviving_record_reads_like_the_original() -> None:
    original = example()
    original.compact(3, set())
    restored = KeyIndex("a")
    restored.restore(2, Revision(3, 0), 2)
    restored.tombstone(Revision(5, 1))
    restored.put(Revision(7, 0))
    for rev in range(3, 9):
        assert restored.get(rev) == original.get(rev), rev


def test_restore_from_a_lone_tombstone_reads_as_deleted() -> None:
    ki = KeyIndex("a")
    ki.restore_tombstone(Revision(5, 1))
    assert ki.get(5) is None and ki.get(6) is None and ki.current() is None
    ki.put(Revision(7, 0))
    assert ki.get(7) == (Revision(7, 0), 7, 1)
