"""Contract: revisions, versions, ranges, deletes and compaction, as etcd's KV API defines them."""

from __future__ import annotations

import pytest

from services.etcd.client.api import (
    ALL_KEYS,
    CompactedError,
    EtcdError,
    FutureRevisionError,
    KeyNotProvidedError,
    KVClient,
    prefix_range_end,
)
from tests.integration.etcd_contract import eventually


async def revision_now(kv: KVClient) -> int:
    return (await kv.range("/contract/no-such-key")).header.revision


async def test_every_reply_names_the_member_cluster_and_term(kv: KVClient, prefix: str) -> None:
    header = (await kv.put(prefix + "a", "1")).header
    assert header.revision > 0
    assert header.member_id != 0
    assert header.cluster_id != 0
    assert header.raft_term >= 1


async def test_each_put_and_each_effective_delete_raise_the_revision_by_one(
    kv: KVClient, prefix: str
) -> None:
    start = await revision_now(kv)
    first = await kv.put(prefix + "a", "1")
    second = await kv.put(prefix + "b", "2")
    third = await kv.put(prefix + "a", "3")
    deleted = await kv.delete(prefix + "b")
    assert [first.header.revision, second.header.revision, third.header.revision] == [
        start + 1,
        start + 2,
        start + 3,
    ]
    assert deleted.header.revision == start + 4
    assert await revision_now(kv) == start + 4


async def test_a_new_key_has_create_and_mod_revision_of_its_put_and_version_one(
    kv: KVClient, prefix: str
) -> None:
    put = await kv.put(prefix + "k", "v")
    [kv_] = (await kv.range(prefix + "k")).kvs
    assert (kv_.key, kv_.value, kv_.lease) == (prefix + "k", "v", 0)
    assert kv_.create_revision == kv_.mod_revision == put.header.revision
    assert kv_.version == 1


async def test_a_put_on_an_existing_key_keeps_create_revision_and_counts_the_version(
    kv: KVClient, prefix: str
) -> None:
    created = await kv.put(prefix + "k", "1")
    await kv.put(prefix + "k", "2")
    updated = await kv.put(prefix + "k", "3")
    [kv_] = (await kv.range(prefix + "k")).kvs
    assert kv_.create_revision == created.header.revision
    assert kv_.mod_revision == updated.header.revision
    assert (kv_.value, kv_.version) == ("3", 3)


async def test_a_key_put_again_after_a_delete_starts_over_at_version_one(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "k", "1")
    await kv.put(prefix + "k", "2")
    await kv.delete(prefix + "k")
    recreated = await kv.put(prefix + "k", "3")
    [kv_] = (await kv.range(prefix + "k")).kvs
    assert kv_.version == 1
    assert kv_.create_revision == kv_.mod_revision == recreated.header.revision


async def test_put_with_prev_kv_returns_the_version_it_replaced(kv: KVClient, prefix: str) -> None:
    first = await kv.put(prefix + "k", "old", prev_kv=True)
    second = await kv.put(prefix + "k", "new", prev_kv=True)
    without = await kv.put(prefix + "k", "newer")
    assert first.prev_kv is None
    assert second.prev_kv is not None
    assert (second.prev_kv.value, second.prev_kv.version) == ("old", 1)
    assert second.prev_kv.mod_revision == first.header.revision
    assert without.prev_kv is None


async def test_range_of_a_missing_key_is_empty(kv: KVClient, prefix: str) -> None:
    result = await kv.range(prefix + "missing")
    assert (result.kvs, result.count, result.more) == ([], 0, False)


async def test_range_at_a_past_revision_sees_the_store_as_it_was(kv: KVClient, prefix: str) -> None:
    v1 = await kv.put(prefix + "k", "1")
    await kv.put(prefix + "k", "2")
    await kv.put(prefix + "gone", "x")
    before_delete = (await kv.delete(prefix + "gone")).header.revision - 1
    then = await kv.range(prefix + "k", revision=v1.header.revision)
    assert [(x.value, x.version) for x in then.kvs] == [("1", 1)]
    assert then.header.revision > v1.header.revision  # the header tells the store's current revision
    assert [x.value for x in (await kv.range(prefix + "gone", revision=before_delete)).kvs] == ["x"]
    assert (await kv.range(prefix + "gone")).kvs == []


