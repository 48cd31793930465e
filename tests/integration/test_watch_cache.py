"""The API server's watch cache against a real 3-member etcd service over NATS.

Objects are written straight into etcd under ``/registry/<resource>/...`` as the API server's storage
writes them; the cache must reflect them in ``get``/``list`` and as Kubernetes watch events — with the
right resourceVersions, selectors, windows, bookmarks and back-pressure — and lose nothing when the etcd
member serving its watch is killed or the revision it needs is compacted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from services.apiserver.watch_cache import (
    INITIAL_EVENTS_END,
    CacheWatcher,
    TooLargeResourceVersionError,
    WatchCache,
    selectable_fields,
)
from services.etcd.client.api import Compare, EtcdError, PutOp, Watch
from services.etcd.client.nats import NatsEtcdClient, NatsWatch
from services.etcd.local_cluster import LocalEtcdCluster
from shared import bus
from shared.clock import VirtualClock
from shared.selectors import parse_field_selector, parse_label_selector

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
StartCache = Callable[..., Awaitable[WatchCache]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalEtcdCluster]:
    with LocalEtcdCluster() as started:
        yield started


@pytest.fixture
async def kv(cluster: LocalEtcdCluster) -> AsyncIterator[NatsEtcdClient]:
    client = await NatsEtcdClient.connect(cluster.url, name="watch-cache-test")
    await client.delete("/registry/", prefix=True)  # each test starts from an empty registry
    yield client
    await client.close()


@pytest.fixture
async def start_cache(kv: NatsEtcdClient) -> AsyncIterator[StartCache]:
    started: list[WatchCache] = []

    async def start(
        resource: str = "pods", client: NatsEtcdClient | None = None, **options: Any
    ) -> WatchCache:
        cache = WatchCache(client or kv, resource, **options)
        await cache.start()
        started.append(cache)
        return cache

    yield start
    for cache in started:
        await cache.stop()


def pod(
    name: str, namespace: str = "default", *, app: str = "web", node: str = "", phase: str = "Pending"
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": phase},
    }


def key_of(obj: Obj, resource: str = "pods") -> str:
    meta = obj["metadata"]
    scope = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"/registry/{resource}/{scope}{meta['name']}"


async def write(kv: NatsEtcdClient, obj: Obj, resource: str = "pods") -> int:
    """Store ``obj`` as the API server does (no resourceVersion in it); returns its revision."""
    return (await kv.put(key_of(obj, resource), json.dumps(obj))).header.revision


async def remove(kv: NatsEtcdClient, obj: Obj) -> int:
    return (await kv.delete(key_of(obj))).header.revision


async def take(watcher: CacheWatcher, count: int, timeout: float = 5.0) -> list[Obj]:
    events: list[Obj] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            events.append(await anext(watcher))
    return events


async def drain(watcher: CacheWatcher, timeout: float = 5.0) -> list[Obj]:
    """Every event up to the watcher's end, which must come within ``timeout``."""
    async with asyncio.timeout(timeout):
        return [event async for event in watcher]


