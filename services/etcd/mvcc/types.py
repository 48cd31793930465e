"""The values the MVCC store hands out: key-values, watch events and the result of each operation.

Field names are the wire protocol's (ARCHITECTURE.md §2), and every result has ``to_wire()`` giving the
JSON-ready reply body with ``header: {revision}``; the NATS adapter adds the rest of the header
(``raft_term``, ``member_id``, ``cluster_id``) and sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

Wire = dict[str, Any]
"""A JSON-ready dict in the wire protocol's shape."""


def header(revision: int) -> Wire:
    return {"revision": revision}


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One stored version of a key. A tombstone (the record of a delete) has ``version`` 0."""

    key: str
    value: str
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    @property
    def is_tombstone(self) -> bool:
        return self.version == 0

    def to_wire(self, keys_only: bool = False) -> Wire:
        return {
            "key": self.key,
            "value": "" if keys_only else self.value,
            "create_revision": self.create_revision,
            "mod_revision": self.mod_revision,
            "version": self.version,
            "lease": self.lease,
        }


class EventType(StrEnum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    """One change of one key. For a DELETE, ``kv`` holds only the key and the delete's ``mod_revision``
    (etcd's shape); ``prev_kv`` is the version the change replaced, when it is known and asked for."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    def to_wire(self) -> Wire:
        wire: Wire = {"type": self.type.value, "kv": self.kv.to_wire()}
        if self.prev_kv is not None:
            wire["prev_kv"] = self.prev_kv.to_wire()
        return wire


class Result(Protocol):
    """What every operation returns: the header revision and the reply body."""

    @property
    def revision(self) -> int: ...

    def to_wire(self) -> Wire: ...


@dataclass(frozen=True, slots=True)
class RangeResult:
    revision: int
    kvs: list[KeyValue]
    count: int
    more: bool = False
    keys_only: bool = False

    def body(self) -> Wire:
        return {
            "kvs": [kv.to_wire(self.keys_only) for kv in self.kvs],
            "count": self.count,
            "more": self.more,
        }

    def to_wire(self) -> Wire:
        return {"header": header(self.revision), **self.body()}


@dataclass(frozen=True, slots=True)
class PutResult:
    revision: int
    prev_kv: KeyValue | None = None

    def body(self) -> Wire:
        return {} if self.prev_kv is None else {"prev_kv": self.prev_kv.to_wire()}

    def to_wire(self) -> Wire:
        return {"header": header(self.revision), **self.body()}


@dataclass(frozen=True, slots=True)
class DeleteRangeResult:
    revision: int
    deleted: int
    prev_kvs: list[KeyValue] | None = None
    """The deleted versions, only when the request asked for ``prev_kv``."""

    def body(self) -> Wire:
        body: Wire = {"deleted": self.deleted}
        if self.prev_kvs is not None:
            body["prev_kvs"] = [kv.to_wire() for kv in self.prev_kvs]
        return body

    def to_wire(self) -> Wire:
        return {"header": header(self.revision), **self.body()}


OpResult = RangeResult | PutResult | DeleteRangeResult


def op_result_to_wire(result: OpResult) -> Wire:
    """One entry of a txn's ``responses``, keyed like the op that produced it: ``{put: {…}}`` and so on."""
    if isinstance(result, RangeResult):
        return {"range": result.body()}
    if isinstance(result, PutResult):
        return {"put": result.body()}
    return {"delete": result.body()}


@dataclass(frozen=True, slots=True)
class TxnResult:
    revision: int
    succeeded: bool
    responses: list[OpResult] = field(default_factory=list)

    def to_wire(self) -> Wire:
        return {
            "header": header(self.revision),
            "succeeded": self.succeeded,
            "responses": [op_result_to_wire(r) for r in self.responses],
        }


@dataclass(frozen=True, slots=True)
class CompactResult:
    revision: int

    def to_wire(self) -> Wire:
        return {"header": header(self.revision)}


@dataclass(frozen=True, slots=True)
class LeaseResult:
    """The reply to a lease grant, revoke, keepalive or time-to-live (one shape, as in the wire table).

    ``ttl`` is the granted TTL for grant and keepalive and the remaining seconds for time-to-live, where
    -1 means the lease does not exist (etcd's answer there); after a revoke it is 0, nothing left."""

    revision: int
    id: int
    ttl: int
    granted_ttl: int | None = None
    keys: list[str] | None = None

    def to_wire(self) -> Wire:
        wire: Wire = {"header": header(self.revision), "id": self.id, "ttl": self.ttl}
        if self.granted_ttl is not None:
            wire["granted_ttl"] = self.granted_ttl
        if self.keys is not None:
            wire["keys"] = self.keys
        return wire


@dataclass(frozen=True, slots=True)
class LeaseExpireResult:
    """The outcome of the leader's expiry command: which of the named leases still existed and went."""

    revision: int
    revoked: list[int]

    def to_wire(self) -> Wire:
        return {"header": header(self.revision), "revoked": self.revoked}
