"""The replicated commands of the etcd member and their encoding: compact JSON, the data of a Raft entry.

A command is the typed request it came from (``PutRequest``, ``TxnRequest``, …) or one of the lease
commands, tagged with ``op``::

    {"op":"put","key":"a","value":"1","lease":7,"prev_kv":true}
    {"op":"delete_range","key":"a","range_end":"b"}
    {"op":"txn","compare":[{"key":"a","target":"version","result":"=","value":0}],"success":[{"put":{"key":"a","value":"1"}}]}
    {"op":"compact","revision":42}
    {"op":"lease_grant","ttl":10}            id chosen while applying, from the entry's Raft index
    {"op":"lease_grant","ttl":10,"id":99}
    {"op":"lease_revoke","id":99}
    {"op":"lease_expire","ids":[99,100]}     proposed only by the leader, when its clock says so

Fields at their default are left out. Reads are not commands (they are served locally after ReadIndex,
or inside a txn); neither are lease keepalives, which only move the leader's local deadline (as in etcd).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.etcd.mvcc.errors import BadRequestError
from services.etcd.mvcc.requests import (
    CompactRequest,
    DeleteRangeRequest,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
)
from services.etcd.mvcc.txn import TxnRequest

Command = (
    PutRequest
    | DeleteRangeRequest
    | TxnRequest
    | CompactRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseExpireRequest
)

_NAMES: dict[type[Command], str] = {
    PutRequest: "put",
    DeleteRangeRequest: "delete_range",
    TxnRequest: "txn",
    CompactRequest: "compact",
    LeaseGrantRequest: "lease_grant",
    LeaseRevokeRequest: "lease_revoke",
    LeaseExpireRequest: "lease_expire",
}
_TYPES: dict[str, type[Command]] = {name: t for t, name in _NAMES.items()}


def encode_command(command: Command) -> bytes:
    """The bytes to propose: ``{"op": …, <fields>}`` as compact UTF-8 JSON."""
    body = {"op": _NAMES[type(command)], **command.to_wire()}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode_command(data: bytes) -> Command:
    """The command in ``data``; raises :class:`BadRequestError` for bytes that are not one (every member
    raises the same error for the same bytes, so a bad entry is an error result, not a divergence)."""
    try:
        body: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("command: not valid UTF-8 JSON") from None
    if not isinstance(body, Mapping):
        raise BadRequestError("command: must be a JSON object")
    fields = dict(body)
    op = fields.pop("op", None)
    kind = _TYPES.get(op) if isinstance(op, str) else None
    if kind is None:
        raise BadRequestError(f"command: unknown op {op!r}; expected one of {sorted(_TYPES)}")
    if kind is TxnRequest:
        # The op limit is request-time policy; a committed txn is applied whatever this member's limit.
        return TxnRequest.from_wire(fields, max_txn_ops=None)
    return kind.from_wire(fields)
