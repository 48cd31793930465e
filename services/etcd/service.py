"""The etcd member's NATS adapter: ARCHITECTURE.md §2's subjects bound to :class:`EtcdServer` calls.

Each handler does four things, in order (etcd's ``v3rpc/key.go``): validate the body into a typed
request (400 naming the field), call the server, let errors map to ``Status`` replies (the bus does
that), and return the result with the member's header. Every member serves the client subjects in the
queue group ``etcd`` and its own ``etcd.member.<id>.…`` subjects: a keepalive that reaches a follower
is forwarded to the leader there, a watch cancel to the member that serves the watch. Every client verb
is served on the member's own subjects too, for clients that may address only the members they reach
while the network is partitioned; the member then drops, unanswered, requests from replicas it cannot
reach (``shared.reachability``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import RootModel

from services.etcd.fields import check_fields, check_range_order
from services.etcd.mvcc import (
    CompactRequest,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchCreateRequest,
)
from services.etcd.mvcc.wire import read_bool
from services.etcd.server import EtcdServer, Wire
from services.etcd.watch_hub import parse_external_id
from shared import bus, subjects
from shared.bus import MicroService, RequestContext
from shared.errors import ApiError, bad_request, unavailable

MEMBER_TIMEOUT = 1.0

FORWARDED_HEADER = "Kubenats-Forwarded"
"""Marks a lease request one member forwarded to the leader: the leader answers it, never forwards it on."""


class Body(RootModel[dict[str, Any]]):
    """Any JSON object; the store's own readers check its fields (and name the one that is wrong)."""


