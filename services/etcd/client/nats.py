"""The client of our etcd service over NATS: ``KVClient`` on ARCHITECTURE.md §2's subjects.

Requests go to the queue group, so any member answers; a 503 (no leader yet, a member stopping) is
retried with back-off until the request's deadline. A client that lives on a control-plane replica
(given a :class:`~shared.reachability.Reachability`) names its replica on every request and, while the
network is partitioned, addresses the members of its own group one after another
(``etcd.member.<id>.…``), never the queue group; its watches move to such a member when the partition
changes.

A watch numbers its messages (``seq``): on a gap, or when nothing (not even a progress notice) arrives
for ``silence`` seconds — the serving member died — the watch is re-created on any member from the last
revision it delivered + 1, and events at or below that revision are dropped, so the caller sees every
event once and in order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.etcd.client.api import (
    ClusterStatus,
    Compare,
    DeleteOp,
    DeleteResult,
    EtcdError,
    KeyValue,
    LeaseGrantResult,
    LeaseNotFoundError,
    LeaseTTLResult,
    MemberStatus,
    Op,
    PutOp,
    PutResult,
    RangeOp,
    RangeResult,
    ResponseHeader,
    TxnResult,
    UnavailableError,
    Watch,
    WatchEvent,
    WatchResponse,
    error_from_status,
)
from services.etcd.watch_hub import PING_HEADER, parse_external_id
from shared import bus, subjects
from shared.errors import ApiError
from shared.logging import get_logger
from shared.reachability import Reachability

log = get_logger(__name__)

Wire = dict[str, Any]


def _header(wire: Wire | None) -> ResponseHeader:
    wire = wire or {}
    return ResponseHeader(
        revision=int(wire.get("revision", 0)),
        raft_term=int(wire.get("raft_term", 0)),
        member_id=int(wire.get("member_id", 0)),
        cluster_id=int(wire.get("cluster_id", 0)),
    )


def _kv(wire: Wire) -> KeyValue:
    return KeyValue(
        key=wire.get("key", ""),
        value=wire.get("value", ""),
        create_revision=int(wire.get("create_revision", 0)),
        mod_revision=int(wire.get("mod_revision", 0)),
        version=int(wire.get("version", 0)),
        lease=int(wire.get("lease", 0)),
    )


def _range_result(wire: Wire, header: ResponseHeader | None = None) -> RangeResult:
    return RangeResult(
        header=header or _header(wire.get("header")),
        kvs=[_kv(kv) for kv in wire.get("kvs", [])],
        count=int(wire.get("count", 0)),
        more=bool(wire.get("more", False)),
    )


def _put_result(wire: Wire, header: ResponseHeader | None = None) -> PutResult:
    prev = wire.get("prev_kv")
    return PutResult(header=header or _header(wire.get("header")), prev_kv=_kv(prev) if prev else None)


def _delete_result(wire: Wire, header: ResponseHeader | None = None) -> DeleteResult:
    return DeleteResult(
        header=header or _header(wire.get("header")),
        deleted=int(wire.get("deleted", 0)),
        prev_kvs=[_kv(kv) for kv in wire.get("prev_kvs", [])],
    )


def _range_body(
    key: str,
    range_end: str | None,
    prefix: bool,
    limit: int = 0,
    revision: int = 0,
    keys_only: bool = False,
    count_only: bool = False,
) -> Wire:
    body: Wire = {"key": key}
    optional = {
        "range_end": range_end,
        "prefix": prefix,
        "limit": limit,
        "revision": revision,
        "keys_only": keys_only,
        "count_only": count_only,
    }
    body.update({name: value for name, value in optional.items() if value})
    return body


def _op_body(op: Op) -> Wire:
    match op:
        case RangeOp():
            return {
                "range": _range_body(
                    op.key, op.range_end, op.prefix, op.limit, op.revision, op.keys_only, op.count_only
                )
            }
        case PutOp():
            put: Wire = {"key": op.key, "value": op.value}
            if op.lease:
                put["lease"] = op.lease
            if op.prev_kv:
                put["prev_kv"] = True
            return {"put": put}
        case DeleteOp():
            delete = _range_body(op.key, op.range_end, op.prefix)
            if op.prev_kv:
                delete["prev_kv"] = True
            return {"delete": delete}


def _op_result(wire: Wire, header: ResponseHeader) -> RangeResult | PutResult | DeleteResult:
    if "range" in wire:
        return _range_result(wire["range"], header)
    if "put" in wire:
        return _put_result(wire["put"], header)
    return _delete_result(wire["delete"], header)


class NatsEtcdClient:
    """``KVClient`` over NATS; ``retry_for`` bounds how long a 503 is retried before it is raised."""

    def __init__(
        self,
        nc: Client,
        *,
        timeout: float = 5.0,
        retry_for: float = 10.0,
        owns_connection: bool = False,
        reachability: Reachability | None = None,
    ) -> None:
        self.nc = nc
        self.timeout = timeout
        self.retry_for = retry_for
        self.owns_connection = owns_connection
        self.reachability = reachability
        self.headers = reachability.headers() if reachability else None
        self._watches: set[NatsWatch] = set()
        if reachability is not None:
            reachability.on_change(self._partition_changed)

    @classmethod
    async def connect(cls, servers: str | Sequence[str], name: str = "etcd-client") -> NatsEtcdClient:
        """A client with a connection of its own, closed by :meth:`close`."""
        return cls(await bus.connect(servers, name=name), owns_connection=True)

    async def call(self, subject: str, body: Wire) -> Wire:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for
        delay = 0.05
        for attempt in itertools.count():
            try:
                # No retry outlives the deadline: the caller hears in time, not after one more timeout.
                left = deadline - loop.time()
                timeout = self.timeout if attempt == 0 else max(0.1, min(self.timeout, left))
                reply: Wire = await bus.request(
                    self.nc, self._address(subject, attempt), body, timeout=timeout, headers=self.headers
                )
                return reply
            except ApiError as error:
                etcd_error = error_from_status(error.code, error.message, error.details)
                if error.code != 503 or loop.time() + delay > deadline or self._asked_every_member(attempt):
                    raise etcd_error from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError("itertools.count() does not end")

    def _asked_every_member(self, attempt: int) -> bool:
        """While partitioned, one round over the members in reach is enough: if none has a leader, its
        side may be the minority and waiting will not bring one, so the caller had better hear 503 now
        and try elsewhere (a component on the majority side, a worker through the queue group)."""
        targets = self.reachability.targets() if self.reachability else []
        return bool(targets) and attempt + 1 >= len(targets)

    def _address(self, subject: str, attempt: int) -> str:
        """The queue-group ``subject``, or while partitioned the same request addressed to the members
        this replica reaches, taking the next one on each retry (its own member first)."""
        targets = self.reachability.targets() if self.reachability else []
        if not targets:
            return subject
        return subjects.etcd_member_addressed(targets[attempt % len(targets)], subject)

    def reaches(self, member: str) -> bool:
        return self.reachability is None or self.reachability.reaches(member)

    def _partition_changed(self) -> None:
        for watch in self._watches:
            watch.move()

    async def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        limit: int = 0,
        revision: int = 0,
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
    ) -> RangeResult:
        body = _range_body(key, range_end, prefix, limit, revision, keys_only, count_only)
        if serializable:
            body["serializable"] = True
        return _range_result(await self.call(subjects.etcd_kv("range"), body))

    async def put(self, key: str, value: str, *, lease: int = 0, prev_kv: bool = False) -> PutResult:
        return _put_result(
            await self.call(subjects.etcd_kv("put"), _op_body(PutOp(key, value, lease, prev_kv))["put"])
        )

    async def delete(
        self, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False
    ) -> DeleteResult:
        body = _op_body(DeleteOp(key, range_end, prefix, prev_kv))["delete"]
        return _delete_result(await self.call(subjects.etcd_kv("delete"), body))

    async def txn(
        self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult:
        body = {
            "compare": [
                {"key": c.key, "target": c.target, "result": c.result, "value": c.value} for c in compare
            ],
            "success": [_op_body(op) for op in success],
            "failure": [_op_body(op) for op in failure],
        }
        reply = await self.call(subjects.etcd_kv("txn"), body)
        header = _header(reply.get("header"))
        return TxnResult(
            header=header,
            succeeded=bool(reply.get("succeeded")),
            responses=[_op_result(r, header) for r in reply.get("responses", [])],
        )

    async def compact(self, revision: int) -> ResponseHeader:
        return _header((await self.call(subjects.etcd_kv("compact"), {"revision": revision})).get("header"))

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResult:
        body: Wire = {"ttl": ttl, **({"id": id} if id else {})}
        reply = await self.call(subjects.etcd_lease("grant"), body)
        return LeaseGrantResult(_header(reply.get("header")), int(reply["id"]), int(reply["ttl"]))

    async def lease_revoke(self, id: int) -> ResponseHeader:
        return _header((await self.call(subjects.etcd_lease("revoke"), {"id": id})).get("header"))

    async def lease_keepalive(self, id: int) -> int:
        ttl = int((await self.call(subjects.etcd_lease("keepalive"), {"id": id}))["ttl"])
        if ttl <= 0:
            raise LeaseNotFoundError()
        return ttl

    async def lease_ttl(self, id: int, keys: bool = False) -> LeaseTTLResult:
        reply = await self.call(subjects.etcd_lease("ttl"), {"id": id, **({"keys": True} if keys else {})})
        return LeaseTTLResult(
            header=_header(reply.get("header")),
            id=int(reply.get("id", id)),
            ttl=int(reply.get("ttl", -1)),
            granted_ttl=int(reply.get("granted_ttl", 0)),
            keys=list(reply.get("keys", [])),
        )

    async def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
    ) -> Watch:
        body = _range_body(key, range_end, prefix)
        if prev_kv:
            body["prev_kv"] = True
        watch = NatsWatch(self, body, start_revision)
        try:
            await watch.establish()
        except BaseException:  # cancelled or refused half-way: leave no subscription behind
            with suppress(Exception):
                await watch.cancel()
            raise
        self._watches.add(watch)
        return watch

    async def status(self) -> ClusterStatus:
        reply = await self.call(subjects.etcd_cluster_status(), {})
        members = [
            MemberStatus(
                id=int(m["id"]),
                name=m["name"],
                is_leader=bool(m["is_leader"]),
                term=int(m["term"]),
                commit=int(m["commit"]),
                applied=int(m["applied"]),
                raft_index=int(m["raft_index"]),
            )
            for m in reply.get("members", [])
            if m.get("reachable", True)
        ]
        return ClusterStatus(_header(reply.get("header")), int(reply.get("leader", 0)), members)

    async def close(self) -> None:
        for watch in list(self._watches):
            await watch.cancel()
        if self.reachability is not None:
            self.reachability.remove_listener(self._partition_changed)
        if self.owns_connection:
            await self.nc.close()

    def forget(self, watch: NatsWatch) -> None:
        self._watches.discard(watch)


class NatsWatch(Watch):
    """One logical watch, carried by a chain of server-side watches re-created after any loss."""

    def __init__(self, client: NatsEtcdClient, body: Wire, start_revision: int, silence: float = 3.0) -> None:
        self.client = client
        self.body = body
        self.silence = silence
        # Everything up to ``delivered`` has been handed to the caller (or precedes the start).
        self.delivered = start_revision - 1 if start_revision > 0 else 0
        self._from_now = start_revision <= 0
        self._queue: asyncio.Queue[Msg | None] = asyncio.Queue()  # None wakes a reader to see cancel()
        self._subscription: Subscription | None = None
        self._watch_id = ""
        self._expected_seq = 1
        self._done = False
        self._moving = False

    def move(self) -> None:
        """Re-create the server-side watch (the partition changed: its member may be out of reach)."""
        if not self._done:
            self._moving = True
            self._queue.put_nowait(None)

    async def establish(self) -> None:
        """Create a server-side watch from ``delivered + 1`` (or from now, the first time)."""
        await self._drop_server_watch()
        deliver = self.client.nc.new_inbox()
        self._queue = asyncio.Queue()
        self._subscription = await self.client.nc.subscribe(deliver, cb=self._queue.put)
        body = {**self.body, "deliver": deliver}
        if not self._from_now:
            body["start_revision"] = self.delivered + 1
        reply = await self.client.call(subjects.etcd_watch("create"), body)
        self._watch_id = reply["watch_id"]
        self._expected_seq = 1
        if self._from_now:
            self.delivered = _header(reply.get("header")).revision
            self._from_now = False

    async def __anext__(self) -> WatchResponse:
        while True:
            if self._done:
                raise StopAsyncIteration
            message = await self._next_message()
            if self._done:
                raise StopAsyncIteration
            if message is None:
                moving, self._moving = self._moving, False
                await self._recreate(
                    "network partition changed" if moving else "no message within the silence timeout"
                )
                continue
            if (message.headers or {}).get(PING_HEADER):
                continue
            wire: Wire = json.loads(message.data)
            if wire.get("seq") != self._expected_seq:
                await self._recreate(f"seq {wire.get('seq')} where {self._expected_seq} was due")
                continue
            self._expected_seq += 1
            response = self._response(wire)
            if response is not None:
                return response

    async def _next_message(self) -> Msg | None:
        try:
            async with asyncio.timeout(self.silence):
                return await self._queue.get()
        except TimeoutError:
            return None

    def _response(self, wire: Wire) -> WatchResponse | None:
        header = _header(wire.get("header"))
        if wire.get("canceled"):
            self._done = True
            return WatchResponse(header, [], int(wire.get("compact_revision", 0)), canceled=True)
        events = [
            WatchEvent(
                type=e["type"],
                kv=_kv(e["kv"]),
                prev_kv=_kv(e["prev_kv"]) if e.get("prev_kv") else None,
            )
            for e in wire.get("events", [])
        ]
        fresh = [e for e in events if e.kv.mod_revision > self.delivered]
        if events and not fresh:
            return None  # a re-created watch repeating what was already delivered
        if fresh:
            self.delivered = fresh[-1].kv.mod_revision
        else:
            self.delivered = max(self.delivered, header.revision)
        return WatchResponse(header, fresh)

    async def _recreate(self, why: str) -> None:
        log.info("watch re-created", watch_id=self._watch_id, reason=why, from_revision=self.delivered + 1)
        try:
            await self.establish()
        except EtcdError as error:
            raise UnavailableError(f"watch lost and not re-created: {error.message}") from error

    async def _drop_server_watch(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        if self._watch_id:
            watch_id, self._watch_id = self._watch_id, ""
            member, _ = parse_external_id(watch_id)
            if not self.client.reaches(member):
                return  # out of reach: it drops the watch itself once nobody listens on its deliver subject
            # The serving member may be gone, or the watch already ended: nothing left to cancel then.
            with suppress(ApiError):
                await bus.request(
                    self.client.nc,
                    subjects.etcd_member(member, "watch", "cancel"),
                    {"watch_id": watch_id},
                    timeout=1,
                    headers=self.client.headers,
                )

    async def cancel(self) -> None:
        if not self._done:
            self._done = True
            self._queue.put_nowait(None)  # a reader waiting for the next message ends now
            await self._drop_server_watch()
        self.client.forget(self)
