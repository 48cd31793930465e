"""The MVCC store with etcd's documented semantics: revisions, versions, ranges, deletes, txns, compaction."""

from __future__ import annotations

import pytest

from services.etcd.mvcc import (
    ALL_KEYS,
    CompactedError,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DuplicateKeyError,
    FutureRevisionError,
    KeyValue,
    KVStore,
    LeaseNotFoundError,
    PutRequest,
    RangeRequest,
    prefix_range_end,
)


def store(*puts: tuple[str, str]) -> KVStore:
    """A store with these puts applied in order (the first at revision 2)."""
    kv = KVStore()
    for key, value in puts:
        kv.put(key, value)
    return kv


def keys(kv: KVStore, key: str, range_end: str | None = None, revision: int = 0) -> list[str]:
    return [x.key for x in kv.range(key, range_end, revision=revision).kvs]


def get(kv: KVStore, key: str, revision: int = 0) -> KeyValue | None:
    kvs = kv.range(key, revision=revision).kvs
    return kvs[0] if kvs else None


# --- revisions and versions -----------------------------------------------------------------------------


def test_empty_store_is_at_revision_1_and_the_first_write_takes_2() -> None:
    kv = KVStore()
    assert kv.revision == 1
    assert kv.range("a").revision == 1
    assert kv.put("a", "1").revision == 2


def test_each_write_bumps_the_revision_by_one() -> None:
    kv = KVStore()
    revisions = [kv.put("a", "1").revision, kv.put("b", "1").revision, kv.delete_range("a").revision]
    assert revisions == [2, 3, 4]
    assert kv.revision == 4


def test_put_keeps_create_revision_and_counts_versions() -> None:
    kv = store(("a", "1"), ("b", "x"), ("a", "2"))
    assert get(kv, "a") == KeyValue("a", "2", create_revision=2, mod_revision=4, version=2)


def test_recreated_key_gets_a_new_create_revision_and_version_1() -> None:
    kv = store(("a", "1"), ("a", "2"))
    kv.delete_range("a")
    kv.put("a", "3")
    assert get(kv, "a") == KeyValue("a", "3", create_revision=5, mod_revision=5, version=1)


def test_put_returns_prev_kv_only_when_asked() -> None:
    kv = store(("a", "1"))
    assert kv.put("a", "2").prev_kv is None
    assert kv.put("a", "3", prev_kv=True).prev_kv == KeyValue("a", "2", 2, 3, 2)
    assert kv.put("new", "x", prev_kv=True).prev_kv is None


def test_put_with_unknown_lease_fails_and_stores_nothing() -> None:
    kv = KVStore()
    with pytest.raises(LeaseNotFoundError, match="etcdserver: requested lease not found") as err:
        kv.put("a", "1", lease=42)
    assert err.value.code == 404
    assert kv.revision == 1 and get(kv, "a") is None


# --- ranges ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "range_end", "expected"),
    [
        ("b", None, ["b"]),
        ("bb", None, []),
        ("b", "d", ["b", "ba", "c"]),
        ("b", prefix_range_end("b"), ["b", "ba"]),
        ("b", ALL_KEYS, ["b", "ba", "c", "d"]),
        (ALL_KEYS, ALL_KEYS, ["a", "b", "ba", "c", "d"]),
        ("c", "b", []),  # range_end before key: nothing, as in etcd
        ("a", "a", []),
    ],
)
def test_range_is_key_to_range_end_exclusive(key: str, range_end: str | None, expected: list[str]) -> None:
    kv = store(("d", "1"), ("b", "1"), ("a", "1"), ("c", "1"), ("ba", "1"))
    assert keys(kv, key, range_end) == expected


def test_range_at_a_past_revision_sees_the_store_as_it_was() -> None:
    kv = store(("a", "1"), ("b", "1"), ("a", "2"))  # revisions 2, 3, 4
    kv.delete_range("b")  # 5
    assert keys(kv, "a", ALL_KEYS, revision=2) == ["a"]
    assert [(x.key, x.value) for x in kv.range("a", ALL_KEYS, revision=3).kvs] == [("a", "1"), ("b", "1")]
    assert [(x.key, x.value) for x in kv.range("a", ALL_KEYS, revision=4).kvs] == [("a", "2"), ("b", "1")]
    assert keys(kv, "a", ALL_KEYS, revision=5) == ["a"]
    assert kv.range("a", ALL_KEYS, revision=3).revision == 5  # the header is the current revision


@pytest.mark.parametrize(
    ("limit", "count_only", "kvs", "count", "more"),
    [
        (0, False, ["k0", "k1", "k2", "k3", "k4"], 5, False),
        (2, False, ["k0", "k1"], 5, True),
        (5, False, ["k0", "k1", "k2", "k3", "k4"], 5, False),
        (9, False, ["k0", "k1", "k2", "k3", "k4"], 5, False),
        (0, True, [], 5, False),
        (2, True, [], 5, False),
    ],
)
def test_limit_returns_fewer_keys_while_count_counts_them_all(
    limit: int, count_only: bool, kvs: list[str], count: int, more: bool
) -> None:
    kv = store(*[(f"k{i}", "v") for i in range(5)], ("other", "v"))
    kv.delete_range("k9")  # a no-op delete changes nothing
    result = kv.range("k", prefix_range_end("k"), limit=limit, count_only=count_only)
    assert ([x.key for x in result.kvs], result.count, result.more) == (kvs, count, more)