class EtcdService:
    def __init__(self, server: EtcdServer) -> None:
        self.server = server
        self.reachability = server.reachability
        self.micro = MicroService(
            server.nc,
            "etcd",
            description=f"etcd member {server.name} of cluster {server.cluster}",
            metadata={"member": server.name, "cluster": server.cluster},
            queue_group=subjects.ETCD_QUEUE,
            admit=self.reachability.admits,
        )
        self._declare()

    def _declare(self) -> None:
        add = self.micro.add_endpoint
        own = f"etcd-{self.server.name}"  # subjects addressed to this member alone: a queue group of one
        member = self.server.name
        client_verbs = [
            ("range", subjects.etcd_kv("range"), self.range),
            ("put", subjects.etcd_kv("put"), self.put),
            ("delete", subjects.etcd_kv("delete"), self.delete),
            ("txn", subjects.etcd_kv("txn"), self.txn),
            ("compact", subjects.etcd_kv("compact"), self.compact),
            ("lease-grant", subjects.etcd_lease("grant"), self.lease_grant),
            ("lease-revoke", subjects.etcd_lease("revoke"), self.lease_revoke),
            ("lease-keepalive", subjects.etcd_lease("keepalive"), self.lease_keepalive),
            ("lease-ttl", subjects.etcd_lease("ttl"), self.lease_ttl),
            ("watch-create", subjects.etcd_watch("create"), self.watch_create),
            ("watch-cancel", subjects.etcd_watch("cancel"), self.watch_cancel),
            ("cluster-status", subjects.etcd_cluster_status(), self.cluster_status),
        ]
        for name, subject, handler in client_verbs:
            add(name, subject, Body, handler)
            addressed = subjects.etcd_member_addressed(member, subject)
            add(f"member-{name}", addressed, Body, handler, queue_group=own)
        add("member-status", subjects.etcd_member(member, "status"), Body, self.member_status,
            queue_group=own)  # fmt: skip

    async def start(self) -> None:
        await self.micro.start()

    async def stop(self) -> None:
        await self.micro.stop()

    # --- kv -----------------------------------------------------------------------------------------

    async def range(self, body: Body, context: RequestContext) -> Wire:
        check_fields("range", body.root)
        request = RangeRequest.from_wire(body.root)
        check_range_order(request.key, request.range_end)
        return await self.server.range(request, serializable=read_bool(body.root, "serializable"))

    async def put(self, body: Body, context: RequestContext) -> Wire:
        check_fields("put", body.root)
        return await self.server.propose(PutRequest.from_wire(body.root))

    async def delete(self, body: Body, context: RequestContext) -> Wire:
        check_fields("delete", body.root)
        request = DeleteRangeRequest.from_wire(body.root)
        check_range_order(request.key, request.range_end)
        return await self.server.propose(request)

    async def txn(self, body: Body, context: RequestContext) -> Wire:
        check_fields("txn", body.root)
        # Through Raft even when it only reads: its compares and reads then happen at one revision
        # in the log's order, which is what makes a txn linearizable.
        return await self.server.propose(TxnRequest.from_wire(body.root))

    async def compact(self, body: Body, context: RequestContext) -> Wire:
        check_fields("compact", body.root)
        return await self.server.propose(CompactRequest.from_wire(body.root))

    # --- leases -------------------------------------------------------------------------------------

    async def lease_grant(self, body: Body, context: RequestContext) -> Wire:
        check_fields("lease.grant", body.root)
        return await self.server.propose(LeaseGrantRequest.from_wire(body.root))

    async def lease_revoke(self, body: Body, context: RequestContext) -> Wire:
        check_fields("lease.revoke", body.root)
        return await self.server.propose(LeaseRevokeRequest.from_wire(body.root))

    async def lease_keepalive(self, body: Body, context: RequestContext) -> Wire:
        check_fields("lease.keepalive", body.root)
        request = LeaseKeepAliveRequest.from_wire(body.root)
        if self._leader_answers(context):
            return self.server.lease_keepalive(request.id)
        return await self._ask_leader("keepalive", body)

    async def lease_ttl(self, body: Body, context: RequestContext) -> Wire:
        check_fields("lease.ttl", body.root)
        request = LeaseTimeToLiveRequest.from_wire(body.root)
        if self._leader_answers(context):
            return self.server.lease_time_to_live(request.id, request.keys)
        return await self._ask_leader("ttl", body)

    def _leader_answers(self, context: RequestContext) -> bool:
        """Whether to answer here (the leader) rather than forward; a forwarded request is never
        forwarded again, so two members with stale views of the leader cannot pass it back and forth."""
        if self.server.member.is_leader:
            return True
        if context.header(FORWARDED_HEADER):
            raise unavailable("etcdserver: not a primary lessor (leadership moved); retry")
        return False

    async def _ask_leader(self, lease_verb: str, body: Body) -> Wire:
        """Only the leader's lessor keeps live deadlines: a follower forwards keepalive and ttl to it."""
        leader = self.server.member.leader
        if not leader:
            raise unavailable("etcdserver: no leader")
        reply: Wire = await bus.request(
            self.server.nc,
            subjects.etcd_member(leader, "lease", lease_verb),
            body.root,
            timeout=self.server.config.request_timeout,
            headers={FORWARDED_HEADER: "1", **self.reachability.headers()},
        )
        return reply

    # --- watches ------------------------------------------------------------------------------------

    async def watch_create(self, body: Body, context: RequestContext) -> Wire:
        check_fields("watch.create", body.root)
        request = WatchCreateRequest.from_wire(body.root)
        return self.server.watch_create(request)

    async def watch_cancel(self, body: Body, context: RequestContext) -> Wire:
        check_fields("watch.cancel", body.root)
        member, number = _watch_id(body)
        if member == self.server.name:
            return self.server.watch_cancel(number)
        reply: Wire = await bus.request(
            self.server.nc,
            subjects.etcd_member(member, "watch", "cancel"),
            body.root,
            timeout=MEMBER_TIMEOUT,
            headers=self.reachability.headers(),
        )
        return reply

    # --- cluster ------------------------------------------------------------------------------------

    async def member_status(self, body: Body, context: RequestContext) -> Wire:
        return {"header": self.server.header(), **self.server.member_status()}

    async def cluster_status(self, body: Body, context: RequestContext) -> Wire:
        check_fields("cluster.status", body.root)

        async def ask(peer: str) -> Wire:
            if peer == self.server.name:
                return self.server.member_status()
            if not self.reachability.reaches(peer):
                return {"name": peer, "reachable": False, "error": "cut off by a network partition"}
            try:
                reply: Wire = await bus.request(
                    self.server.nc,
                    subjects.etcd_member(peer, "status"),
                    {},
                    timeout=MEMBER_TIMEOUT,
                    headers=self.reachability.headers(),
                )
            except ApiError as error:
                return {"name": peer, "reachable": False, "error": error.message}
            reply.pop("header", None)
            return reply

        members = await asyncio.gather(*(ask(peer) for peer in self.server.peers))
        leader = next((m["id"] for m in members if m.get("is_leader")), 0)
        return {"header": self.server.header(), "leader": leader, "members": list(members)}


def _watch_id(body: Body) -> tuple[str, int]:
    value = body.root.get("watch_id")
    if not isinstance(value, str):
        raise bad_request("watch_id: must be a string of the form <member>/<number>")
    try:
        return parse_external_id(value)
    except ValueError as error:
        raise bad_request(str(error)) from None
