"""Three API server replicas in one queue group: losing one is invisible to clients beyond a retry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.informer import Informer
from tests.integration.apiserver.conftest import PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def replicated() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=3) as started:
        yield started


async def create_with_retry(client: ApiClient, obj: dict[str, Any], retried: list[str]) -> dict[str, Any]:
    """A client's create: a request lost with its replica (504) is sent again; AlreadyExists then
    means the first attempt had succeeded. Answers the object as stored."""
    for attempt in range(5):
        try:
            return await client.create(obj)
        except ApiError as error:
            if error.code == 504:
                retried.append(str(obj["metadata"]))
                continue
            if error.reason == "AlreadyExists" and attempt > 0:
                meta = obj["metadata"]
                return await client.get(PODS, meta["name"], meta["namespace"])
            raise
    raise AssertionError(f"create did not succeed after retries: {obj['metadata']}")


async def test_killing_a_replica_loses_no_create(replicated: LocalControlPlane) -> None:
    nc = await bus.connect(replicated.url, name="replica-test")
    admin = ApiClient(nc, replicated.tokens["admin"], timeout=2.0)
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ha"}})
    retried: list[str] = []

    async def writer(w: int) -> None:
        for n in range(40):
            await create_with_retry(admin, pod(f"w{w}-{n}", "ha"), retried)

    writers = [asyncio.create_task(writer(w)) for w in range(4)]
    await asyncio.sleep(0.5)
    replicated.apiservers["cp-2"].kill()
    await asyncio.gather(*writers)
    names = {p["metadata"]["name"] for p in (await admin.list(PODS, "ha"))["items"]}
    assert names == {f"w{w}-{n}" for w in range(4) for n in range(40)}
    assert len(retried) <= 4 * 2, f"more retries than requests in flight at the kill: {retried}"
    await nc.close()


async def start_the_dead(replicated: LocalControlPlane) -> None:
    for process in replicated.apiservers.values():
        if not process.alive():
            await asyncio.to_thread(process.start)


async def test_watch_continues_without_gap_when_replicas_die(replicated: LocalControlPlane) -> None:
    await start_the_dead(replicated)
    nc = await bus.connect(replicated.url, name="replica-watch-test")
    admin = ApiClient(nc, replicated.tokens["admin"], timeout=2.0)
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ha-watch"}})
    watch = await admin.watch(PODS, "ha-watch", resource_version="0")
    retried: list[str] = []
    seen: list[str] = []

    async def consume() -> None:
        async for event in watch:
            assert event["type"] == "ADDED", json.dumps(event)
            seen.append(event["object"]["metadata"]["name"])
            if len(seen) == 30:
                return

    consumer = asyncio.create_task(consume())
    replicas = list(replicated.apiservers.values())
    for n in range(30):
        if n % 10 == 0:
            # Each replica dies once (the one before it restarts), so whichever serves the watch dies.
            dead = replicas[n // 10]
            for process in replicas:
                if not process.alive():
                    await asyncio.to_thread(process.start)
            dead.kill()
        await create_with_retry(admin, pod(f"p{n:02d}", "ha-watch"), retried)
    await asyncio.wait_for(consumer, timeout=60)
    assert seen == [f"p{n:02d}" for n in range(30)]
    await watch.stop()
    await nc.close()


async def test_a_watch_resumes_on_a_replica_started_after_the_last_event_it_delivered(
    replicated: LocalControlPlane,
) -> None:
    """The replica serving a watch dies; the only one left started after the client's last event, so its
    watch cache's window begins later. The client still gets every change since then, not a 410."""
    await start_the_dead(replicated)
    cp1, cp2, cp3 = (replicated.apiservers[name] for name in ("cp-1", "cp-2", "cp-3"))
    nc = await bus.connect(replicated.url, name="replica-resume-test")
    admin = ApiClient(nc, replicated.tokens["admin"], timeout=2.0)
    retried: list[str] = []
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ha-resume"}})
    cp2.kill()
    cp3.kill()
    # Sent just after the kills, the request may still be routed to a dead replica: retried, as a client does.
    first = await create_with_retry(admin, pod("a", "ha-resume"), retried)
    watch = await admin.watch(PODS, "ha-resume", resource_version=first["metadata"]["resourceVersion"])
    await create_with_retry(admin, pod("b", "ha-resume"), retried)
    async with asyncio.timeout(10):
        delivered = await anext(watch)
    assert (delivered["type"], delivered["object"]["metadata"]["name"]) == ("ADDED", "b")

    await asyncio.to_thread(cp3.start)
    cp1.kill()  # the watch's replica
    for name in ("c", "d"):
        await create_with_retry(admin, pod(name, "ha-resume"), retried)
    await asyncio.to_thread(cp2.start)  # its watch cache begins after d
    cp3.kill()
    watch.silence = 1.0  # re-watch soon: the test knows its replica is gone
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        async for event in watch:
            events.append(event)
            if len(events) == 2:
                break
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "c"),
        ("ADDED", "d"),
    ], json.dumps(events)
    await watch.stop()
    await nc.close()


async def test_an_informer_resuming_on_a_replica_started_after_its_version_misses_nothing_and_keeps_its_list(
    replicated: LocalControlPlane,
) -> None:
    """The same loss under an informer: it hears of every pod once, from the resumed watch — no re-list."""
    await start_the_dead(replicated)
    cp1, cp2, cp3 = (replicated.apiservers[name] for name in ("cp-1", "cp-2", "cp-3"))
    nc = await bus.connect(replicated.url, name="replica-informer-test")
    admin = ApiClient(nc, replicated.tokens["admin"], timeout=2.0)
    retried: list[str] = []
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ha-informer"}})
    cp2.kill()
    cp3.kill()
    # Sent just after the kills, the request may still be routed to a dead replica: retried, as a client does.
    await create_with_retry(admin, pod("a", "ha-informer"), retried)
    added: list[str] = []
    pods = Informer(admin, PODS, "ha-informer")
    pods.add_handler(on_add=lambda obj: added.append(obj["metadata"]["name"]))
    async with pods:
        assert await pods.wait_for_sync(10)
        await create_with_retry(admin, pod("b", "ha-informer"), retried)
        await until(lambda: added == ["a", "b"], timeout=10)

        await asyncio.to_thread(cp3.start)
        cp1.kill()  # the informer's watch's replica
        for name in ("c", "d"):
            await create_with_retry(admin, pod(name, "ha-informer"), retried)
        await asyncio.to_thread(cp2.start)  # its watch cache begins after d
        cp3.kill()
        # The watch notices its replica's silence (6 s), then resumes on cp-2.
        await until(lambda: len(added) == 4, timeout=40)
        assert added == ["a", "b", "c", "d"]
        assert pods.lists == 1, "the informer re-listed: its watch was refused"
    await nc.close()


async def until(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.1)