async def test_range_with_limit_returns_the_first_keys_in_order_with_more_and_the_full_count(
    kv: KVClient, prefix: str
) -> None:
    for name in ("d", "b", "a", "c"):
        await kv.put(prefix + name, name)
    limited = await kv.range(prefix, prefix=True, limit=2)
    assert [x.key for x in limited.kvs] == [prefix + "a", prefix + "b"]
    assert (limited.count, limited.more) == (4, True)
    everything = await kv.range(prefix, prefix=True, limit=4)
    assert [x.key for x in everything.kvs] == [prefix + n for n in "abcd"]
    assert (everything.count, everything.more) == (4, False)


async def test_keys_only_returns_keys_and_metadata_without_values(kv: KVClient, prefix: str) -> None:
    put = await kv.put(prefix + "a", "value")
    [kv_] = (await kv.range(prefix + "a", keys_only=True)).kvs
    assert (kv_.key, kv_.value, kv_.version, kv_.mod_revision) == (prefix + "a", "", 1, put.header.revision)


async def test_count_only_returns_the_count_and_no_kvs(kv: KVClient, prefix: str) -> None:
    for name in "abc":
        await kv.put(prefix + name, name)
    result = await kv.range(prefix, prefix=True, count_only=True)
    assert (result.kvs, result.count) == ([], 3)


async def test_range_end_is_exclusive(kv: KVClient, prefix: str) -> None:
    for name in "abcd":
        await kv.put(prefix + name, name)
    result = await kv.range(prefix + "b", prefix + "d")
    assert [x.key for x in result.kvs] == [prefix + "b", prefix + "c"]


async def test_range_end_nul_selects_every_key_from_the_start_key_on(kv: KVClient, prefix: str) -> None:
    for name in "abc":
        await kv.put(prefix + name, name)
    result = await kv.range(prefix + "b", ALL_KEYS)
    keys = [x.key for x in result.kvs]
    assert [k for k in keys if k.startswith(prefix)] == [prefix + "b", prefix + "c"]
    assert all(k >= prefix + "b" for k in keys)  # other tests' keys after ours are in range too
    assert result.count == len(keys)


async def test_prefix_range_selects_exactly_the_keys_under_the_prefix(kv: KVClient, prefix: str) -> None:
    for key in ("p", "p/a", "p/b/c", "p0", "o/z"):
        await kv.put(prefix + key, key)
    result = await kv.range(prefix + "p/", prefix=True)
    assert [x.key for x in result.kvs] == [prefix + "p/a", prefix + "p/b/c"]
    assert prefix_range_end(prefix + "p/") == prefix + "p0"


async def test_an_empty_prefix_selects_every_key(kv: KVClient, prefix: str) -> None:
    for name in "ab":
        await kv.put(prefix + name, name)
    keys = [x.key for x in (await kv.range("", prefix=True, keys_only=True)).kvs]
    assert [k for k in keys if k.startswith(prefix)] == [prefix + "a", prefix + "b"]


@pytest.mark.parametrize(
    ("key", "end"),
    [
        ("a/", "a0"),
        ("a", "b"),
        ("ab\U0010ffff", "ac"),
        ("\U0010ffff", ALL_KEYS),
        ("", ALL_KEYS),
        ("x\ud7ff", "x\ue000"),  # the surrogates cannot be encoded: the next code point is U+E000
        ("é", "ê"),
    ],
)
def test_prefix_range_end_is_the_least_key_after_every_key_with_the_prefix(key: str, end: str) -> None:
    assert prefix_range_end(key) == end
    if end != ALL_KEYS:
        assert key.encode() < (key + "\U0010ffff").encode() < end.encode()


async def test_keys_and_values_are_utf8_strings_and_prefixes_work_on_them(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "ключ/ü", "値 ✓")
    await kv.put(prefix + "ключ/ÿ", "")
    await kv.put(prefix + "ключа", "outside")
    result = await kv.range(prefix + "ключ/", prefix=True)
    assert [(x.key, x.value) for x in result.kvs] == [(prefix + "ключ/ü", "値 ✓"), (prefix + "ключ/ÿ", "")]


