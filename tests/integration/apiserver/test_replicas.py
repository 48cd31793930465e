"""Three API server replicas in one queue group: losing one is invisible to clients beyond a retry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient
from shared.errors import ApiError
from tests.integration.apiserver.conftest import PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def replicated() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=3) as started:
        yield started


async def create_with_retry(client: ApiClient, obj: dict[str, object], retried: list[str]) -> None:
    """A client's create: a request lost with its replica (504) is sent again; AlreadyExists then
    means the first attempt had succeeded."""
    for attempt in range(5):
        try:
            await client.create(obj)
            return
        except ApiError as error:
            if error.code == 504:
                retried.append(str(obj["metadata"]))
                continue
            if error.reason == "AlreadyExists" and attempt > 0:
                return
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


async def test_watch_continues_without_gap_when_replicas_die(replicated: LocalControlPlane) -> None:
    for process in replicated.apiservers.values():
        if not process.alive():
            await asyncio.to_thread(process.start)
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
