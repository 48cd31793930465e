"""The etcd client interface every kubenats component uses: typed results, errors, the ``KVClient`` protocol.

Two implementations stand behind it: ``RealEtcdClient`` (``etcd3.py``) on a real etcd over gRPC, and our
own service's client over NATS. The contract suite (``tests/integration/etcd_contract/``) runs against
both, so each docstring here is a promise both keep. The semantics are etcd's v3 API; the shapes are the
wire protocol's (ARCHITECTURE.md §2).

Keys and values are ``str`` and travel as UTF-8. Ranges are half-open, ``[key, range_end)``, in UTF-8 byte
order (the same as Python's ``str`` order); ``range_end="\\0"`` means every key ``>= key``, and
``prefix=True`` is shorthand for ``range_end=prefix_range_end(key)`` (with ``key=""``: every key).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self, get_args

from shared.errors import ApiError

ALL_KEYS = "\0"
"""As ``range_end``: no upper bound, every key ``>= key``."""

CompareTarget = Literal["value", "version", "create_revision", "mod_revision", "lease"]
CompareResult = Literal["=", "!=", "<", ">"]
EventType = Literal["PUT", "DELETE"]

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_range_end(prefix: str) -> str:
    """The smallest key greater than every key that starts with ``prefix``: ``"a/"`` → ``"a0"``.

    This is etcd's ``GetPrefixRangeEnd`` on code points instead of bytes (the last character is
    incremented, dropping trailing characters that cannot be); for UTF-8 keys both select the same keys.
    ``""`` — and a prefix of nothing but U+10FFFF — gives ``"\\0"``, every key.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < _MAX_CODE_POINT:
            code += 1
            chars[-1] = chr(_SURROGATES.stop if code in _SURROGATES else code)
            return "".join(chars)
        chars.pop()
    return ALL_KEYS


def key_range(key: str, range_end: str | None, prefix: bool) -> tuple[str, str | None]:
    """``(key, range_end)`` as the server wants them once ``prefix`` is resolved (``None``: the key alone).

    ``prefix=True`` with ``key=""`` is every key (``("\\0", "\\0")``), as etcd's Go client makes it;
    ``prefix`` together with ``range_end`` is a ``ValueError``.
    """
    if not prefix:
        return key, range_end
    if range_end is not None:
        raise ValueError("give either range_end or prefix=True, not both")
    if key == "":
        return ALL_KEYS, ALL_KEYS
    return key, prefix_range_end(key)


