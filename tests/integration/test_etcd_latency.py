"""Raft honours ``chaos.network.latency``: the transport holds back batches to and from a slowed replica
without blocking its caller and without reordering them, and on a real 3-member etcd cluster a slowed
leader makes every commit slower by about the delay, until ``chaos.reset``, with nothing lost.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from nats.aio.client import Client

from services.etcd.client.nats import NatsEtcdClient
from services.etcd.local_cluster import LocalEtcdCluster
from services.etcd.raft.types import Message, MessageType
from shared import bus, subjects
from tests.integration.test_etcd_partition import eventually, leader_among
from tests.integration.test_etcd_partition import started as started_transports

pytestmark = [pytest.mark.integration]

DELAY = 0.1


def latency_body(delay_ms: float, *replicas: str, jitter_ms: float = 0) -> bytes:
    return json.dumps({"delay_ms": delay_ms, "jitter_ms": jitter_ms, "replicas": list(replicas)}).encode()


# --- the transport ----------------------------------------------------------------------------------


async def test_transport_delays_sends_of_a_slowed_member_in_order_without_blocking(nc: Client) -> None:
    (a, b, c), (_, inbox_b, inbox_c) = await started_transports(nc, "l1", "a", "b", "c")
    await nc.publish(subjects.chaos_network_latency(), latency_body(DELAY * 1000, "a", jitter_ms=50))
    await eventually(lambda: a.latency.active and b.latency.active)

    sent = [Message(MessageType.APP, to="b", frm="a", term=1, index=n) for n in range(20)]
    started = time.monotonic()
    for message in sent:  # one batch per call: with jitter, later batches may be due earlier
        await a.send([message])
    assert time.monotonic() - started < DELAY * 5, "send waited for the delays"  # 20 waits: ≥ 1 s
    between_others = Message(MessageType.HEARTBEAT, to="c", frm="b", term=1)
    await b.send([between_others])
    await inbox_c.wait_for(1)
    assert inbox_b.messages == []  # b to c went at once; a's batches are still held back
    await inbox_b.wait_for(len(sent))
    assert time.monotonic() - started >= DELAY / 2
    assert inbox_b.messages == sent

    await nc.publish(subjects.chaos_reset(), b"")
    await eventually(lambda: not a.latency.active)
    after = Message(MessageType.HEARTBEAT, to="b", frm="a", term=2)
    await a.send([after])
    await inbox_b.wait_for(len(sent) + 1)
    assert inbox_b.messages[-1] == after
    for transport in (a, b, c):
        await transport.close()


async def test_transport_ignores_a_malformed_latency_and_keeps_the_current_one(nc: Client) -> None:
    (a,), _ = await started_transports(nc, "l2", "a")
    await nc.publish(subjects.chaos_network_latency(), latency_body(50, "b"))
    await eventually(lambda: a.latency.active)
    await nc.publish(subjects.chaos_network_latency(), latency_body(-5, "b"))
    await nc.publish(subjects.chaos_network_latency(), latency_body(70, "c"))
    await eventually(lambda: a.latency.spec is not None and a.latency.spec.replicas == ["c"])
    assert a.latency.spec is not None and a.latency.spec.delay_ms == 70
    await a.close()


# --- a real cluster ---------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[LocalEtcdCluster]:
    with LocalEtcdCluster() as started_cluster:
        yield started_cluster


@pytest.fixture
async def nc_cluster(cluster: LocalEtcdCluster) -> AsyncIterator[Client]:
    client = await bus.connect(cluster.url, name="latency-test")
    yield client
    await client.close()


async def put_latencies(kv: NatsEtcdClient, acked: dict[str, str], tag: str, count: int = 15) -> float:
    """The median latency of ``count`` puts one after another; every one must be acknowledged."""
    took = []
    for n in range(count):
        key, value = f"/latency/{tag}-{n}", f"{tag}{n}"
        started = time.monotonic()
        await kv.put(key, value)
        took.append(time.monotonic() - started)
        acked[key] = value
    return statistics.median(took)


async def test_a_slowed_leader_slows_every_commit_until_reset_and_loses_nothing(
    cluster: LocalEtcdCluster, nc_cluster: Client
) -> None:
    nc = nc_cluster
    kv = NatsEtcdClient(nc, timeout=5.0, retry_for=0.0)
    acked: dict[str, str] = {}
    leader = await leader_among(nc, cluster.names)
    await put_latencies(kv, acked, "warm-up", 5)
    before = await put_latencies(kv, acked, "before")

    await nc.publish(subjects.chaos_network_latency(), latency_body(DELAY * 1000, leader))
    await nc.flush()
    await asyncio.sleep(0.2)  # every member has the chaos message
    during = await put_latencies(kv, acked, "during")
    # The leader's appends wait for a follower's acknowledgement, both legs held back (and a put a
    # follower answers is forwarded to the leader and learns of its commit from it: two legs more).
    assert during >= before + DELAY / 2, (before, during)
    assert await leader_among(nc, cluster.names) == leader, "the delay cost the leader its leadership"

    await nc.publish(subjects.chaos_reset(), b"")
    await nc.flush()
    await asyncio.sleep(0.5)  # batches held back before the reset have gone out
    after = await put_latencies(kv, acked, "after")
    assert after < during, (before, during, after)

    stored = {item.key: item.value for item in (await kv.range("/latency/", prefix=True)).kvs}
    assert stored == acked