async def assert_quiet(watcher: CacheWatcher, within: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(within):
            event = await anext(watcher)
            pytest.fail(f"unexpected event {event}")


def brief(event: Obj) -> tuple[str, str, int]:
    """``(type, name, resourceVersion)`` of a watch event."""
    meta = event["object"]["metadata"]
    return event["type"], meta.get("name", ""), int(meta["resourceVersion"])


def rv_of(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


async def test_list_and_get_after_start_reflect_existing_objects(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    revisions = {
        name: await write(kv, pod(name, ns)) for name, ns in [("b", "ns-1"), ("a", "ns-2"), ("c", "ns-1")]
    }
    cache = await start_cache()

    items, rv = cache.list()
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items] == [
        ("ns-1", "b"),
        ("ns-1", "c"),
        ("ns-2", "a"),
    ]
    assert {o["metadata"]["name"]: rv_of(o) for o in items} == revisions
    assert rv >= max(revisions.values())
    assert [o["metadata"]["name"] for o in cache.list("ns-1")[0]] == ["b", "c"]
    got = cache.get("ns-2", "a")
    assert got is not None and rv_of(got) == revisions["a"] and got["spec"]["nodeName"] == ""
    assert cache.get("ns-2", "b") is None


async def test_cluster_scoped_objects_are_listed_and_got_without_namespace(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}}
    revision = await write(kv, node, "nodes")
    cache = await start_cache("nodes")
    got = cache.get(None, "worker-1")
    assert got is not None and rv_of(got) == revision
    assert [o["metadata"]["name"] for o in cache.list(None)[0]] == ["worker-1"]


async def test_put_update_delete_show_in_get_list_and_as_events_with_their_revisions(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache()
    watcher = cache.watch(cache.resource_version)

    created = await write(kv, pod("web-1"))
    assert brief((await take(watcher, 1))[0]) == ("ADDED", "web-1", created)
    got = cache.get("default", "web-1")
    assert got is not None and rv_of(got) == created

    updated = await write(kv, pod("web-1", phase="Running"))
    [event] = await take(watcher, 1)
    assert brief(event) == ("MODIFIED", "web-1", updated)
    assert event["object"]["status"]["phase"] == "Running"
    assert [rv_of(o) for o in cache.list()[0]] == [updated]

    deleted = await remove(kv, pod("web-1"))
    [event] = await take(watcher, 1)
    # DELETED carries the last version of the object, at the delete's revision.
    assert brief(event) == ("DELETED", "web-1", deleted)
    assert event["object"]["status"]["phase"] == "Running"
    assert cache.get("default", "web-1") is None
    assert cache.list() == ([], cache.resource_version)
    assert cache.resource_version >= deleted


async def test_watch_from_a_revision_replays_buffered_events_in_order_then_goes_live(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache()
    first = await write(kv, pod("a"))
    second = await write(kv, pod("b"))
    third = await write(kv, pod("a", phase="Running"))
    await cache.wait_until_fresh(third, timeout=5)

    watcher = cache.watch(first)
    assert [brief(e) for e in await take(watcher, 2)] == [("ADDED", "b", second), ("MODIFIED", "a", third)]
    live = await remove(kv, pod("b"))
    assert [brief(e) for e in await take(watcher, 1)] == [("DELETED", "b", live)]


async def test_watch_from_a_revision_older_than_the_window_gets_410_expired(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    before_start = await write(kv, pod("seed"))
    cache = await start_cache(window=2)
    revisions = [await write(kv, pod(f"p{n}")) for n in range(4)]
    await cache.wait_until_fresh(revisions[-1], timeout=5)

    # The window holds the last two events; the one evicted before them is the oldest resumable point.
    expired = cache.watch(revisions[0])
    events = await drain(expired)
    assert expired.reason == "expired"
    assert events == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {revisions[0]} ({revisions[1]})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]
    assert [e["type"] for e in await drain(cache.watch(before_start))] == ["ERROR"]

    resumed = cache.watch(revisions[1])
    assert [brief(e) for e in await take(resumed, 2)] == [
        ("ADDED", "p2", revisions[2]),
        ("ADDED", "p3", revisions[3]),
    ]
    current = cache.watch(cache.resource_version)
    await assert_quiet(current)


async def marker(kv: NatsEtcdClient) -> int:
    """A write outside the registry: a revision before whatever is written next."""
    return (await kv.put("/elsewhere/marker", "x")).header.revision


async def test_a_watch_from_before_the_cache_started_gets_the_changes_it_missed_from_etcd_history(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    first = await write(kv, pod("a"))
    modified = await write(kv, pod("a", phase="Running"))
    added = await write(kv, pod("b", app="db"))
    deleted = await remove(kv, pod("a"))
    # As on a replica (re)started after the client's last event: its window begins at its list.
    cache = await start_cache()
    watcher = cache.watch(first)
    events = await take(watcher, 3)
    assert [brief(e) for e in events] == [
        ("MODIFIED", "a", modified),
        ("ADDED", "b", added),
        ("DELETED", "a", deleted),
    ]
    assert events[2]["object"]["status"]["phase"] == "Running"  # the last version, as the cache's own
    live = await write(kv, pod("c"))
    assert [brief(e) for e in await take(watcher, 1)] == [("ADDED", "c", live)]
    await assert_quiet(watcher)

    # The selection applies to the history too; what the cache saw since its start follows it.
    web = cache.watch(first, label_selector=parse_label_selector("app=web"))
    assert [brief(e) for e in await take(web, 3)] == [
        ("MODIFIED", "a", modified),
        ("DELETED", "a", deleted),
        ("ADDED", "c", live),
    ]
    await assert_quiet(web)

    closed = cache.watch(first)
    closed.close()  # while its history is being read: it ends, with nothing after the gap
    assert await drain(closed) == [] and closed.reason == "closed"


async def test_history_from_before_the_start_fills_only_the_room_left_in_the_window(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    before = await marker(kv)
    revisions = [await write(kv, pod(f"p{n}")) for n in range(3)]
    cache = await start_cache(window=3)
    started = cache.resource_version
    since = await write(kv, pod("since"))
    await cache.wait_until_fresh(since, timeout=5)

    # One event buffered, room for two more: p1 and p2 fit, p0 as well does not.
    fits = cache.watch(revisions[0])
    assert [brief(e) for e in await take(fits, 3)] == [
        ("ADDED", "p1", revisions[1]),
        ("ADDED", "p2", revisions[2]),
        ("ADDED", "since", since),
    ]
    too_old = cache.watch(before)
    events = await drain(too_old)
    assert too_old.reason == "expired"
    assert [(e["type"], e["object"]["code"], e["object"]["message"]) for e in events] == [
        ("ERROR", 410, f"too old resource version: {before} ({started})")
    ]


async def test_a_watch_from_a_compacted_revision_before_the_cache_started_gets_410(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    before = await marker(kv)
    kept = await write(kv, pod("kept"))
    await kv.compact(await marker(kv))  # the revision after ``before`` is gone from etcd's history
    cache = await start_cache()
    compacted = cache.watch(before)
    assert [e["type"] for e in await drain(compacted)] == ["ERROR"]
    assert compacted.reason == "expired"
    await assert_quiet(cache.watch(kept))


async def test_send_initial_events_gives_an_added_per_object_then_the_annotated_bookmark(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    revisions = [await write(kv, pod(name)) for name in ("b", "a", "c")]
    cache = await start_cache()
    await cache.wait_until_fresh(revisions[-1], timeout=5)
    rv = cache.resource_version

    watcher = cache.watch(rv, send_initial_events=True, allow_bookmarks=True)
    events = await take(watcher, 4)
    assert [brief(e) for e in events[:3]] == [
        ("ADDED", "a", revisions[1]),
        ("ADDED", "b", revisions[0]),
        ("ADDED", "c", revisions[2]),
    ]
    assert events[3] == {
        "type": "BOOKMARK",
        "object": {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(rv), "annotations": {INITIAL_EVENTS_END: "true"}},
        },
    }
    live = await write(kv, pod("d"))
    assert [brief(e) for e in await take(watcher, 1)] == [("ADDED", "d", live)]

    # From revision 0 the current state comes first too, with no end-of-initial-events bookmark.
    from_zero = cache.watch(0, allow_bookmarks=True)
    assert [brief(e)[:2] for e in await take(from_zero, 4)] == [("ADDED", n) for n in "abcd"]
    await assert_quiet(from_zero)


async def test_an_object_leaving_the_label_selection_is_deleted_and_one_entering_is_added(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache()
    watcher = cache.watch(cache.resource_version, label_selector=parse_label_selector("app=web"))

    created = await write(kv, pod("p", app="web"))
    assert [brief(e) for e in await take(watcher, 1)] == [("ADDED", "p", created)]
    await write(kv, pod("other", app="db"))
    relabelled = await write(kv, pod("p", app="db"))
    [event] = await take(watcher, 1)
    # The version that matched last, at the revision where it stopped matching.
    assert brief(event) == ("DELETED", "p", relabelled)
    assert event["object"]["metadata"]["labels"] == {"app": "web"}
    back = await write(kv, pod("p", app="web"))
    assert [brief(e) for e in await take(watcher, 1)] == [("ADDED", "p", back)]
    touched = await write(kv, pod("p", app="web", phase="Running"))
    assert [brief(e) for e in await take(watcher, 1)] == [("MODIFIED", "p", touched)]
    await remove(kv, pod("other"))
    gone = await remove(kv, pod("p"))
    assert [brief(e) for e in await take(watcher, 1)] == [("DELETED", "p", gone)]
    await assert_quiet(watcher)

    assert [o["metadata"]["name"] for o in cache.list(None, parse_label_selector("app=web"))[0]] == []


async def test_field_selectors_follow_a_pod_onto_its_node(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache()
    on_node = cache.watch(cache.resource_version, field_selector=parse_field_selector("spec.nodeName=node-1"))
    running = cache.watch(
        cache.resource_version,
        field_selector=parse_field_selector("status.phase=Running"),
        fields_of=lambda obj: selectable_fields("pods", obj),
    )

    await write(kv, pod("p"))
    await write(kv, pod("q", node="node-2"))
    bound = await write(kv, pod("p", node="node-1"))
    assert [brief(e) for e in await take(on_node, 1)] == [("ADDED", "p", bound)]
    started = await write(kv, pod("p", node="node-1", phase="Running"))
    assert [brief(e) for e in await take(on_node, 1)] == [("MODIFIED", "p", started)]
    assert [brief(e) for e in await take(running, 1)] == [("ADDED", "p", started)]
    await assert_quiet(on_node)

    items, _ = cache.list(None, field_selector=parse_field_selector("spec.nodeName=node-2"))
    assert [o["metadata"]["name"] for o in items] == ["q"]
    items, _ = cache.list(None, field_selector=parse_field_selector("metadata.name!=p"))
    assert [o["metadata"]["name"] for o in items] == ["q"]


async def test_a_namespaced_watch_sees_only_its_namespace(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    await write(kv, pod("x", "team-a"))
    await write(kv, pod("y", "team-b"))
    cache = await start_cache()
    initial = cache.watch(0, "team-a")
    assert [brief(e)[:2] for e in await take(initial, 1)] == [("ADDED", "x")]
    watcher = cache.watch(cache.resource_version, "team-a")

    await write(kv, pod("z", "team-b"))
    mine = await write(kv, pod("z", "team-a"))
    assert [brief(e) for e in await take(watcher, 1)] == [("ADDED", "z", mine)]
    assert [brief(e) for e in await take(initial, 1)] == [("ADDED", "z", mine)]
    await assert_quiet(watcher)
    assert [o["metadata"]["name"] for o in cache.list("team-a")[0]] == ["x", "z"]
    assert [o["metadata"]["name"] for o in cache.list("team-b")[0]] == ["y", "z"]


async def test_wait_until_fresh_follows_events_and_progress_notices_and_times_out_beyond(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache()

    # A write elsewhere moves etcd's revision without an event for pods: a progress notice brings it.
    elsewhere = (await kv.put("/registry/nodes/n1", "{}")).header.revision
    await cache.wait_until_fresh(elsewhere, timeout=5)
    assert cache.resource_version >= elsewhere

    waiting = asyncio.create_task(cache.wait_until_fresh(cache.resource_version + 1, timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await write(kv, pod("p"))
    await asyncio.wait_for(waiting, timeout=1)

    far = cache.resource_version + 10_000
    with pytest.raises(TooLargeResourceVersionError) as raised:
        await cache.wait_until_fresh(far, timeout=0.3)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.code == 504 and raised.value.reason == "Timeout"
    assert raised.value.message.startswith(f"Timeout: Too large resource version: {far}, current: ")


async def test_a_slow_watcher_is_cut_off_without_blocking_the_others(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache(queue_size=5)
    start = cache.resource_version
    slow = cache.watch(start)  # never read until the end
    fast = cache.watch(start)

    revisions = []
    for n in range(12):
        revisions.append(await write(kv, pod(f"p{n:02}")))
        # In lockstep, so the fast watcher never holds more than one event.
        assert [brief(e)[2] for e in await take(fast, 1)] == [revisions[-1]]

    # The slow one yields what it had queued, then ends; resuming from there misses nothing.
    queued = await drain(slow)
    assert slow.reason == "overflow"
    assert [brief(e)[2] for e in queued] == revisions[:5]
    resumed = cache.watch(brief(queued[-1])[2])
    assert [brief(e)[2] for e in await take(resumed, 7)] == revisions[5:]
    await assert_quiet(resumed)


async def test_bookmarks_come_every_interval_to_watchers_that_allow_them(
    kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    clock = VirtualClock()
    cache = await start_cache(bookmark_interval=5.0, clock=clock)
    with_bookmarks = cache.watch(cache.resource_version, allow_bookmarks=True)
    without = cache.watch(cache.resource_version)
    while clock.sleepers == 0:  # the bookmark task is waiting on the clock
        await asyncio.sleep(0)

    revision = await write(kv, pod("p"))
    assert [brief(e) for e in await take(with_bookmarks, 1)] == [("ADDED", "p", revision)]
    await take(without, 1)
    await clock.advance(4.9)
    await assert_quiet(with_bookmarks, within=0.1)
    await clock.advance(0.1)
    [bookmark] = await take(with_bookmarks, 1)
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["kind"] == "Pod" and bookmark["object"]["apiVersion"] == "v1"
    assert set(bookmark["object"]["metadata"]) == {"resourceVersion"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= revision
    await clock.advance(5.0)
    assert [e["type"] for e in await take(with_bookmarks, 1)] == ["BOOKMARK"]
    await assert_quiet(without, within=0.1)


class InterruptedClient(NatsEtcdClient):
    """The real client, with a test's code run just before its next watch is created."""

    before_next_watch: Callable[[], Awaitable[None]] | None = None

    async def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
    ) -> Watch:
        if self.before_next_watch is not None:
            hook, self.before_next_watch = self.before_next_watch, None
            await hook()
        return await super().watch(
            key, range_end, prefix=prefix, start_revision=start_revision, prev_kv=prev_kv
        )


async def test_a_compacted_revision_makes_the_cache_relist_and_emit_the_differences(
    cluster: LocalEtcdCluster, kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    for name in ("kept", "changed", "removed"):
        await write(kv, pod(name))
    changes: dict[str, int] = {}

    async def change_and_compact() -> None:
        # Between the cache's list and its watch: the watch's start revision is gone when it is created.
        changes["changed"] = await write(kv, pod("changed", phase="Running"))
        changes["removed"] = await remove(kv, pod("removed"))
        changes["added"] = await write(kv, pod("added"))
        await kv.compact(changes["added"])

    client = InterruptedClient(await bus.connect(cluster.url, name="interrupted"), owns_connection=True)
    client.before_next_watch = change_and_compact
    cache = await start_cache(client=client)
    try:
        watcher = cache.watch(cache.resource_version)  # at the list's revision, before the re-list
        events = await take(watcher, 3, timeout=10)
        assert sorted(brief(e) for e in events) == [
            ("ADDED", "added", changes["added"]),
            ("DELETED", "removed", changes["added"]),  # the deletion is known to be at or before the list
            ("MODIFIED", "changed", changes["changed"]),
        ]
        assert [brief(e)[2] for e in events] == sorted(brief(e)[2] for e in events)
        await assert_quiet(watcher)
        assert [o["metadata"]["name"] for o in cache.list()[0]] == ["added", "changed", "kept"]
        live = await write(kv, pod("later"))
        assert [brief(e) for e in await take(watcher, 1)] == [("ADDED", "later", live)]
    finally:
        await cache.stop()  # before its client goes
        await client.close()


async def create_once(kv: NatsEtcdClient, obj: Obj) -> None:
    """Create ``obj`` exactly once, retrying through failures (the compare makes a retry harmless)."""
    key = key_of(obj)
    while True:
        try:
            await kv.txn([Compare(key, "create_revision", "=", 0)], [PutOp(key, json.dumps(obj))], [])
            return
        except EtcdError:
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_the_cache_loses_and_repeats_nothing_when_the_member_serving_its_watch_dies(
    cluster: LocalEtcdCluster, kv: NatsEtcdClient, start_cache: StartCache
) -> None:
    cache = await start_cache()
    watcher = cache.watch(cache.resource_version)
    etcd_watch = cache.etcd_watch
    assert isinstance(etcd_watch, NatsWatch)
    serving = cluster.members[etcd_watch._watch_id.split("/")[0]]  # watch ids are "<member>/<number>"

    names = [f"p{n:03}" for n in range(60)]
    stop_writing = asyncio.Event()

    async def writer() -> None:
        for name in names:
            await create_once(kv, pod(name))
            if name == "p020":
                stop_writing.set()
            await asyncio.sleep(0.05)

    writing = asyncio.create_task(writer())
    await stop_writing.wait()
    serving.kill()
    try:
        await asyncio.wait_for(writing, timeout=60)
        final = await kv.range("/registry/pods/", prefix=True)
        await cache.wait_until_fresh(final.header.revision, timeout=20)

        stored = sorted((kv_.mod_revision, kv_.key.rsplit("/", 1)[1]) for kv_ in final.kvs)
        assert len(stored) == len(names)
        events = await take(watcher, len(names), timeout=10)
        assert [(rv, name) for _, name, rv in map(brief, events)] == stored
        assert {e["type"] for e in events} == {"ADDED"}
        await assert_quiet(watcher)
        assert [(rv_of(o), o["metadata"]["name"]) for o in cache.list()[0]] == sorted(
            stored, key=lambda s: s[1]
        )
    finally:
        await asyncio.to_thread(serving.start)
