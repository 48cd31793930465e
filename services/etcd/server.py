"""One etcd member: the MVCC state machine replicated by a Raft member, with leases and watches.

Writes are proposed to Raft and answered with the result of applying them (any member may propose: a
follower's proposal is forwarded to the leader inside Raft). Linearizable reads wait for a ReadIndex
and then read the local applied state; serializable reads read it at once. Lease expiry is decided by
the leader alone and replicated as a command, so every member deletes the same keys at the same
revision; a new leader gives every lease a fresh TTL, as etcd does.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from services.etcd.mvcc import (
    ApplyResult,
    Command,
    KVStateMachine,
    LeaseExpireRequest,
    RangeRequest,
    WatchCreateRequest,
    encode_command,
)
from services.etcd.raft.config import Role, SoftState
from services.etcd.raftio.driver import DriverConfig, NoLeaderError, RaftMember
from services.etcd.raftio.transport import NatsTransport
from services.etcd.watch_hub import WatchHub
from shared.errors import ApiError, unavailable
from shared.logging import get_logger
from shared.reachability import Reachability

log = get_logger(__name__)

Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    request_timeout: float = 5.0
    """A write or linearizable read with no quorum fails with 503 after this long, never hangs."""
    lease_check_interval: float = 0.25
    raft: DriverConfig = field(default_factory=DriverConfig)


def numeric_id(text: str) -> int:
    """A stable 60-bit id for a name (etcd's ids are integers; 60 bits stay exact in any JSON reader)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def cluster_id(cluster: str, peers: tuple[str, ...]) -> int:
    """Stable for a given cluster name and member set, like etcd's id hashed from its initial cluster."""
    return numeric_id(f"{cluster}:{','.join(sorted(peers))}")


class _Applier:
    """The state machine Raft drives: applies entries and hands their watch events to the hub."""

    def __init__(self, server: EtcdServer) -> None:
        self.server = server

    def apply(self, index: int, data: bytes) -> ApplyResult:
        result = self.server.sm.apply(index, data, now=time.monotonic())
        self.server.hub.deliver(result.watch_responses)
        return result

    def snapshot(self) -> bytes:
        return self.server.sm.snapshot()

    def restore(self, data: bytes) -> None:
        self.server.sm.restore(data)


class EtcdServer:
    def __init__(
        self,
        nc: Client,
        name: str,
        peers: tuple[str, ...],
        data_dir: Path,
        *,
        cluster: str = "etcd",
        config: ServerConfig | None = None,
    ) -> None:
        self.nc = nc
        self.name = name
        self.peers = peers
        self.cluster = cluster
        self.cluster_id = cluster_id(cluster, peers)
        self.member_id = numeric_id(f"{cluster}:{name}")
        self.config = config or ServerConfig()
        self.sm = KVStateMachine()
        self.hub = WatchHub(nc, name, self.sm.watches, self.header)
        # One view of the network partition for the member's Raft and its client-serving side.
        self.reachability = Reachability(nc, name)
        self.member = RaftMember(
            name,
            peers,
            data_dir,
            _Applier(self),
            NatsTransport(nc, cluster, name, reachability=self.reachability),
            self.config.raft,
            on_soft_state=self._on_soft_state,
        )
        self._lease_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reachability.start()
        await self.hub.start()
        await self.member.start()
        self._lease_task = asyncio.create_task(self._expire_leases(), name="lease-expiry")

    async def stop(self) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
        await self.member.stop()
        await self.hub.stop()
        await self.reachability.stop()

    # --- replies ------------------------------------------------------------------------------------

    def header(self, revision: int | None = None) -> Wire:
        return {
            "revision": self.sm.revision if revision is None else revision,
            "raft_term": self.member.term,
            "member_id": self.member_id,
            "cluster_id": self.cluster_id,
        }

    def reply(self, body: Wire) -> Wire:
        """A result's wire form with the full header (the state machine fills only the revision)."""
        revision = body.get("header", {}).get("revision")
        return {**body, "header": self.header(revision)}

    # --- requests -----------------------------------------------------------------------------------

    async def propose(self, command: Command) -> Wire:
        try:
            result: ApplyResult = await self.member.propose(
                encode_command(command), timeout=self.config.request_timeout
            )
        except NoLeaderError as error:
            raise unavailable(f"etcdserver: no leader ({error})") from None
        except TimeoutError:
            raise unavailable("etcdserver: request timed out") from None
        return self.reply(result.unwrap().to_wire())

    async def range(self, request: RangeRequest, serializable: bool) -> Wire:
        if not serializable:
            await self.linearizable_barrier()
        return self.reply(self.sm.range(request).to_wire())

    async def linearizable_barrier(self) -> None:
        try:
            await self.member.read_index(timeout=self.config.request_timeout)
        except (NoLeaderError, TimeoutError) as error:
            raise unavailable(f"etcdserver: linearizable read failed: {error!r}") from None

    def lease_keepalive(self, lease_id: int) -> Wire:
        """Leader only; a follower's service forwards keepalives to the leader."""
        return self.reply(self.sm.lease_keepalive(lease_id, time.monotonic()).to_wire())

    def lease_time_to_live(self, lease_id: int, keys: bool) -> Wire:
        return self.reply(self.sm.lease_time_to_live(lease_id, time.monotonic(), keys).to_wire())

    def watch_create(self, request: WatchCreateRequest) -> Wire:
        if not request.deliver:
            raise ApiError(400, "deliver: a subject to stream the watch to is required")
        watch_id = self.hub.create(
            request.key, request.range_end, request.start_revision, request.prev_kv, request.deliver
        )
        return {"header": self.header(), "watch_id": watch_id}

    def watch_cancel(self, watch_id: int) -> Wire:
        if not self.hub.cancel(watch_id):
            raise ApiError(404, f"watch {watch_id} not found")
        return {"header": self.header()}

    def member_status(self) -> Wire:
        status = self.member.status()
        return {
            "id": self.member_id,
            "name": self.name,
            "is_leader": status.role == Role.LEADER,
            "leader": numeric_id(f"{self.cluster}:{status.lead}") if status.lead else 0,
            "term": status.term,
            "commit": status.commit,
            "applied": self.member.applied,
            "raft_index": status.last_index,
        }

    # --- leadership and leases ----------------------------------------------------------------------

    def _on_soft_state(self, soft: SoftState) -> None:
        if soft.role == Role.LEADER:
            self.sm.promote(time.monotonic())
        else:
            self.sm.demote()

    async def _expire_leases(self) -> None:
        while True:
            await asyncio.sleep(self.config.lease_check_interval)
            if not self.member.is_leader:
                continue
            expired = self.sm.expired_leases(time.monotonic(), limit=100)
            if not expired:
                continue
            try:
                await self.propose(LeaseExpireRequest(expired))
            except ApiError as error:
                log.warning("lease expiry not committed", leases=len(expired), error=error.message)
