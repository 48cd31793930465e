"""The etcd member's replicated state machine: Raft entries in, store results and watch events out.

:meth:`KVStateMachine.apply` is deterministic: members that apply the same entries in the same order hold
the same keys, revisions and leases, and return the same results (errors included). The only inputs
besides the entries are member-local and change no replicated state: ``now`` starts a lease's deadline
on the leader, and the watchers a member serves decide which events it hands back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from services.etcd.mvcc.commands import Command, decode_command
from services.etcd.mvcc.errors import MvccError
from services.etcd.mvcc.kv import KVStore
from services.etcd.mvcc.lessor import MIN_LEASE_TTL, Lessor
from services.etcd.mvcc.requests import (
    CompactRequest,
    DeleteRangeRequest,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
)
from services.etcd.mvcc.txn import TxnRequest
from services.etcd.mvcc.types import LeaseExpireResult, LeaseResult, RangeResult, Result
from services.etcd.mvcc.watch import WatchableStore, WatchResponse

SNAPSHOT_FORMAT = 1


@dataclass(slots=True)
class ApplyResult:
    """What applying one entry produced: a result or an error (never both), and the watch messages."""

    index: int
    response: Result | None = None
    error: MvccError | None = None
    watch_responses: list[WatchResponse] = field(default_factory=list)

    def unwrap(self) -> Result:
        """The result; raises the error if the command failed (or ValueError for an entry with none)."""
        if self.error is not None:
            raise self.error
        if self.response is None:
            raise ValueError(f"entry {self.index} was a no-op or already applied")
        return self.response


class KVStateMachine:
    """The store, the lessor and the member's watchers, behind ``apply``/``snapshot``/``restore``."""

    def __init__(self, min_lease_ttl: int = MIN_LEASE_TTL) -> None:
        self.lessor = Lessor(min_ttl=min_lease_ttl)
        self.kv = KVStore(self.lessor)
        self.watches = WatchableStore(self.kv)
        self.applied_index = 0

    @property
    def revision(self) -> int:
        return self.kv.revision

    @property
    def compact_revision(self) -> int:
        return self.kv.compact_revision

    # --- replicated -------------------------------------------------------------------------------------

    def apply(self, index: int, data: bytes, now: float | None = None) -> ApplyResult:
        """Apply the committed entry at ``index``. Empty ``data`` (a new leader's no-op) only moves the
        applied index; an index already applied (a replay after restoring a snapshot) changes nothing.
        ``now`` is the member's clock, used only to start lease deadlines on the leader."""
        if index <= self.applied_index:
            return ApplyResult(index)
        self.applied_index = index
        if not data:
            return ApplyResult(index)
        response: Result | None = None
        error: MvccError | None = None
        try:
            response = self._execute(index, decode_command(data), now)
        except MvccError as err:
            # Every check runs before the first write, so a failed command changed nothing.
            error = err
        return ApplyResult(index, response, error, self.watches.notify(self.kv.drain_events()))

    def _execute(self, index: int, cmd: Command, now: float | None) -> Result:
        kv = self.kv
        match cmd:
            case PutRequest():
                return kv.put(cmd.key, cmd.value, cmd.lease, cmd.prev_kv)
            case DeleteRangeRequest():
                return kv.delete_range(cmd.key, cmd.range_end, cmd.prev_kv)
            case TxnRequest():
                return kv.txn(cmd.compare, cmd.success, cmd.failure)
            case CompactRequest():
                return kv.compact(cmd.revision)
            case LeaseGrantRequest():
                lease = self.lessor.grant(cmd.id or self.lessor.allocate_id(index), cmd.ttl, now)
                return LeaseResult(kv.revision, lease.id, lease.ttl)
            case LeaseRevokeRequest():
                # The lease's keys go in one revision of their own, as when it expires.
                kv.delete_keys(self.lessor.revoke(cmd.id))
                return LeaseResult(kv.revision, cmd.id, 0)
            case LeaseExpireRequest():
                revoked = []
                for lease_id in cmd.ids:
                    # Revoked or expired since the leader decided: nothing left to do for it.
                    if self.lessor.lookup(lease_id) is not None:
                        kv.delete_keys(self.lessor.revoke(lease_id))
                        revoked.append(lease_id)
                return LeaseExpireResult(kv.revision, revoked)

    def snapshot(self) -> bytes:
        """The whole replicated state as compact JSON: counters, every record since compaction, leases,
        and the applied index. Equal states give equal bytes."""
        state = {
            "format": SNAPSHOT_FORMAT,
            "applied_index": self.applied_index,
            "leases": self.lessor.state(),
            **self.kv.state(),
        }
        return json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()

    def restore(self, data: bytes) -> None:
        """Replace the replicated state with a snapshot's. Watchers stay: they catch up from the new
        history through :meth:`WatchableStore.sync`, or are cancelled if it no longer reaches back."""
        state: dict[str, Any] = json.loads(data)
        if state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"snapshot format {state.get('format')!r}, expected {SNAPSHOT_FORMAT}")
        self.watches.unsync_all()
        self.lessor.restore(state["leases"])
        self.kv.restore(state)
        self.applied_index = state["applied_index"]

    # --- member-local: reads and the leader's lease clock -----------------------------------------------

    def range(self, request: RangeRequest) -> RangeResult:
        """A read at the local applied state (after ReadIndex for a linearizable one)."""
        return self.kv.range(
            request.key,
            request.range_end,
            limit=request.limit,
            revision=request.revision,
            keys_only=request.keys_only,
            count_only=request.count_only,
        )

    def lease_keepalive(self, lease_id: int, now: float) -> LeaseResult:
        """Renew a lease; leader only (:class:`NotPrimaryError` elsewhere: forward it)."""
        return LeaseResult(self.kv.revision, lease_id, self.lessor.keepalive(lease_id, now))

    def lease_time_to_live(self, lease_id: int, now: float, keys: bool = False) -> LeaseResult:
        """Remaining TTL (-1 for a lease that does not exist), granted TTL and optionally the keys."""
        ttl = self.lessor.time_to_live(lease_id, now, keys)
        return LeaseResult(self.kv.revision, ttl.id, ttl.ttl, ttl.granted_ttl, ttl.keys)

    def expired_leases(self, now: float, limit: int | None = None) -> list[int]:
        """Leader only: leases to propose in a ``lease_expire`` command."""
        return self.lessor.expired(now, limit)

    def promote(self, now: float, extend: float = 0.0) -> None:
        """This member became leader: it now decides lease expiry, and every lease starts afresh."""
        self.lessor.promote(now, extend)

    def demote(self) -> None:
        """This member is no longer leader: it stops deciding lease expiry."""
        self.lessor.demote()
