"""``RealEtcdClient``: the ``KVClient`` interface (``api.py``) on a real etcd, through the ``aetcd`` library.

It exists so the contract suite and the benchmarks can hold our store against the real thing. It uses
aetcd for the connection and etcd's generated gRPC stubs, but builds the requests itself: aetcd's own
helpers drop ``limit``, ``revision`` and ``count_only`` from ranges, have no ``lease`` compare, and
deliver watch events one by one without their response header — all of which the contract needs.

Requests go to one member at a time (gRPC ``pick_first`` over the given endpoints; when that member dies,
the next request goes to another). A request that fails is not retried here: it raises
:class:`UnavailableError` or :class:`DeadlineExceededError`, as the interface says.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import aetcd
import grpc
from aetcd import rpc

from services.etcd.client.api import (
    ClusterStatus,
    CompactedError,
    Compare,
    DeadlineExceededError,
    DeleteOp,
    DeleteResult,
    EtcdError,
    FutureRevisionError,
    InvalidArgumentError,
    KeyNotProvidedError,
    KeyValue,
    KVClient,
    LeaseExistsError,
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
    key_range,
)

_TARGETS = {
    "value": (rpc.Compare.VALUE, "value"),
    "version": (rpc.Compare.VERSION, "version"),
    "create_revision": (rpc.Compare.CREATE, "create_revision"),
    "mod_revision": (rpc.Compare.MOD, "mod_revision"),
    "lease": (rpc.Compare.LEASE, "lease"),
}
_RESULTS = {
    "=": rpc.Compare.EQUAL,
    "!=": rpc.Compare.NOT_EQUAL,
    "<": rpc.Compare.LESS,
    ">": rpc.Compare.GREATER,
}


def map_grpc_error(error: grpc.aio.AioRpcError) -> EtcdError:
    """The :class:`EtcdError` for an etcd gRPC error (etcd's ``rpctypes`` codes and messages)."""
    code = error.code()
    details = str(error.details() or "")
    if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
        return CompactedError()
    if code == grpc.StatusCode.OUT_OF_RANGE and "future revision" in details:
        return FutureRevisionError()
    if code == grpc.StatusCode.NOT_FOUND and "lease not found" in details:
        return LeaseNotFoundError()
    if code == grpc.StatusCode.FAILED_PRECONDITION and "lease already exists" in details:
        return LeaseExistsError()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return KeyNotProvidedError() if "key is not provided" in details else InvalidArgumentError(details)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
        return UnavailableError(details or None)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceededError(details or None)
    return EtcdError(500, f"{code.name}: {details}")


def grpc_target(endpoints: Sequence[str]) -> tuple[str, int]:
    """``(host, port)`` for aetcd, which dials ``f"{host}:{port}"``: one endpoint as it is, several IPv4
    endpoints as gRPC's ``ipv4:a:p,b:q`` address list (which gRPC's ``pick_first`` fails over along)."""
    addresses = [endpoint.split("://", 1)[-1].rstrip("/") for endpoint in endpoints]
    if not addresses:
        raise ValueError("no etcd endpoints given")
    if len(addresses) == 1:
        host, _, port = addresses[0].rpartition(":")
        return host, int(port)
    for address in addresses:
        ipaddress.IPv4Address(address.rpartition(":")[0])  # ValueError for host names
    host, _, port = ("ipv4:" + ",".join(addresses)).rpartition(":")
    return host, int(port)


def _header(header: Any) -> ResponseHeader:
    return ResponseHeader(
        revision=int(header.revision),
        raft_term=int(header.raft_term),
        member_id=int(header.member_id),
        cluster_id=int(header.cluster_id),
    )


def _kv(kv: Any) -> KeyValue:
    return KeyValue(
        key=kv.key.decode(),
        value=kv.value.decode(),
        create_revision=int(kv.create_revision),
        mod_revision=int(kv.mod_revision),
        version=int(kv.version),
        lease=int(kv.lease),
    )


def _range_request(op: RangeOp, serializable: bool = False) -> Any:
    key, range_end = key_range(op.key, op.range_end, op.prefix)
    return rpc.RangeRequest(
        key=key.encode(),
        range_end=(range_end or "").encode(),
        limit=op.limit,
        revision=op.revision,
        serializable=serializable,
        keys_only=op.keys_only,
        count_only=op.count_only,
    )


def _put_request(op: PutOp) -> Any:
    return rpc.PutRequest(key=op.key.encode(), value=op.value.encode(), lease=op.lease, prev_kv=op.prev_kv)


def _delete_request(op: DeleteOp) -> Any:
    key, range_end = key_range(op.key, op.range_end, op.prefix)
    return rpc.DeleteRangeRequest(key=key.encode(), range_end=(range_end or "").encode(), prev_kv=op.prev_kv)


def _request_op(op: Op) -> Any:
    if isinstance(op, RangeOp):
        return rpc.RequestOp(request_range=_range_request(op))
    if isinstance(op, PutOp):
        return rpc.RequestOp(request_put=_put_request(op))
    return rpc.RequestOp(request_delete_range=_delete_request(op))


def _compare(compare: Compare) -> Any:
    target, field = _TARGETS[compare.target]
    value = compare.value.encode() if isinstance(compare.value, str) else compare.value
    return rpc.Compare(
        key=compare.key.encode(), target=target, result=_RESULTS[compare.result], **{field: value}
    )


def _range_result(header: ResponseHeader, reply: Any) -> RangeResult:
    return RangeResult(header, [_kv(kv) for kv in reply.kvs], int(reply.count), bool(reply.more))


def _put_result(header: ResponseHeader, reply: Any) -> PutResult:
    return PutResult(header, _kv(reply.prev_kv) if reply.HasField("prev_kv") else None)


def _delete_result(header: ResponseHeader, reply: Any) -> DeleteResult:
    return DeleteResult(header, int(reply.deleted), [_kv(kv) for kv in reply.prev_kvs])


def _watch_response(reply: Any) -> WatchResponse:
    events = [
        WatchEvent(
            type="DELETE" if event.type == rpc.Event.DELETE else "PUT",
            kv=_kv(event.kv),
            prev_kv=_kv(event.prev_kv) if event.HasField("prev_kv") else None,
        )
        for event in reply.events
    ]
    canceled = bool(reply.canceled or reply.compact_revision)
    return WatchResponse(_header(reply.header), events, int(reply.compact_revision), canceled)


class _GrpcWatch(Watch):
    """One etcd watch on a gRPC ``Watch`` stream of its own."""

    def __init__(self, call: Any, client: RealEtcdClient, pending: WatchResponse | None) -> None:
        self._call = call
        self._client = client
        self._pending = pending  # a cancel that came with the creation reply
        self._done = False

    async def __anext__(self) -> WatchResponse:
        if self._pending is not None:
            response, self._pending = self._pending, None
            await self._finish()
            return response
        while not self._done:
            try:
                reply = await self._call.read()
            except grpc.aio.AioRpcError as error:
                if self._done:
                    break
                await self._finish()
                raise map_grpc_error(error) from error
            except asyncio.CancelledError:
                if self._done:  # cancel() cancelled the call under us
                    break
                raise
            if reply is grpc.aio.EOF:
                if self._done:
                    break
                await self._finish()
                raise UnavailableError("etcd closed the watch stream")
            response = _watch_response(reply)
            if response.canceled:
                await self._finish()
                return response
            if not reply.created:
                return response
        raise StopAsyncIteration

    async def cancel(self) -> None:
        await self._finish()  # cancelling the gRPC call ends the stream, and etcd drops its watch with it

    async def _finish(self) -> None:
        self._done = True
        self._call.cancel()
        self._client._watches.discard(self)


class RealEtcdClient:
    """``KVClient`` on a real etcd cluster: ``client = await RealEtcdClient.connect(cluster.endpoints)``.

    ``timeout`` bounds every request and the creation of every watch (not a watch's life).
    """

    def __init__(self, client: aetcd.Client, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._watches: set[_GrpcWatch] = set()

    @classmethod
    async def connect(cls, endpoints: Sequence[str], *, timeout: float = 5.0) -> RealEtcdClient:
        """A client of the members at ``endpoints`` (``"127.0.0.1:2379"`` or ``"http://127.0.0.1:2379"``)."""
        host, port = grpc_target(endpoints)
        client = aetcd.Client(host=host, port=port, timeout=timeout)
        try:
            await client.connect()  # opens the channel; gRPC dials on the first request
        except aetcd.ClientError as error:
            raise UnavailableError(str(error)) from error
        return cls(client, timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise map_grpc_error(error) from error

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
        op = RangeOp(key, range_end, prefix, limit, revision, keys_only, count_only)
        reply = await self._call(self._client.kvstub.Range, _range_request(op, serializable))
        return _range_result(_header(reply.header), reply)

    async def put(self, key: str, value: str, *, lease: int = 0, prev_kv: bool = False) -> PutResult:
        reply = await self._call(self._client.kvstub.Put, _put_request(PutOp(key, value, lease, prev_kv)))
        return _put_result(_header(reply.header), reply)

    async def delete(
        self, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False
    ) -> DeleteResult:
        request = _delete_request(DeleteOp(key, range_end, prefix, prev_kv))
        reply = await self._call(self._client.kvstub.DeleteRange, request)
        return _delete_result(_header(reply.header), reply)

    async def txn(
        self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult:
        request = rpc.TxnRequest(
            compare=[_compare(c) for c in compare],
            success=[_request_op(op) for op in success],
            failure=[_request_op(op) for op in failure],
        )
        reply = await self._call(self._client.kvstub.Txn, request)
        header = _header(reply.header)
        responses: list[RangeResult | PutResult | DeleteResult] = []
        for response in reply.responses:
            kind = response.WhichOneof("response")
            if kind == "response_range":
                responses.append(_range_result(header, response.response_range))
            elif kind == "response_put":
                responses.append(_put_result(header, response.response_put))
            elif kind == "response_delete_range":
                responses.append(_delete_result(header, response.response_delete_range))
            else:
                raise EtcdError(500, f"unexpected txn response {kind!r}")
        return TxnResult(header, bool(reply.succeeded), responses)

    async def compact(self, revision: int) -> ResponseHeader:
        reply = await self._call(self._client.kvstub.Compact, rpc.CompactionRequest(revision=revision))
        return _header(reply.header)

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResult:
        reply = await self._call(self._client.leasestub.LeaseGrant, rpc.LeaseGrantRequest(TTL=ttl, ID=id))
        if reply.error:
            raise InvalidArgumentError(str(reply.error))
        return LeaseGrantResult(_header(reply.header), int(reply.ID), int(reply.TTL))

    async def lease_revoke(self, id: int) -> ResponseHeader:
        reply = await self._call(self._client.leasestub.LeaseRevoke, rpc.LeaseRevokeRequest(ID=id))
        return _header(reply.header)

    async def lease_keepalive(self, id: int) -> int:
        # etcd answers an unknown lease's keepalive with TTL 0, not an error; etcd's Go client turns
        # that into ErrLeaseNotFound (clientv3 KeepAliveOnce), and so do we.
        call = self._client.leasestub.LeaseKeepAlive(
            iter([rpc.LeaseKeepAliveRequest(ID=id)]), timeout=self._timeout
        )
        try:
            reply = await call.read()
        except grpc.aio.AioRpcError as error:
            raise map_grpc_error(error) from error
        finally:
            call.cancel()
        if reply is grpc.aio.EOF:
            raise UnavailableError("etcd closed the keepalive stream")
        if int(reply.TTL) <= 0:
            raise LeaseNotFoundError()
        return int(reply.TTL)

    async def lease_ttl(self, id: int, keys: bool = False) -> LeaseTTLResult:
        request = rpc.LeaseTimeToLiveRequest(ID=id, keys=keys)
        reply = await self._call(self._client.leasestub.LeaseTimeToLive, request)
        return LeaseTTLResult(
            _header(reply.header),
            int(reply.ID),
            int(reply.TTL),
            int(reply.grantedTTL),
            [key.decode() for key in reply.keys],
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
        key, range_end = key_range(key, range_end, prefix)
        create = rpc.WatchCreateRequest(
            key=key.encode(),
            range_end=(range_end or "").encode(),
            start_revision=start_revision,
            prev_kv=prev_kv,
            progress_notify=True,
        )
        call = rpc.WatchStub(self._client.channel).Watch()
        try:
            await asyncio.wait_for(call.write(rpc.WatchRequest(create_request=create)), self._timeout)
            reply = await asyncio.wait_for(call.read(), self._timeout)
        except TimeoutError as error:
            call.cancel()
            raise DeadlineExceededError("etcd did not create the watch in time") from error
        except grpc.aio.AioRpcError as error:
            call.cancel()
            raise map_grpc_error(error) from error
        if reply is grpc.aio.EOF or not reply.created:
            call.cancel()
            raise UnavailableError("etcd closed the watch stream before creating the watch")
        pending = None
        if reply.canceled and not reply.compact_revision:
            call.cancel()
            raise InvalidArgumentError(str(reply.cancel_reason) or "etcd refused the watch")
        if reply.compact_revision:
            pending = _watch_response(reply)
        watch = _GrpcWatch(call, self, pending)
        self._watches.add(watch)
        return watch

    async def status(self) -> ClusterStatus:
        members = await self._call(self._client.clusterstub.MemberList, rpc.MemberListRequest())
        own = await self._call(self._client.maintenancestub.Status, rpc.StatusRequest())
        statuses: list[MemberStatus] = []
        for member in members.members:
            reply = await self._member_status(list(member.clientURLs))
            if reply is None:
                continue
            statuses.append(
                MemberStatus(
                    id=int(member.ID),
                    name=str(member.name),
                    is_leader=int(reply.leader) == int(member.ID),
                    term=int(reply.raftTerm),
                    commit=int(reply.raftIndex),
                    applied=int(reply.raftAppliedIndex),
                    raft_index=int(reply.raftIndex),
                )
            )
        return ClusterStatus(_header(own.header), int(own.leader), statuses)

    async def _member_status(self, client_urls: list[str]) -> Any:
        """One member's own Status (only the member itself knows its applied index), None if it is down."""
        if not client_urls:
            return None
        host, port = grpc_target(client_urls[:1])
        async with rpc.insecure_channel(f"{host}:{port}") as channel:
            try:
                return await rpc.MaintenanceStub(channel).Status(
                    rpc.StatusRequest(), timeout=min(self._timeout, 1.0)
                )
            except grpc.aio.AioRpcError:
                return None

    async def close(self) -> None:
        for watch in list(self._watches):
            await watch.cancel()
        await self._client.close()


if TYPE_CHECKING:

    def _implements_the_interface(client: RealEtcdClient) -> KVClient:
        return client  # mypy checks here that RealEtcdClient satisfies KVClient
