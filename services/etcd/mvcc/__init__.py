"""The etcd member's MVCC state machine: revisions, key index, store, lessor, watchers, commands.

Pure: no asyncio, no NATS, no I/O and no clock (time is an argument). The NATS adapter builds requests
with ``*.from_wire``, proposes ``encode_command(...)``, feeds committed entries to
``KVStateMachine.apply`` and delivers the ``WatchResponse`` values it gets back.
"""

from services.etcd.mvcc.commands import Command, decode_command, encode_command
from services.etcd.mvcc.errors import (
    BadRequestError,
    CompactedError,
    DuplicateKeyError,
    FutureRevisionError,
    KeyNotProvidedError,
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseTTLTooLargeError,
    MvccError,
    NotPrimaryError,
    TooManyOpsError,
)
from services.etcd.mvcc.key_index import KeyIndex
from services.etcd.mvcc.kv import KVStore
from services.etcd.mvcc.lessor import MIN_LEASE_TTL, NO_LEASE, Lease, Lessor
from services.etcd.mvcc.requests import (
    CompactRequest,
    DeleteRangeRequest,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    Op,
    PutRequest,
    RangeRequest,
    WatchCreateRequest,
    op_from_wire,
)
from services.etcd.mvcc.revision import Revision
from services.etcd.mvcc.state_machine import ApplyResult, KVStateMachine
from services.etcd.mvcc.txn import MAX_TXN_OPS, Compare, CompareResult, CompareTarget, TxnRequest
from services.etcd.mvcc.types import (
    CompactResult,
    DeleteRangeResult,
    Event,
    EventType,
    KeyValue,
    LeaseExpireResult,
    LeaseResult,
    PutResult,
    RangeResult,
    Result,
    TxnResult,
)
from services.etcd.mvcc.watch import WatchableStore, Watcher, WatchResponse
from services.etcd.mvcc.wire import ALL_KEYS, prefix_range_end

__all__ = [
    "ALL_KEYS",
    "MAX_TXN_OPS",
    "MIN_LEASE_TTL",
    "NO_LEASE",
    "ApplyResult",
    "BadRequestError",
    "Command",
    "CompactRequest",
    "CompactResult",
    "CompactedError",
    "Compare",
    "CompareResult",
    "CompareTarget",
    "DeleteRangeRequest",
    "DeleteRangeResult",
    "DuplicateKeyError",
    "Event",
    "EventType",
    "FutureRevisionError",
    "KVStateMachine",
    "KVStore",
    "KeyIndex",
    "KeyNotProvidedError",
    "KeyValue",
    "Lease",
    "LeaseExistsError",
    "LeaseExpireRequest",
    "LeaseExpireResult",
    "LeaseGrantRequest",
    "LeaseKeepAliveRequest",
    "LeaseNotFoundError",
    "LeaseResult",
    "LeaseRevokeRequest",
    "LeaseTTLTooLargeError",
    "LeaseTimeToLiveRequest",
    "Lessor",
    "MvccError",
    "NotPrimaryError",
    "Op",
    "PutRequest",
    "PutResult",
    "RangeRequest",
    "RangeResult",
    "Result",
    "Revision",
    "TooManyOpsError",
    "TxnRequest",
    "TxnResult",
    "WatchCreateRequest",
    "WatchResponse",
    "WatchableStore",
    "Watcher",
    "decode_command",
    "encode_command",
    "op_from_wire",
    "prefix_range_end",
]
