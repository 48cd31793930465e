"""Raft honours ``chaos.network.partition`` and ``chaos.reset``: the transport cuts partitioned peers off
in both directions, and a real 3-member etcd cluster with its leader cut off elects a new leader on the
majority side, refuses to commit on the minority side, and after the reset heals with nothing lost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from nats.aio.client import Client

from services.etcd.client.api import EtcdError
from services.etcd.client.nats import NatsEtcdClient
from services.etcd.local_cluster import LocalEtcdCluster
from services.etcd.raft.types import Message, MessageType, Snapshot, SnapshotMetadata
from services.etcd.raftio.transport import NatsTransport, encode_batch
from services.etcd.server import numeric_id
from shared import bus, subjects
from tests.integration.test_raft_transport import Inbox

pytestmark = [pytest.mark.integration]


def partition_body(*groups: list[str]) -> bytes:
    return json.dumps({"groups": list(groups)}).encode()


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


# --- the transport ----------------------------------------------------------------------------------


async def started(nc: Client, cluster: str, *names: str) -> tuple[list[NatsTransport], list[Inbox]]:
    transports = [NatsTransport(nc, cluster, name) for name in names]
    inboxes = [Inbox() for _ in names]
    for transport, inbox in zip(transports, inboxes, strict=True):
        await transport.start(inbox.deliver, inbox.report)
    return transports, inboxes


async def test_transport_sends_only_within_its_group_until_reset(nc: Client) -> None:
    (a, b, c), (inbox_a, inbox_b, inbox_c) = await started(nc, "p1", "a", "b", "c")
    await nc.publish(subjects.chaos_network_partition(), partition_body(["a"], ["b", "c"]))
    await eventually(lambda: a.partition.partitioned and b.partition.partitioned)

    await a.send([Message(MessageType.HEARTBEAT, to=peer, frm="a", term=1) for peer in ("b", "c")])
    within = Message(MessageType.HEARTBEAT, to="c", frm="b", term=1)
    await b.send([within, Message(MessageType.HEARTBEAT, to="a", frm="b", term=1)])
    await inbox_c.wait_for(1)
    await nc.flush()
    await asyncio.sleep(0.2)  # time for a message that should not arrive to arrive anyway
    assert inbox_c.messages == [within]
    assert inbox_a.messages == [] and inbox_b.messages == []

    await nc.publish(subjects.chaos_reset(), b"")
    await eventually(lambda: not a.partition.partitioned)
    healed = Message(MessageType.HEARTBEAT, to="b", frm="a", term=2)
    await a.send([healed])
    await inbox_b.wait_for(1)
    assert inbox_b.messages == [healed]
    for transport in (a, b, c):
        await transport.close()


async def test_transport_ignores_a_partitioned_sender_that_has_not_seen_the_partition(nc: Client) -> None:
    (a, b), (_, inbox_b) = await started(nc, "p2", "a", "b")
    await nc.publish(subjects.chaos_network_partition(), partition_body(["a"], ["b"]))
    await eventually(lambda: b.partition.partitioned)
    # What a sender that missed the chaos message would publish: the receiver drops it all the same.
    stale = Message(MessageType.APP, to="b", frm="a", term=3)
    await nc.publish(subjects.raft("p2", "b"), encode_batch([stale]), headers={"From": "a"})
    await nc.publish(subjects.raft("p2", "b"), encode_batch([stale]))  # no header: the message names "a"
    await nc.flush()
    await asyncio.sleep(0.2)
    assert inbox_b.messages == []
    await a.close()
    await b.close()


async def test_transport_reports_a_snapshot_to_a_partitioned_peer_as_undelivered(nc: Client) -> None:
    (a, b), (inbox_a, inbox_b) = await started(nc, "p3", "a", "b")
    await nc.publish(subjects.chaos_network_partition(), partition_body(["a"], ["b"]))
    await eventually(lambda: a.partition.partitioned)
    snapshot = Snapshot(SnapshotMetadata(index=10, term=2, voters=("a", "b")), b"state")
    await a.send([Message(MessageType.SNAP, to="b", frm="a", term=2, snapshot=snapshot)])
    assert inbox_a.snapshot_reports == [("b", False)]
    assert inbox_b.messages == []
    await a.close()
    await b.close()


async def test_transport_ignores_a_malformed_partition_and_keeps_the_current_one(nc: Client) -> None:
    (a,), _ = await started(nc, "p4", "a")
    await nc.publish(subjects.chaos_network_partition(), partition_body(["a"], ["b"]))
    await eventually(lambda: a.partition.partitioned)
    await nc.publish(subjects.chaos_network_partition(), b'{"groups": [["a"], ["a"]]}')
    await nc.publish(subjects.chaos_network_partition(), partition_body(["a", "b"]))
    await eventually(lambda: a.partition.can_reach("a", "b"))
    assert a.partition.groups() == [["a", "b"]]  # the malformed one in between changed nothing
    await a.close()


# --- a real cluster ---------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[LocalEtcdCluster]:
    with LocalEtcdCluster(extra_args=["--request-timeout", "2"]) as started_cluster:
        yield started_cluster


async def member_status(nc: Client, name: str) -> dict[str, Any]:
    """What one member says about itself, asked on its own subject (client-serving is not partitioned)."""
    reply: dict[str, Any] = await bus.request(nc, subjects.etcd_member(name, "status"), {}, timeout=3)
    return reply


async def leader_among(nc: Client, names: tuple[str, ...], seconds: float = 10.0) -> str:
    """The leader of ``names`` once every one of them follows it (so none refuses a write for want of one)."""
    async with asyncio.timeout(seconds):
        while True:
            statuses = [await member_status(nc, name) for name in names]
            leaders = {status["leader"] for status in statuses}
            for name, status in zip(names, statuses, strict=True):
                if status["is_leader"] and len(leaders) == 1:
                    return name
            await asyncio.sleep(0.1)


class Writer:
    """Puts through the queue group, never retried; each acknowledged value kept with the member that
    acknowledged it."""

    def __init__(self, kv: NatsEtcdClient) -> None:
        self.kv = kv
        self.acked: dict[str, tuple[str, int]] = {}
        self.failed = 0

    async def put(self, key: str, value: str) -> None:
        try:
            result = await self.kv.put(key, value)
        except EtcdError:
            self.failed += 1
            return
        self.acked[key] = (value, result.header.member_id)

    async def burst(self, tag: str, count: int) -> None:
        await asyncio.gather(*(self.put(f"/partition/{tag}-{n}", f"{tag}{n}") for n in range(count)))


async def test_leader_cut_off_alone_loses_leadership_and_nothing_acknowledged(
    cluster: LocalEtcdCluster, nc_cluster: Client
) -> None:
    nc = nc_cluster
    kv = NatsEtcdClient(nc, timeout=5.0, retry_for=0.0)
    writer = Writer(kv)
    names = cluster.names
    old = await leader_among(nc, names)
    majority = tuple(name for name in names if name != old)
    await writer.burst("before", 20)
    assert writer.failed == 0

    await nc.publish(subjects.chaos_network_partition(), partition_body([old], list(majority)))
    new = await leader_among(nc, majority)
    isolated_commit = (await member_status(nc, old))["commit"]

    # Writes through the queue group: what lands on the majority commits, what lands on the cut-off
    # member fails (it can reach no quorum), and it acknowledges nothing.
    await writer.burst("during", 30)
    answered_by = {member for key, (_, member) in writer.acked.items() if key.startswith("/partition/during")}
    assert answered_by, "the majority acknowledged no write"
    assert answered_by <= {numeric_id(f"etcd:{name}") for name in majority}
    assert writer.failed > 0, "no write reached the cut-off member: the test proved nothing"
    isolated = await member_status(nc, old)
    assert not isolated["is_leader"] and isolated["commit"] == isolated_commit
    assert (await member_status(nc, new))["commit"] > isolated_commit

    await nc.publish(subjects.chaos_reset(), b"")
    await writer.burst("after", 10)
    target = (await member_status(nc, new))["commit"]
    async with asyncio.timeout(10):  # the old leader rejoins and catches up
        while (await member_status(nc, old))["applied"] < target:
            await asyncio.sleep(0.1)
    status = await member_status(nc, old)
    assert status["leader"] != 0 and status["term"] == (await member_status(nc, new))["term"]

    # Every acknowledged write is there: linearizably, and on the old leader's own copy.
    everything = await kv.range("/partition/", prefix=True)
    stored = {item.key: item.value for item in everything.kvs}
    assert {key: value for key, (value, _) in writer.acked.items()} == {
        key: stored[key] for key in writer.acked
    }
    old_id = numeric_id(f"etcd:{old}")
    for _ in range(200):
        local = await kv.range("/partition/", prefix=True, serializable=True)
        if local.header.member_id == old_id:
            assert {item.key: item.value for item in local.kvs} == stored
            break
    else:
        raise AssertionError("no serializable read was answered by the old leader")


@pytest.fixture
async def nc_cluster(cluster: LocalEtcdCluster) -> AsyncIterator[Client]:
    client = await bus.connect(cluster.url, name="partition-test")
    yield client
    await client.close()