async def test_prefix_delete_removes_every_key_under_it_in_one_revision(kv: KVClient, prefix: str) -> None:
    for key in ("x/a", "x/b", "x/c", "y"):
        await kv.put(prefix + key, key)
    before = await revision_now(kv)
    deleted = await kv.delete(prefix + "x/", prefix=True, prev_kv=True)
    assert deleted.deleted == 3
    assert deleted.header.revision == before + 1
    assert sorted((x.key, x.value) for x in deleted.prev_kvs) == [
        (prefix + k, k) for k in ("x/a", "x/b", "x/c")
    ]
    assert [x.key for x in (await kv.range(prefix, prefix=True)).kvs] == [prefix + "y"]


async def test_range_delete_removes_keys_in_the_half_open_range(kv: KVClient, prefix: str) -> None:
    for name in "abcd":
        await kv.put(prefix + name, name)
    deleted = await kv.delete(prefix + "b", prefix + "d")
    assert (deleted.deleted, deleted.prev_kvs) == (2, [])
    assert [x.key for x in (await kv.range(prefix, prefix=True)).kvs] == [prefix + "a", prefix + "d"]


async def test_deleting_a_missing_key_deletes_nothing_and_keeps_the_revision(
    kv: KVClient, prefix: str
) -> None:
    before = await revision_now(kv)
    result = await kv.delete(prefix + "missing", prev_kv=True)
    assert (result.deleted, result.prev_kvs, result.header.revision) == (0, [], before)
    assert await revision_now(kv) == before


async def test_an_empty_key_is_refused_with_400(kv: KVClient) -> None:
    with pytest.raises(KeyNotProvidedError) as raised:
        await kv.put("", "v")
    assert raised.value.code == 400
    with pytest.raises(KeyNotProvidedError):
        await kv.range("")


async def test_serializable_range_answers_from_a_member_and_catches_up(kv: KVClient, prefix: str) -> None:
    put = await kv.put(prefix + "k", "v")

    async def caught_up() -> bool:
        result = await kv.range(prefix + "k", serializable=True)
        return result.header.revision >= put.header.revision and [x.value for x in result.kvs] == ["v"]

    await eventually(caught_up)


async def test_range_at_a_future_revision_is_refused(kv: KVClient, prefix: str) -> None:
    now = await revision_now(kv)
    with pytest.raises(FutureRevisionError) as raised:
        await kv.range(prefix + "k", revision=now + 100)
    assert (raised.value.code, raised.value.message) == (400, "mvcc: required revision is a future revision")


async def test_compaction_makes_older_revisions_gone_and_keeps_the_compacted_one(
    kv: KVClient, prefix: str
) -> None:
    old = await kv.put(prefix + "k", "old")
    kept = await kv.put(prefix + "k", "kept")
    await kv.put(prefix + "k", "new")
    await kv.compact(kept.header.revision)
    with pytest.raises(CompactedError) as raised:
        await kv.range(prefix + "k", revision=old.header.revision)
    assert (raised.value.code, raised.value.message) == (410, "mvcc: required revision has been compacted")
    assert [x.value for x in (await kv.range(prefix + "k", revision=kept.header.revision)).kvs] == ["kept"]
    assert [x.value for x in (await kv.range(prefix + "k")).kvs] == ["new"]


async def test_compacting_again_below_or_beyond_the_store_is_refused(kv: KVClient, prefix: str) -> None:
    first = await kv.put(prefix + "k", "1")
    second = await kv.put(prefix + "k", "2")
    await kv.compact(second.header.revision)
    with pytest.raises(CompactedError):
        await kv.compact(first.header.revision)
    with pytest.raises(FutureRevisionError):
        await kv.compact(second.header.revision + 100)


async def test_status_names_one_leader_among_three_members(kv: KVClient) -> None:
    status = await kv.status()
    assert len(status.members) == 3
    leaders = [m for m in status.members if m.is_leader]
    assert [m.id for m in leaders] == [status.leader]
    assert all(m.term >= 1 and m.applied >= 1 and m.commit >= 1 for m in status.members)
    assert len({m.name for m in status.members}) == 3


async def test_errors_are_etcd_errors_with_http_like_codes(kv: KVClient) -> None:
    with pytest.raises(EtcdError) as raised:
        await kv.range("")
    assert isinstance(raised.value.code, int)
    assert str(raised.value) == raised.value.message