# --- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """Every reply's header: the store's revision when the request was served, and who served it."""

    revision: int
    raft_term: int = 0
    member_id: int = 0
    cluster_id: int = 0


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One version of a key. ``version`` counts puts since the key was (re)created; a delete resets it.
    In a DELETE watch event ``kv`` has only ``key`` and ``mod_revision`` (the delete's), the rest zero."""

    key: str
    value: str
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class RangeResult:
    """``kvs`` in key order; ``count`` is the number of keys in the range (not limited by ``limit``), and
    ``more`` says that ``limit`` left some out."""

    header: ResponseHeader
    kvs: list[KeyValue]
    count: int
    more: bool = False


@dataclass(frozen=True, slots=True)
class PutResult:
    """``prev_kv`` is the key's previous version when asked for and the key existed, else None."""

    header: ResponseHeader
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """``deleted`` keys; ``prev_kvs`` are their last versions when asked for (else empty)."""

    header: ResponseHeader
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TxnResult:
    """``responses`` are the results of the branch that ran, one per op, in order. They carry the txn's
    own header: every write of a txn happens at that one revision."""

    header: ResponseHeader
    succeeded: bool
    responses: list[RangeResult | PutResult | DeleteResult]


@dataclass(frozen=True, slots=True)
class LeaseGrantResult:
    """``ttl`` is the TTL granted, which is never below the store's minimum (etcd: 2 s by default)."""

    header: ResponseHeader
    id: int
    ttl: int


@dataclass(frozen=True, slots=True)
class LeaseTTLResult:
    """``ttl`` is the seconds left (-1 for a lease that does not exist, as etcd answers), ``granted_ttl``
    the TTL it was granted with, ``keys`` the keys attached when asked for."""

    header: ResponseHeader
    id: int
    ttl: int
    granted_ttl: int
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change: ``kv`` is the key after a PUT, or the deleted key; ``prev_kv`` is the version the
    change replaced, when the watch asked for it and there was one (never for a key's creation)."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """A batch of events in revision order. No events and not canceled: a progress notice — everything
    up to ``header.revision`` has been delivered. ``canceled`` ends the watch; with ``compact_revision``
    set, because the revision it needed next is compacted: re-list, then watch from the list's revision."""

    header: ResponseHeader
    events: list[WatchEvent]
    compact_revision: int = 0
    canceled: bool = False


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """What one member says about itself; ``commit`` and ``raft_index`` are its Raft commit index."""

    id: int
    name: str
    is_leader: bool
    term: int
    commit: int
    applied: int
    raft_index: int


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """``leader`` is the leader's member id (0: none known); ``members`` lists the members that answered."""

    header: ResponseHeader
    leader: int
    members: list[MemberStatus]


# --- requests ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """One condition of a txn: ``<target of key> <result> <value>``, e.g. ``Compare(k, "version", "=", 0)``
    (the key does not exist). ``value`` is a ``str`` for the ``"value"`` target and an ``int`` otherwise.

    A key that does not exist has version, create_revision, mod_revision and lease 0 — but a compare on
    its *value* is false whatever the operator, ``"!="`` included (etcd's rule: there is no value to compare).
    """

    key: str
    target: CompareTarget
    result: CompareResult
    value: str | int

    def __post_init__(self) -> None:
        if self.target not in get_args(CompareTarget):
            raise ValueError(f"unknown compare target {self.target!r}")
        if self.result not in get_args(CompareResult):
            raise ValueError(f"unknown compare result {self.result!r}")
        wants_str = self.target == "value"
        if isinstance(self.value, bool) or isinstance(self.value, str) != wants_str:
            kind = "str" if wants_str else "int"
            raise TypeError(f"a {self.target!r} compare takes a {kind}, not {self.value!r}")


@dataclass(frozen=True, slots=True)
class RangeOp:
    key: str
    range_end: str | None = None
    prefix: bool = False
    limit: int = 0
    revision: int = 0
    keys_only: bool = False
    count_only: bool = False


@dataclass(frozen=True, slots=True)
class PutOp:
    key: str
    value: str
    lease: int = 0
    prev_kv: bool = False


@dataclass(frozen=True, slots=True)
class DeleteOp:
    key: str
    range_end: str | None = None
    prefix: bool = False
    prev_kv: bool = False


Op = RangeOp | PutOp | DeleteOp


# --- errors --------------------------------------------------------------------------------------------


class EtcdError(ApiError):
    """A request the store refused or could not serve. ``code`` is HTTP-like, because our service replies
    with Kubernetes ``Status`` errors carrying it. An error with a class of its own has that class's
    ``MESSAGE`` on every backend (etcd's words; the mvcc ones without the ``etcdserver:`` that etcd's
    gRPC layer puts in front); any other error carries the server's text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


class _FixedCodeError(EtcdError):
    CODE: ClassVar[int] = 500
    MESSAGE: ClassVar[str] = "etcdserver: internal error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.CODE, message or self.MESSAGE)


class InvalidArgumentError(_FixedCodeError):
    """A malformed request: empty key, too many ops, a duplicate key in a txn, a bad lease TTL, …"""

    CODE = 400
    MESSAGE = "etcdserver: invalid argument"


class KeyNotProvidedError(InvalidArgumentError):
    MESSAGE = "etcdserver: key is not provided"


class FutureRevisionError(_FixedCodeError):
    """A range (or compaction) at a revision the store has not reached yet."""

    CODE = 400
    MESSAGE = "mvcc: required revision is a future revision"


class CompactedError(_FixedCodeError):
    """A range (or compaction) at a revision compaction already removed (Kubernetes' 410 Gone).
    ``compact_revision`` is the store's compacted revision when the server tells it (etcd's ranges do
    not: there it is 0)."""

    CODE = 410
    MESSAGE = "mvcc: required revision has been compacted"

    def __init__(self, message: str | None = None, *, compact_revision: int = 0) -> None:
        super().__init__(message)
        self.compact_revision = compact_revision


class LeaseNotFoundError(_FixedCodeError):
    CODE = 404
    MESSAGE = "etcdserver: requested lease not found"


class LeaseExistsError(_FixedCodeError):
    CODE = 409
    MESSAGE = "etcdserver: lease already exists"


class UnavailableError(_FixedCodeError):
    """No answer from a member with a quorum (no leader, leader changed, connection lost): retry.
    A write that failed this way may or may not have happened."""

    CODE = 503
    MESSAGE = "etcdserver: unavailable"


class DeadlineExceededError(_FixedCodeError):
    """The request did not complete within the client's timeout; like 503, a write may have happened."""

    CODE = 504
    MESSAGE = "context deadline exceeded"


def error_from_status(code: int, message: str, details: Mapping[str, Any] | None = None) -> EtcdError:
    """The :class:`EtcdError` subclass for an error reply's ``code`` and ``message`` (a ``Status``)."""
    if code == 410:
        return CompactedError(message, compact_revision=int((details or {}).get("compact_revision", 0)))
    if code == 404 and "lease not found" in message:
        return LeaseNotFoundError(message)
    if code == 409 and "lease already exists" in message:
        return LeaseExistsError(message)
    if code == 400:
        if "future revision" in message:
            return FutureRevisionError(message)
        if "key is not provided" in message:
            return KeyNotProvidedError(message)
        return InvalidArgumentError(message)
    if code == 503:
        return UnavailableError(message)
    if code == 504:
        return DeadlineExceededError(message)
    return EtcdError(code, message)


# --- the interface -------------------------------------------------------------------------------------


class Watch(ABC):
    """A running watch: ``async for response in watch`` yields :class:`WatchResponse` batches.

    Every event after the watch's start revision is delivered once, in revision order. Responses without
    events are progress notices (both stores send them to an idle watch about once a second). The
    iteration ends after a response with ``canceled=True`` — which is how a compacted start revision is
    reported: **one** ``WatchResponse(canceled=True, compact_revision=C, events=[])``, then the end,
    never an exception — and after :meth:`cancel`. A lost connection raises :class:`UnavailableError`
    from the iteration; the caller re-watches from the last revision it processed + 1.

    ``async with await kv.watch(...) as watch:`` cancels the watch on leaving the block.
    """

    @abstractmethod
    async def __anext__(self) -> WatchResponse: ...

    @abstractmethod
    async def cancel(self) -> None:
        """Stop the watch; the iteration ends. Idempotent."""

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cancel()


class KVClient(Protocol):
    """An async client of an etcd-semantics store; every method raises :class:`EtcdError` subclasses.

    Revisions: the store has one revision counter, which every write request that changes something
    raises by exactly one (a txn is one write, however many ops it has; a delete of nothing, a txn with no
    writes and a lease revoke without keys change nothing). Reads are linearizable unless
    ``serializable=True`` (answered by whichever member the client talks to, possibly stale).
    """

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
        """The keys in ``[key, range_end)`` (or ``key`` alone) as of ``revision`` (0: now), in key order,
        at most ``limit`` of them (0: all). ``keys_only`` leaves values empty; ``count_only`` returns no
        kvs, only ``count``. A compacted ``revision`` raises :class:`CompactedError`, one not reached yet
        :class:`FutureRevisionError`."""
        ...

    async def put(self, key: str, value: str, *, lease: int = 0, prev_kv: bool = False) -> PutResult:
        """Write ``key``, attached to ``lease`` (0: none; unknown: :class:`LeaseNotFoundError`)."""
        ...

    async def delete(
        self, key: str, range_end: str | None = None, *, prefix: bool = False, prev_kv: bool = False
    ) -> DeleteResult:
        """Delete the keys in the range (all in one revision); deleting nothing writes nothing."""
        ...

    async def txn(
        self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult:
        """If every compare holds, run ``success``, else ``failure``, atomically, at one revision. Ranges
        in a branch see the branch's earlier writes. A key may be written only once per branch
        (:class:`InvalidArgumentError`)."""
        ...

    async def compact(self, revision: int) -> ResponseHeader:
        """Forget history before ``revision``: ranges and watches below it then raise/cancel with 410.
        ``revision`` itself stays readable. Compacting again at or below it raises :class:`CompactedError`,
        beyond the current revision :class:`FutureRevisionError`."""
        ...

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResult:
        """A new lease of ``ttl`` seconds (raised to the store's minimum); ``id`` 0 lets the store choose."""
        ...

    async def lease_revoke(self, id: int) -> ResponseHeader:
        """End the lease and delete its keys in one revision; unknown lease: :class:`LeaseNotFoundError`."""
        ...

    async def lease_keepalive(self, id: int) -> int:
        """Renew the lease to its granted TTL, returned; unknown or expired: :class:`LeaseNotFoundError`."""
        ...

    async def lease_ttl(self, id: int, keys: bool = False) -> LeaseTTLResult:
        """The lease's remaining and granted TTL (and keys); an unknown lease gives ``ttl == -1``."""
        ...

    async def watch(
        self,
        key: str,
        range_end: str | None = None,
        *,
        prefix: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
    ) -> Watch:
        """Watch the range from ``start_revision`` (0: changes after now). Returns once the store has
        created the watch, so every write made after this returns is seen. See :class:`Watch`."""
        ...

    async def status(self) -> ClusterStatus:
        """The leader and each answering member's Raft position."""
        ...

    async def close(self) -> None:
        """Cancel this client's watches and release its connections."""
        ...