def test_keys_only_leaves_values_out_of_the_reply() -> None:
    wire = store(("a", "secret")).range("a", keys_only=True).to_wire()
    assert wire["kvs"] == [
        {"key": "a", "value": "", "create_revision": 2, "mod_revision": 2, "version": 1, "lease": 0}
    ]


def test_range_at_a_future_revision_is_refused() -> None:
    kv = store(("a", "1"))
    with pytest.raises(FutureRevisionError, match="mvcc: required revision is a future revision"):
        kv.range("a", revision=3)


# --- deletes --------------------------------------------------------------------------------------------


def test_delete_range_deletes_every_key_at_one_revision_and_returns_prev_kvs() -> None:
    kv = store(("a", "1"), ("b", "2"), ("c", "3"))
    result = kv.delete_range("a", "c", prev_kv=True)
    assert (result.revision, result.deleted) == (5, 2)
    assert result.prev_kvs == [KeyValue("a", "1", 2, 2, 1), KeyValue("b", "2", 3, 3, 1)]
    assert keys(kv, ALL_KEYS, ALL_KEYS) == ["c"]
    assert [(e.type.value, e.kv.key, e.kv.mod_revision) for e in kv.drain_events()[-2:]] == [
        ("DELETE", "a", 5),
        ("DELETE", "b", 5),
    ]


def test_delete_without_prev_kv_reports_only_the_count() -> None:
    result = store(("a", "1")).delete_range("a")
    assert (result.deleted, result.prev_kvs) == (1, None)
    assert result.to_wire() == {"header": {"revision": 3}, "deleted": 1}


def test_delete_of_nothing_does_not_bump_the_revision() -> None:
    kv = store(("a", "1"))
    result = kv.delete_range("x", "z")
    assert (result.revision, result.deleted, kv.revision) == (2, 0, 2)


# --- transactions ---------------------------------------------------------------------------------------

# "a" = "v2": create 2, mod 4, version 2, lease 0. "missing" does not exist.
T, R = CompareTarget, CompareResult


@pytest.mark.parametrize(
    ("key", "target", "result", "value", "holds"),
    [
        ("a", T.VALUE, R.EQUAL, "v2", True),
        ("a", T.VALUE, R.NOT_EQUAL, "v2", False),
        ("a", T.VALUE, R.LESS, "v3", True),
        ("a", T.VALUE, R.GREATER, "v1", True),
        ("a", T.VERSION, R.EQUAL, 2, True),
        ("a", T.VERSION, R.GREATER, 2, False),
        ("a", T.VERSION, R.LESS, 3, True),
        ("a", T.CREATE_REVISION, R.EQUAL, 2, True),
        ("a", T.CREATE_REVISION, R.NOT_EQUAL, 2, False),
        ("a", T.MOD_REVISION, R.EQUAL, 4, True),
        ("a", T.MOD_REVISION, R.LESS, 4, False),
        ("a", T.MOD_REVISION, R.GREATER, 3, True),
        ("a", T.LEASE, R.EQUAL, 0, True),
        ("a", T.LEASE, R.NOT_EQUAL, 0, False),
        # A missing key: version, revisions and lease are 0, and any value compare fails.
        ("missing", T.VERSION, R.EQUAL, 0, True),
        ("missing", T.CREATE_REVISION, R.EQUAL, 0, True),
        ("missing", T.MOD_REVISION, R.LESS, 1, True),
        ("missing", T.LEASE, R.EQUAL, 0, True),
        ("missing", T.VERSION, R.GREATER, 0, False),
        ("missing", T.VALUE, R.EQUAL, "", False),
        ("missing", T.VALUE, R.NOT_EQUAL, "x", False),
    ],
)
def test_txn_compare(
    key: str, target: CompareTarget, result: CompareResult, value: str | int, holds: bool
) -> None:
    kv = store(("a", "v1"), ("b", "x"), ("a", "v2"))
    txn = kv.txn([Compare(key, target, result, value)], [PutRequest("ok", "1")], [PutRequest("ko", "1")])
    assert txn.succeeded is holds
    assert keys(kv, "ok" if holds else "ko") == ["ok" if holds else "ko"]


def test_compare_over_a_range_holds_only_if_every_key_satisfies_it() -> None:
    kv = store(("p/1", "x"), ("p/2", "x"), ("p/3", "y"))
    end = prefix_range_end("p/")
    assert not kv.txn([Compare("p/", T.VALUE, R.EQUAL, "x", end)], [], []).succeeded
    assert kv.txn([Compare("p/", T.VALUE, R.EQUAL, "x", "p/3")], [], []).succeeded


