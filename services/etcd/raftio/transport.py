"""How Raft messages travel between members: a ``Transport`` interface and its NATS implementation.

Each member subscribes to ``raft.<cluster>.<member-id>``. The messages one ``Ready`` holds for a peer go
out as one NATS message (a batch), so a leader replicating to two followers publishes twice per round,
not once per entry. A batch larger than the chunk size (a snapshot, typically) is split into chunks the
receiver reassembles, because NATS refuses messages over the server's ``max_payload`` (1 MiB by default).

Delivery is at most once and unordered across reconnects: Raft itself tolerates lost, duplicated and
reordered messages, so the transport adds no acknowledgements of its own.

The transport honours ``chaos.network.partition`` and ``chaos.reset`` (ARCHITECTURE.md §4): while this
member is cut off from a peer it neither sends to that peer nor accepts what the peer sends, both, because
the peer may not have seen the chaos message yet. It honours ``chaos.network.latency`` too: a batch to or
from a slowed replica is published after the delay by a task of its own, so the member's loop never
waits, and each peer's batches wait behind the ones before them, so they still arrive in order.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.etcd.raft.codec import CodecError, decode_message, encode_message
from services.etcd.raft.types import Message, MessageType
from shared import subjects
from shared.logging import get_logger
from shared.netchaos import LatencyError, LatencyState, parse_latency
from shared.partition import PartitionState
from shared.reachability import Reachability

log = get_logger(__name__)

Deliver = Callable[[Message], None]
"""Called with each message received for this member, on the event loop."""
ReportSnapshot = Callable[[str, bool], None]
"""Called with (member, delivered) for every snapshot message handed to ``send``."""

_BATCH = 0
_CHUNK = 1
_LENGTH = struct.Struct(">I")
# kind, sender-scoped chunk-set id, chunk number, chunk count
_CHUNK_HEADER = struct.Struct(">BQII")
DEFAULT_CHUNK_BYTES = 512 * 1024


class Transport(Protocol):
    async def start(self, deliver: Deliver, report_snapshot: ReportSnapshot) -> None:
        """Begin receiving; ``deliver`` gets every message addressed to this member."""
        ...

    async def send(self, messages: Sequence[Message]) -> None:
        """Hand ``messages`` to the network; never waits for the peers, may drop silently."""
        ...

    async def close(self) -> None: ...


def encode_batch(messages: Sequence[Message]) -> bytes:
    parts = [bytes([_BATCH])]
    for message in messages:
        body = encode_message(message)
        parts.append(_LENGTH.pack(len(body)))
        parts.append(body)
    return b"".join(parts)


def decode_batch(data: bytes) -> list[Message]:
    messages, offset = [], 1
    while offset < len(data):
        if offset + _LENGTH.size > len(data):
            raise CodecError("truncated batch length")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if offset + length > len(data):
            raise CodecError("truncated batch message")
        messages.append(decode_message(data[offset : offset + length]))
        offset += length
    return messages


def split_chunks(frame: bytes, chunk_id: int, chunk_bytes: int) -> list[bytes]:
    pieces = [frame[i : i + chunk_bytes] for i in range(0, len(frame), chunk_bytes)]
    return [_CHUNK_HEADER.pack(_CHUNK, chunk_id, n, len(pieces)) + piece for n, piece in enumerate(pieces)]


@dataclass
class _Reassembly:
    count: int
    pieces: dict[int, bytes] = field(default_factory=dict)


class NatsTransport:
    """Raft messages over NATS core publish/subscribe on ``raft.<cluster>.<member>``."""

    def __init__(
        self,
        nc: Client,
        cluster: str,
        member_id: str,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        reachability: Reachability | None = None,
    ) -> None:
        self.nc = nc
        self.cluster = cluster
        self.member_id = member_id
        self.chunk_bytes = chunk_bytes
        self._deliver: Deliver | None = None
        self._report_snapshot: ReportSnapshot | None = None
        self._subscriptions: list[Subscription] = []
        # What this member reaches while partitioned: the view its etcd service shares (then it is the
        # owner's to start and stop), kept alike by its replica's API server and components.
        self._owns_reachability = reachability is None
        self.reachability = reachability or Reachability(nc, member_id)
        self.latency = LatencyState()
        # The last delayed publish to each peer still pending: the next batch to that peer waits for it.
        self._delayed: dict[str, asyncio.Task[None]] = {}
        self._chunk_ids = itertools.count(1)
        # Partly received chunk sets by (sender subject, id); a sender's newer set replaces an older one,
        # so a set that lost a chunk does not linger.
        self._partial: dict[tuple[str, int], _Reassembly] = {}
        self._newest_set: dict[str, int] = {}

    @property
    def partition(self) -> PartitionState:
        return self.reachability.state

    async def start(self, deliver: Deliver, report_snapshot: ReportSnapshot) -> None:
        self._deliver = deliver
        self._report_snapshot = report_snapshot
        if self._owns_reachability:
            await self.reachability.start()
        self._subscriptions = [
            await self.nc.subscribe(subjects.chaos_network_latency(), cb=self._on_latency),
            await self.nc.subscribe(subjects.chaos_reset(), cb=self._on_reset),
            await self.nc.subscribe(subjects.raft(self.cluster, self.member_id), cb=self._on_msg),
        ]
        await self.nc.flush()

    async def send(self, messages: Sequence[Message]) -> None:
        by_peer: defaultdict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_peer[message.to].append(message)
        for peer, batch in by_peer.items():
            if not self.partition.can_reach(self.member_id, peer):
                self._report_snapshots(peer, batch, delivered=False)
                continue
            delay = self.latency.delay(self.member_id, peer)
            if delay > 0 or peer in self._delayed:
                self._publish_later(peer, batch, time.monotonic() + delay)
            else:
                await self._publish(peer, batch)

    def _publish_later(self, peer: str, batch: list[Message], due: float) -> None:
        """Publish ``batch`` at ``due``, but never before the batches to ``peer`` scheduled earlier."""
        before = self._delayed.get(peer)

        async def publish() -> None:
            if before is not None:
                await asyncio.wait([before])
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self._publish(peer, batch)

        task = asyncio.create_task(publish(), name=f"raft-delayed-{peer}")
        self._delayed[peer] = task
        task.add_done_callback(lambda done: self._forget(peer, done))

    def _forget(self, peer: str, done: asyncio.Task[None]) -> None:
        if self._delayed.get(peer) is done:
            del self._delayed[peer]

    async def _on_latency(self, msg: Msg) -> None:
        try:
            spec = parse_latency(msg.data)
        except LatencyError as error:
            log.warning("network latency ignored", member=self.member_id, error=str(error))
            return
        self.latency.add(spec)
        log.info(
            "network latency added",
            member=self.member_id,
            delay_ms=spec.delay_ms,
            jitter_ms=spec.jitter_ms,
            replicas=spec.replicas,
        )

    async def _on_reset(self, msg: Msg) -> None:
        # The partition is healed by the Reachability's own subscription to the same subject.
        if self.latency.active:
            log.info("network latency removed", member=self.member_id)
        self.latency.reset()

    async def _publish(self, peer: str, batch: list[Message]) -> None:
        frame = encode_batch(batch)
        subject = subjects.raft(self.cluster, peer)
        ok = True
        try:
            if len(frame) <= self.chunk_bytes:
                await self.nc.publish(subject, frame, headers={"From": self.member_id})
            else:
                for chunk in split_chunks(frame, next(self._chunk_ids), self.chunk_bytes):
                    await self.nc.publish(subject, chunk, headers={"From": self.member_id})
        except Exception as error:  # a closed or reconnecting connection: Raft retries by itself
            ok = False
            log.debug("raft send failed", peer=peer, error=repr(error))
        self._report_snapshots(peer, batch, delivered=ok)

    def _report_snapshots(self, peer: str, batch: list[Message], *, delivered: bool) -> None:
        if self._report_snapshot is not None:
            for message in batch:
                if message.type == MessageType.SNAP:
                    self._report_snapshot(peer, delivered)

    async def _on_msg(self, msg: Msg) -> None:
        sender = (msg.headers or {}).get("From", "")
        if not self.partition.can_reach(self.member_id, sender):
            return
        try:
            frame = self._frame(sender, msg.data)
            if frame is None:
                return
            messages = decode_batch(frame)
        except (CodecError, struct.error) as error:
            log.warning("raft message dropped", sender=sender, error=str(error))
            return
        assert self._deliver is not None
        for message in messages:
            # The header names the sender; each message names it too, and that is what Raft acts on.
            if self.partition.can_reach(self.member_id, message.frm):
                self._deliver(message)

    def _frame(self, sender: str, data: bytes) -> bytes | None:
        if not data:
            raise CodecError("empty frame")
        if data[0] == _BATCH:
            return data
        if data[0] != _CHUNK:
            raise CodecError(f"unknown frame kind {data[0]}")
        _, set_id, number, count = _CHUNK_HEADER.unpack_from(data)
        if set_id < self._newest_set.get(sender, 0):
            return None
        if set_id > self._newest_set.get(sender, 0):
            self._partial = {k: v for k, v in self._partial.items() if k[0] != sender}
            self._newest_set[sender] = set_id
        pending = self._partial.setdefault((sender, set_id), _Reassembly(count))
        pending.pieces[number] = data[_CHUNK_HEADER.size :]
        if len(pending.pieces) < pending.count:
            return None
        del self._partial[(sender, set_id)]
        return b"".join(pending.pieces[n] for n in range(pending.count))

    async def close(self) -> None:
        for task in list(self._delayed.values()):
            task.cancel()
        self._delayed = {}
        if self._owns_reachability:
            try:
                await self.reachability.stop()
            except Exception as error:  # already closed connections refuse unsubscribe
                log.debug("raft unsubscribe failed", error=repr(error))
        for subscription in self._subscriptions:
            try:
                await subscription.unsubscribe()
            except Exception as error:  # already closed connections refuse unsubscribe
                log.debug("raft unsubscribe failed", error=repr(error))
        self._subscriptions = []
