"""Contract: watches — replay from a past revision in order, live events, prev_kv, deletes, ranges, cancel."""

from __future__ import annotations

import asyncio

from services.etcd.client.api import ALL_KEYS, DeleteOp, KVClient, PutOp, WatchEvent
from tests.integration.etcd_contract import next_events, next_response


def summary(events: list[WatchEvent]) -> list[tuple[str, str, str, int]]:
    return [(e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for e in events]


async def test_a_watch_from_a_past_revision_replays_history_in_order_then_streams_live_events(
    kv: KVClient, prefix: str
) -> None:
    r1 = (await kv.put(prefix + "a", "1")).header.revision
    r2 = (await kv.put(prefix + "b", "2")).header.revision
    r3 = (await kv.put(prefix + "a", "3")).header.revision
    r4 = (await kv.delete(prefix + "b")).header.revision
    async with await kv.watch(prefix, prefix=True, start_revision=r1) as watch:
        history = await next_events(watch, 4)
        r5 = (await kv.put(prefix + "c", "5")).header.revision
        live = await next_events(watch, 1)
    assert summary(history) == [
        ("PUT", prefix + "a", "1", r1),
        ("PUT", prefix + "b", "2", r2),
        ("PUT", prefix + "a", "3", r3),
        ("DELETE", prefix + "b", "", r4),
    ]
    assert summary(live) == [("PUT", prefix + "c", "5", r5)]


async def test_a_watch_without_start_revision_sees_only_later_changes(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "k", "before")
    async with await kv.watch(prefix + "k") as watch:
        after = await kv.put(prefix + "k", "after")
        events = await next_events(watch, 1)
    assert summary(events) == [("PUT", prefix + "k", "after", after.header.revision)]


async def test_watch_events_carry_the_full_key_value(kv: KVClient, prefix: str) -> None:
    created = (await kv.put(prefix + "k", "1")).header.revision
    async with await kv.watch(prefix + "k", start_revision=created) as watch:
        updated = (await kv.put(prefix + "k", "2")).header.revision
        first, second = await next_events(watch, 2)
    assert (first.kv.create_revision, first.kv.mod_revision, first.kv.version) == (created, created, 1)
    assert (second.kv.create_revision, second.kv.mod_revision, second.kv.version) == (created, updated, 2)


async def test_prev_kv_carries_the_replaced_version_and_nothing_for_a_creation(
    kv: KVClient, prefix: str
) -> None:
    async with await kv.watch(prefix + "k", prev_kv=True) as watch:
        await kv.put(prefix + "k", "1")
        await kv.put(prefix + "k", "2")
        await kv.delete(prefix + "k")
        created, updated, deleted = await next_events(watch, 3)
    assert created.prev_kv is None
    assert updated.prev_kv is not None and (updated.prev_kv.value, updated.prev_kv.version) == ("1", 1)
    assert deleted.prev_kv is not None and (deleted.prev_kv.value, deleted.prev_kv.version) == ("2", 2)


async def test_without_prev_kv_events_carry_no_previous_version(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "k", "1")
    async with await kv.watch(prefix + "k") as watch:
        await kv.put(prefix + "k", "2")
        [event] = await next_events(watch, 1)
    assert event.prev_kv is None


async def test_a_delete_event_names_the_key_and_the_delete_revision_only(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "k", "v")
    async with await kv.watch(prefix + "k") as watch:
        deleted = (await kv.delete(prefix + "k")).header.revision
        [event] = await next_events(watch, 1)
    assert event.type == "DELETE"
    assert (event.kv.key, event.kv.mod_revision) == (prefix + "k", deleted)
    assert (event.kv.value, event.kv.version, event.kv.create_revision, event.kv.lease) == ("", 0, 0, 0)


async def test_a_prefix_watch_sees_only_keys_under_the_prefix(kv: KVClient, prefix: str) -> None:
    async with await kv.watch(prefix + "p/", prefix=True) as watch:
        for key in ("p", "p/a", "p0", "p/b/c", "o"):
            await kv.put(prefix + key, key)
        events = await next_events(watch, 2)
    assert [e.kv.key for e in events] == [prefix + "p/a", prefix + "p/b/c"]


async def test_a_range_watch_sees_keys_in_the_half_open_range(kv: KVClient, prefix: str) -> None:
    async with await kv.watch(prefix + "b", prefix + "d") as watch:
        for name in "abcde":
            await kv.put(prefix + name, name)
        events = await next_events(watch, 2)
    assert [e.kv.key for e in events] == [prefix + "b", prefix + "c"]


async def test_a_watch_to_range_end_nul_sees_every_key_from_the_start_key_on(
    kv: KVClient, prefix: str
) -> None:
    async with await kv.watch(prefix + "b", ALL_KEYS) as watch:
        for name in "abc":
            await kv.put(prefix + name, name)
        events = await next_events(watch, 2)
    assert [e.kv.key for e in events] == [prefix + "b", prefix + "c"]


async def test_a_single_key_watch_ignores_other_keys(kv: KVClient, prefix: str) -> None:
    async with await kv.watch(prefix + "k") as watch:
        await kv.put(prefix + "k2", "x")
        await kv.put(prefix + "j", "x")
        await kv.put(prefix + "k", "mine")
        events = await next_events(watch, 1)
    assert [e.kv.key for e in events] == [prefix + "k"]


async def test_the_events_of_a_txn_arrive_together_at_one_revision(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "gone", "x")
    async with await kv.watch(prefix, prefix=True) as watch:
        result = await kv.txn(
            [], [PutOp(prefix + "a", "1"), PutOp(prefix + "b", "2"), DeleteOp(prefix + "gone")], []
        )
        response = await next_response(watch)
        while not response.events:  # a progress notice may come first
            response = await next_response(watch)
    assert sorted((e.type, e.kv.key) for e in response.events) == [
        ("DELETE", prefix + "gone"),
        ("PUT", prefix + "a"),
        ("PUT", prefix + "b"),
    ]
    assert {e.kv.mod_revision for e in response.events} == {result.header.revision}


async def test_a_watch_from_a_compacted_revision_is_canceled_with_the_compact_revision(
    kv: KVClient, prefix: str
) -> None:
    old = (await kv.put(prefix + "k", "1")).header.revision
    await kv.put(prefix + "k", "2")
    compacted = (await kv.put(prefix + "k", "3")).header.revision
    await kv.compact(compacted)
    watch = await kv.watch(prefix + "k", start_revision=old)
    responses = [response async for response in watch]  # ends by itself, without an exception
    assert len(responses) == 1
    [canceled] = responses
    assert canceled.canceled
    assert canceled.compact_revision == compacted
    assert canceled.events == []


async def test_a_watch_from_the_compacted_revision_itself_replays_from_there(
    kv: KVClient, prefix: str
) -> None:
    await kv.put(prefix + "k", "1")
    compacted = (await kv.put(prefix + "k", "2")).header.revision
    await kv.compact(compacted)
    async with await kv.watch(prefix + "k", start_revision=compacted) as watch:
        events = await next_events(watch, 1)
    assert summary(events) == [("PUT", prefix + "k", "2", compacted)]


async def test_an_idle_watch_gets_progress_notices_at_the_current_revision(kv: KVClient, prefix: str) -> None:
    revision = (await kv.put(prefix + "other", "x")).header.revision
    async with await kv.watch(prefix + "k") as watch:
        notice = await next_response(watch, timeout=5)
    assert (notice.events, notice.canceled) == ([], False)
    assert notice.header.revision >= revision


async def test_cancel_ends_the_iteration(kv: KVClient, prefix: str) -> None:
    watch = await kv.watch(prefix + "k")
    await kv.put(prefix + "k", "1")
    await next_events(watch, 1)
    await watch.cancel()
    await kv.put(prefix + "k", "2")
    async with asyncio.timeout(5):
        rest = [event for response in [r async for r in watch] for event in response.events]
    assert rest == []
    await watch.cancel()  # idempotent


async def test_cancel_from_another_task_ends_a_pending_iteration(kv: KVClient, prefix: str) -> None:
    watch = await kv.watch(prefix + "k")

    async def consume() -> list[WatchEvent]:
        return [event async for response in watch for event in response.events]

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await watch.cancel()
    async with asyncio.timeout(5):
        assert await consumer == []


async def test_leaving_the_context_cancels_the_watch(kv: KVClient, prefix: str) -> None:
    async with await kv.watch(prefix + "k") as watch:
        pass
    async with asyncio.timeout(5):
        assert [r async for r in watch] == []


async def test_many_watches_on_one_client_each_see_their_own_keys(kv: KVClient, prefix: str) -> None:
    watches = [await kv.watch(f"{prefix}{i}") for i in range(5)]
    try:
        for i in reversed(range(5)):
            await kv.put(f"{prefix}{i}", str(i))
        for i, watch in enumerate(watches):
            assert [e.kv.value for e in await next_events(watch, 1)] == [str(i)]
    finally:
        for watch in watches:
            await watch.cancel()
