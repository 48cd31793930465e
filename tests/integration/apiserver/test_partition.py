"""API servers and their clients honour ``chaos.network.partition``: a replica cut off from the others
reaches only its own API server and etcd member, so it can neither write nor keep a leader Lease, while
the majority side goes on serving and takes the Lease over; ``chaos.reset`` heals it with nothing lost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from nats.aio.client import Client

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus, subjects
from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.leaderelection import ApiLeaseLock, LeaderElectionConfig, LeaderElector
from shared.reachability import REPLICA_HEADER, Reachability
from tests.integration.apiserver.conftest import NAMESPACES, PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUT_OFF, MAJORITY = ["cp-1"], ["cp-2", "cp-3"]


@pytest.fixture(scope="module")
def replicated() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=3, etcd_args=["--request-timeout", "2"]) as started:
        yield started


@pytest.fixture
async def nc(replicated: LocalControlPlane) -> AsyncIterator[Client]:
    connection = await bus.connect(replicated.url, name="partition-test")
    yield connection
    await connection.publish(subjects.chaos_reset(), b"")  # never leave the module's cluster partitioned
    await connection.flush()
    await connection.close()


@pytest.fixture
async def client_on(
    replicated: LocalControlPlane, nc: Client
) -> AsyncIterator[Callable[[str], Awaitable[ApiClient]]]:
    """``await client_on("cp-1")``: an admin client living on that replica, as its components do."""
    reachabilities: list[Reachability] = []

    async def make(replica: str) -> ApiClient:
        reachability = Reachability(nc, replica)
        await reachability.start()
        reachabilities.append(reachability)
        return ApiClient(
            nc, replicated.tokens["admin"], timeout=3.0, retry_for=3.0, reachability=reachability
        )

    yield make
    for reachability in reachabilities:
        await reachability.stop()


async def partition(nc: Client, *groups: list[str]) -> None:
    await nc.publish(subjects.chaos_network_partition(), json.dumps({"groups": list(groups)}).encode())
    await nc.flush()


async def answers(nc: Client, replica: str, caller: str | None, timeout: float = 3.0) -> bool:
    """Whether the API server ``replica`` answers a request from ``caller`` (None: from no replica)
    within ``timeout``."""
    headers = {REPLICA_HEADER: caller} if caller else None
    subject = subjects.api_replica(replica, "", "v1", "namespaces", "get")
    try:
        await bus.request(nc, subject, {"name": "default"}, timeout=timeout, headers=headers)
    except ApiError as error:
        return error.code != 504  # a Status reply (401: no token) is an answer all the same
    return True


async def dropped(nc: Client, replica: str, caller: str) -> bool:
    """Whether ``replica`` ignores ``caller`` while it still answers a caller of no replica (so the silence
    is the partition's, not a slow machine's)."""
    return not await answers(nc, replica, caller, timeout=1.0) and await answers(nc, replica, None)


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():
            await asyncio.sleep(0.1)


async def test_an_api_server_drops_requests_from_replicas_it_cannot_reach(nc: Client) -> None:
    assert await answers(nc, "cp-2", "cp-1")
    await partition(nc, CUT_OFF, MAJORITY)

    await until(lambda: dropped(nc, "cp-2", "cp-1"))
    assert await answers(nc, "cp-2", "cp-3"), "a replica on the same side was refused"
    assert await answers(nc, "cp-2", None), "a client on no replica (kubectl, a worker) was refused"
    assert await dropped(nc, "cp-1", "cp-3")

    await nc.publish(subjects.chaos_reset(), b"")
    await until(lambda: answers(nc, "cp-2", "cp-1"))


async def test_the_cut_off_replica_cannot_write_while_the_majority_serves_and_nothing_is_lost(
    nc: Client, client_on: Callable[[str], Awaitable[ApiClient]]
) -> None:
    cut_off, majority = await client_on("cp-1"), await client_on("cp-2")
    namespace = f"p-{uuid.uuid4().hex[:6]}"
    await majority.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    await partition(nc, CUT_OFF, MAJORITY)
    await until(lambda: _partitioned(cut_off, majority))

    acknowledged = []
    for n in range(10):
        created = await majority.create(pod(f"during-{n}", namespace))  # 503s retried past any election
        acknowledged.append(created["metadata"]["name"])
    with pytest.raises(ApiError) as refused:
        await cut_off.create(pod("cut-off", namespace))
    assert refused.value.code in (503, 504), refused.value
    with pytest.raises(ApiError):
        await cut_off.list(PODS, namespace)  # a consistent read needs a quorum too

    await nc.publish(subjects.chaos_reset(), b"")
    await until(lambda: _healed(cut_off))
    healed = await _create_eventually(cut_off, pod("after", namespace))
    assert healed["metadata"]["name"] == "after"
    names = {item["metadata"]["name"] for item in (await cut_off.list(PODS, namespace))["items"]}
    assert set(acknowledged) | {"after"} <= names
    await majority.delete(NAMESPACES, namespace)


async def test_the_leader_lease_moves_to_the_majority_side(
    nc: Client, client_on: Callable[[str], Awaitable[ApiClient]]
) -> None:
    config = LeaderElectionConfig(lease_duration=6, renew_deadline=5, retry_period=0.5)
    lease = f"partition-{uuid.uuid4().hex[:6]}"
    electors = {
        replica: LeaderElector(ApiLeaseLock(await client_on(replica), "kube-system", lease), replica, config)
        for replica in ("cp-1", "cp-2")
    }
    stop = asyncio.Event()
    led: dict[str, asyncio.Event] = {replica: asyncio.Event() for replica in electors}

    def campaign(replica: str) -> asyncio.Task[bool]:
        async def lead() -> None:
            led[replica].set()
            await asyncio.Event().wait()

        return asyncio.create_task(electors[replica].run(lead, stop))

    first = campaign("cp-1")
    await asyncio.wait_for(led["cp-1"].wait(), 10)
    second = campaign("cp-2")
    await asyncio.sleep(1)
    assert not electors["cp-2"].is_leader, "two leaders before any partition"

    await partition(nc, CUT_OFF, MAJORITY)
    assert await asyncio.wait_for(first, 10) is False, "the cut-off leader did not give up its lease"
    await asyncio.wait_for(led["cp-2"].wait(), 15)
    assert electors["cp-2"].is_leader and not electors["cp-1"].is_leader

    await nc.publish(subjects.chaos_reset(), b"")
    led["cp-1"].clear()
    rejoined = campaign("cp-1")
    with pytest.raises(TimeoutError):  # the healed replica stands by: the Lease is held and renewed
        await asyncio.wait_for(led["cp-1"].wait(), config.lease_duration + 1)
    stop.set()
    await asyncio.wait_for(asyncio.gather(second, rejoined), 10)


async def _partitioned(*clients: ApiClient) -> bool:
    return all(c.reachability is not None and c.reachability.state.partitioned for c in clients)


async def _healed(*clients: ApiClient) -> bool:
    return not any(c.reachability is not None and c.reachability.state.partitioned for c in clients)


async def _create_eventually(client: ApiClient, obj: dict[str, Any], seconds: float = 20.0) -> dict[str, Any]:
    """Create once the healed replica's member follows a leader again (a timed-out attempt may have
    succeeded: AlreadyExists then)."""
    async with asyncio.timeout(seconds):
        while True:
            try:
                return await client.create(obj)
            except ApiError as error:
                if error.reason == "AlreadyExists":
                    meta = obj["metadata"]
                    return await client.get(PODS, meta["name"], meta["namespace"])
                if error.code not in (503, 504):
                    raise
            await asyncio.sleep(0.2)
