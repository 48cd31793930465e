"""The requests the MVCC store serves, parsed and checked from their wire shape (ARCHITECTURE.md §2).

``from_wire`` turns a decoded JSON body into a typed request or raises a 400-class :mod:`errors` error
naming the field, so a bad request never reaches the store. The same parsers decode replicated commands,
which is why they depend on nothing but the body: a member's configuration must not change how a
committed command is read. Transactions are in :mod:`txn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from services.etcd.mvcc.errors import BadRequestError
from services.etcd.mvcc.types import Wire
from services.etcd.mvcc.wire import read_body, read_bool, read_int, read_key_and_end, read_str, with_optional


@dataclass(frozen=True, slots=True)
class RangeRequest:
    key: str
    range_end: str | None = None
    limit: int = 0
    revision: int = 0
    keys_only: bool = False
    count_only: bool = False
    serializable: bool = False
    """Read from the local member without ReadIndex; the adapter's concern, carried for it."""

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "range")
        key, end = read_key_and_end(b)
        return cls(
            key,
            end,
            limit=read_int(b, "limit", minimum=0),
            revision=read_int(b, "revision"),
            keys_only=read_bool(b, "keys_only"),
            count_only=read_bool(b, "count_only"),
            serializable=read_bool(b, "serializable"),
        )

    def to_wire(self) -> Wire:
        return with_optional(
            {"key": self.key},
            range_end=self.range_end,
            limit=self.limit,
            revision=self.revision,
            keys_only=self.keys_only,
            count_only=self.count_only,
            serializable=self.serializable,
        )


@dataclass(frozen=True, slots=True)
class PutRequest:
    key: str
    value: str = ""
    lease: int = 0
    prev_kv: bool = False

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "put")
        key, _ = read_key_and_end(b, with_range=False)
        return cls(key, read_str(b, "value"), read_int(b, "lease", minimum=0), read_bool(b, "prev_kv"))

    def to_wire(self) -> Wire:
        return with_optional({"key": self.key, "value": self.value}, lease=self.lease, prev_kv=self.prev_kv)


@dataclass(frozen=True, slots=True)
class DeleteRangeRequest:
    key: str
    range_end: str | None = None
    prev_kv: bool = False

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "delete")
        key, end = read_key_and_end(b)
        return cls(key, end, read_bool(b, "prev_kv"))

    def to_wire(self) -> Wire:
        return with_optional({"key": self.key}, range_end=self.range_end, prev_kv=self.prev_kv)


Op = RangeRequest | PutRequest | DeleteRangeRequest
_OP_NAMES: dict[type[Op], str] = {RangeRequest: "range", PutRequest: "put", DeleteRangeRequest: "delete"}
_OP_TYPES: dict[str, type[Op]] = {name: t for t, name in _OP_NAMES.items()}


def op_from_wire(body: object) -> Op:
    """``{put: {…}}``, ``{delete: {…}}`` or ``{range: {…}}``: exactly one of them."""
    b = read_body(body, "op")
    if len(b) != 1 or next(iter(b)) not in _OP_TYPES:
        raise BadRequestError(f"op: must have exactly one of {sorted(_OP_TYPES)}, got {sorted(b)}")
    name, inner = next(iter(b.items()))
    return _OP_TYPES[name].from_wire(inner)


def op_to_wire(op: Op) -> Wire:
    return {_OP_NAMES[type(op)]: op.to_wire()}


@dataclass(frozen=True, slots=True)
class CompactRequest:
    revision: int

    @classmethod
    def from_wire(cls, body: object) -> Self:
        return cls(read_int(read_body(body, "compact"), "revision"))

    def to_wire(self) -> Wire:
        return {"revision": self.revision}


@dataclass(frozen=True, slots=True)
class LeaseGrantRequest:
    ttl: int
    id: int = 0
    """0: the member picks one, from the Raft index of the command (deterministic on every member)."""

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "lease grant")
        return cls(read_int(b, "ttl"), read_int(b, "id", minimum=0))

    def to_wire(self) -> Wire:
        return with_optional({"ttl": self.ttl}, id=self.id)


@dataclass(frozen=True, slots=True)
class LeaseRevokeRequest:
    id: int

    @classmethod
    def from_wire(cls, body: object) -> Self:
        return cls(read_int(read_body(body, "lease revoke"), "id"))

    def to_wire(self) -> Wire:
        return {"id": self.id}


@dataclass(frozen=True, slots=True)
class LeaseExpireRequest:
    """The leader's decision that these leases ran out; never sent by a client."""

    ids: list[int]

    @classmethod
    def from_wire(cls, body: object) -> Self:
        ids = read_body(body, "lease expire").get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise BadRequestError("ids: must be a list of integers")
        return cls(ids)

    def to_wire(self) -> Wire:
        return {"ids": self.ids}


# --- member-local requests: parsed here for the adapter, never replicated -------------------------------


@dataclass(frozen=True, slots=True)
class LeaseKeepAliveRequest:
    id: int

    @classmethod
    def from_wire(cls, body: object) -> Self:
        return cls(read_int(read_body(body, "lease keepalive"), "id"))


@dataclass(frozen=True, slots=True)
class LeaseTimeToLiveRequest:
    id: int
    keys: bool = False

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "lease ttl")
        return cls(read_int(b, "id"), read_bool(b, "keys"))


@dataclass(frozen=True, slots=True)
class WatchCreateRequest:
    key: str
    range_end: str | None = None
    start_revision: int = 0
    """<= 0: from the next change."""
    prev_kv: bool = False
    deliver: str = ""
    """The subject the adapter streams to; its format is the adapter's to check."""

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "watch")
        key, end = read_key_and_end(b)
        return cls(key, end, read_int(b, "start_revision"), read_bool(b, "prev_kv"), read_str(b, "deliver"))
