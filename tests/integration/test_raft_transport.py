"""Raft messages over a real nats-server: batches per peer, and snapshots larger than a NATS message."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from services.etcd.raft.types import Entry, Message, MessageType, Snapshot, SnapshotMetadata
from services.etcd.raftio.transport import NatsTransport
from shared import subjects


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.snapshot_reports: list[tuple[str, bool]] = []
        self.arrived = asyncio.Event()

    def deliver(self, message: Message) -> None:
        self.messages.append(message)
        self.arrived.set()

    def report(self, member: str, ok: bool) -> None:
        self.snapshot_reports.append((member, ok))

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()


async def test_messages_reach_their_peer_in_order_within_a_batch(nc: Client) -> None:
    a, b, inbox_a, inbox_b = NatsTransport(nc, "t1", "a"), NatsTransport(nc, "t1", "b"), Inbox(), Inbox()
    await a.start(inbox_a.deliver, inbox_a.report)
    await b.start(inbox_b.deliver, inbox_b.report)
    sent = [
        Message(MessageType.APP, to="b", frm="a", term=2, index=n, entries=(Entry(2, n + 1, b"x" * n),))
        for n in range(5)
    ]
    await a.send(sent)
    await inbox_b.wait_for(5)
    assert inbox_b.messages == sent
    assert inbox_a.messages == []
    await a.close()
    await b.close()


async def test_snapshot_larger_than_a_nats_message_arrives_whole_and_is_reported(nc: Client) -> None:
    a = NatsTransport(nc, "t2", "a", chunk_bytes=64 * 1024)
    b = NatsTransport(nc, "t2", "b", chunk_bytes=64 * 1024)
    inbox_a, inbox_b = Inbox(), Inbox()
    await a.start(inbox_a.deliver, inbox_a.report)
    await b.start(inbox_b.deliver, inbox_b.report)
    data = bytes(range(256)) * 12_000  # ~3 MiB, three times nats-server's default max_payload
    snapshot = Snapshot(SnapshotMetadata(index=900, term=4, voters=("a", "b", "c")), data)
    message = Message(MessageType.SNAP, to="b", frm="a", term=4, snapshot=snapshot)
    await a.send([message])
    await inbox_b.wait_for(1)
    assert inbox_b.messages == [message]
    assert inbox_a.snapshot_reports == [("b", True)]
    await a.close()
    await b.close()


async def test_garbage_on_the_subject_is_dropped_and_transport_keeps_working(nc: Client) -> None:
    a, b, inbox_b = NatsTransport(nc, "t3", "a"), NatsTransport(nc, "t3", "b"), Inbox()
    await a.start(Inbox().deliver, Inbox().report)
    await b.start(inbox_b.deliver, inbox_b.report)
    for junk in (b"", b"\x00\x00\x00\x00\x09garbage", b"\x07", b"\x01\x00"):
        await nc.publish(subjects.raft("t3", "b"), junk)
    heartbeat = Message(MessageType.HEARTBEAT, to="b", frm="a", term=1)
    await a.send([heartbeat])
    await inbox_b.wait_for(1)
    assert inbox_b.messages == [heartbeat]
    await a.close()
    await b.close()