def test_txn_runs_success_or_failure_branch_and_reports_which() -> None:
    kv = store(("a", "1"))
    ok = kv.txn(
        [Compare("a", T.VALUE, R.EQUAL, "1")],
        [PutRequest("a", "2", prev_kv=True), RangeRequest("a")],
        [DeleteRangeRequest("a")],
    )
    assert ok.succeeded and ok.revision == 3
    assert ok.to_wire() == {
        "header": {"revision": 3},
        "succeeded": True,
        "responses": [
            {"put": {"prev_kv": KeyValue("a", "1", 2, 2, 1).to_wire()}},
            # The range sees the txn's own put.
            {"range": {"kvs": [KeyValue("a", "2", 2, 3, 2).to_wire()], "count": 1, "more": False}},
        ],
    }
    ko = kv.txn([Compare("a", T.VALUE, R.EQUAL, "1")], [], [DeleteRangeRequest("a", prev_kv=True)])
    assert not ko.succeeded and ko.revision == 4 and get(kv, "a") is None


def test_all_writes_of_a_txn_share_one_revision() -> None:
    kv = store(("x", "0"))
    result = kv.txn([], [PutRequest("a", "1"), PutRequest("b", "1"), DeleteRangeRequest("x")], [])
    assert result.revision == 3 == kv.revision
    assert [(e.kv.key, e.kv.mod_revision) for e in kv.drain_events()[1:]] == [("a", 3), ("b", 3), ("x", 3)]


def test_a_txn_that_only_reads_does_not_bump_the_revision() -> None:
    kv = store(("a", "1"))
    result = kv.txn([Compare("a", T.VERSION, R.EQUAL, 1)], [RangeRequest("a")], [PutRequest("b", "1")])
    assert result.succeeded and result.revision == 2 == kv.revision


def test_a_txn_whose_chosen_branch_fails_a_check_writes_nothing() -> None:
    kv = store(("a", "1"))
    with pytest.raises(LeaseNotFoundError):
        kv.txn([], [PutRequest("b", "1"), PutRequest("c", "1", lease=9)], [])
    assert kv.revision == 2 and keys(kv, ALL_KEYS, ALL_KEYS) == ["a"]


def test_a_txn_writing_one_key_twice_is_refused() -> None:
    kv = KVStore()
    with pytest.raises(DuplicateKeyError, match="duplicate key"):
        kv.txn([], [PutRequest("a", "1"), PutRequest("a", "2")], [])
    with pytest.raises(DuplicateKeyError):
        kv.txn([], [DeleteRangeRequest("a", "c"), PutRequest("b", "2")], [])


def test_a_txn_range_at_a_compacted_or_future_revision_fails_the_txn() -> None:
    kv = store(("a", "1"), ("a", "2"), ("a", "3"))
    kv.compact(3)
    with pytest.raises(CompactedError):
        kv.txn([], [PutRequest("b", "1"), RangeRequest("a", revision=2)], [])
    with pytest.raises(FutureRevisionError):
        kv.txn([], [PutRequest("b", "1"), RangeRequest("a", revision=5)], [])
    assert get(kv, "b") is None


# --- compaction -----------------------------------------------------------------------------------------


def test_compaction_forgets_history_below_it_and_keeps_reads_at_or_above_it() -> None:
    kv = store(("a", "1"), ("a", "2"), ("b", "1"), ("a", "3"))  # 2, 3, 4, 5
    kv.delete_range("b")  # 6
    before = {rev: kv.range(ALL_KEYS, ALL_KEYS, revision=rev).kvs for rev in range(3, 7)}
    assert kv.compact(3).revision == 6  # compaction takes no revision
    for rev, kvs in before.items():
        assert kv.range(ALL_KEYS, ALL_KEYS, revision=rev).kvs == kvs
    with pytest.raises(CompactedError, match="mvcc: required revision has been compacted") as err:
        kv.range("a", revision=2)
    assert (err.value.code, err.value.compact_revision) == (410, 3)


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        (3, 3, CompactedError),  # already compacted there
        (3, 2, CompactedError),
        (None, 7, FutureRevisionError),  # beyond the current revision (5)
    ],
)
def test_compaction_errors(first: int | None, second: int, error: type[Exception]) -> None:
    kv = store(("a", "1"), ("a", "2"), ("a", "3"), ("a", "4"))
    if first is not None:
        kv.compact(first)
    with pytest.raises(error):
        kv.compact(second)


def test_compaction_to_the_current_revision_keeps_current_keys() -> None:
    kv = store(("a", "1"), ("b", "1"), ("a", "2"))
    kv.delete_range("b")
    kv.compact(kv.revision)
    assert [(x.key, x.value, x.version) for x in kv.range(ALL_KEYS, ALL_KEYS).kvs] == [("a", "2", 2)]
    kv.put("c", "1")
    kv.compact(kv.revision)
    # The tombstone of b is gone after the second compaction; nothing but live keys remains.
    assert kv.state()["log"] == [[4, 0, "a", "2", 2, 2, 0], [6, 0, "c", "1", 6, 1, 0]]
