"""Transactions: compares, the ops of each branch, and how a compare is judged against a key-value.

A txn is ``if all(compares) then success else failure``; the store runs the chosen branch at one
revision (:meth:`KVStore.txn`). The judging rules are etcd's (``server/etcdserver/txn``): a compare over
a range holds only if it holds for every key in it; a missing key has no value (a value compare fails)
and 0 for version, create and mod revision and lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from services.etcd.mvcc.errors import BadRequestError, DuplicateKeyError, TooManyOpsError
from services.etcd.mvcc.requests import DeleteRangeRequest, Op, PutRequest, op_from_wire, op_to_wire
from services.etcd.mvcc.types import KeyValue, Wire
from services.etcd.mvcc.wire import ALL_KEYS, read_body, read_int, read_key_and_end, read_str, with_optional

MAX_TXN_OPS = 128
"""etcd's default ``--max-txn-ops``: the most compares, success ops or failure ops one txn may carry."""


class CompareTarget(StrEnum):
    VALUE = "value"
    VERSION = "version"
    CREATE_REVISION = "create_revision"
    MOD_REVISION = "mod_revision"
    LEASE = "lease"


class CompareResult(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    LESS = "<"
    GREATER = ">"


@dataclass(frozen=True, slots=True)
class Compare:
    """``target(key) result value``, e.g. ``mod_revision("a") = 7``; over ``[key, range_end)`` every key
    must satisfy it. ``value`` is a string for the value target and an integer for the others."""

    key: str
    target: CompareTarget
    result: CompareResult
    value: str | int
    range_end: str | None = None

    @classmethod
    def from_wire(cls, body: object) -> Self:
        b = read_body(body, "compare")
        key, end = read_key_and_end(b)
        try:
            target = CompareTarget(str(b.get("target")))
            result = CompareResult(str(b.get("result")))
        except ValueError:
            raise BadRequestError(
                f"compare: target must be one of {[t.value for t in CompareTarget]} and result one of "
                f"{[r.value for r in CompareResult]}, got {b.get('target')!r} and {b.get('result')!r}"
            ) from None
        value: str | int = read_str(b, "value") if target is CompareTarget.VALUE else read_int(b, "value")
        return cls(key, target, result, value, end)

    def to_wire(self) -> Wire:
        wire: Wire = {"key": self.key, "target": self.target.value, "result": self.result.value}
        wire["value"] = self.value
        return with_optional(wire, range_end=self.range_end)

    def holds(self, kvs: list[KeyValue]) -> bool:
        """Whether the compare holds for the key-values its range has now (none: the key is missing)."""
        if isinstance(self.value, str) != (self.target is CompareTarget.VALUE):
            raise BadRequestError(f"compare: value of target {self.target.value} has the wrong type")
        if not kvs:
            # Nothing to compare a value with (always false); every number of a missing key is 0.
            return self.target is not CompareTarget.VALUE and _compare_kv(
                self, KeyValue(self.key, "", 0, 0, 0)
            )
        return all(_compare_kv(self, kv) for kv in kvs)


def check_ops(ops: list[Op]) -> None:
    """Refuse a branch that writes one key twice (two puts, or a put inside a deleted range), as etcd
    does: one main revision then holds at most one change per key, which compaction relies on."""
    puts: set[str] = set()
    deletes: list[tuple[str, str | None]] = []
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts:
                raise DuplicateKeyError()
            puts.add(op.key)
        elif isinstance(op, DeleteRangeRequest):
            deletes.append((op.key, op.range_end))
    for key in puts:
        for start, end in deletes:
            inside = key == start if end is None else (start <= key and (end == ALL_KEYS or key < end))
            if inside:
                raise DuplicateKeyError()


@dataclass(frozen=True, slots=True)
class TxnRequest:
    compare: list[Compare] = field(default_factory=list)
    success: list[Op] = field(default_factory=list)
    failure: list[Op] = field(default_factory=list)

    @classmethod
    def from_wire(cls, body: object, max_txn_ops: int | None = MAX_TXN_OPS) -> Self:
        b = read_body(body, "txn")
        lists: dict[str, list[Any]] = {}
        for name in ("compare", "success", "failure"):
            items = b.get(name)
            if items is None:
                items = []
            if not isinstance(items, list):
                raise BadRequestError(f"{name}: must be a list, got {type(items).__name__}")
            if max_txn_ops is not None and len(items) > max_txn_ops:
                raise TooManyOpsError()
            lists[name] = items
        txn = cls(
            [Compare.from_wire(c) for c in lists["compare"]],
            [op_from_wire(op) for op in lists["success"]],
            [op_from_wire(op) for op in lists["failure"]],
        )
        check_ops(txn.success)
        check_ops(txn.failure)
        return txn

    def to_wire(self) -> Wire:
        return with_optional(
            {},
            compare=[c.to_wire() for c in self.compare],
            success=[op_to_wire(op) for op in self.success],
            failure=[op_to_wire(op) for op in self.failure],
        )


def _compare_kv(c: Compare, kv: KeyValue) -> bool:
    actual: str | int
    match c.target:
        case CompareTarget.VALUE:
            actual = kv.value
        case CompareTarget.VERSION:
            actual = kv.version
        case CompareTarget.CREATE_REVISION:
            actual = kv.create_revision
        case CompareTarget.MOD_REVISION:
            actual = kv.mod_revision
        case CompareTarget.LEASE:
            actual = kv.lease
    # Strings compare by code point, which is the byte order of their UTF-8: etcd's bytes.Compare.
    match c.result:
        case CompareResult.EQUAL:
            return actual == c.value
        case CompareResult.NOT_EQUAL:
            return actual != c.value
        case CompareResult.LESS:
            return actual < c.value  # type: ignore[operator]
        case CompareResult.GREATER:
            return actual > c.value  # type: ignore[operator]
