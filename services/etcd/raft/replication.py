"""The leader's side of Raft: replicating the log, snapshots, heartbeats, ReadIndex and leadership transfer.

Functions here take the ``Raft`` they act for; ``step_leader`` is the leader's step function. Flow control
follows ``progress.Progress``: a follower being probed gets one append at a time, one being replicated to
gets a stream bounded by ``max_inflight_msgs``, one that needs compacted entries gets a snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.etcd.raft.config import ProposalDroppedError, Role
from services.etcd.raft.progress import Progress, ProgressState
from services.etcd.raft.storage import CompactedError, SnapshotTemporarilyUnavailableError
from services.etcd.raft.types import NONE, Message, MessageType

if TYPE_CHECKING:
    from services.etcd.raft.core import Raft

MT = MessageType


# --- sending ---------------------------------------------------------------------------------------------


def send_append(r: Raft, to: str) -> None:
    maybe_send_append(r, to, send_if_empty=True)


def maybe_send_append(r: Raft, to: str, *, send_if_empty: bool) -> bool:
    """Send ``to`` the entries from its ``next`` (or a snapshot if they are compacted); True if sent.

    Empty appends still carry the commit index, but are skipped when ``send_if_empty`` is False so that a
    loop filling the in-flight window stops once there is nothing left to send.
    """
    pr = r.tracker.progress[to]
    if pr.is_paused():
        return False
    prev_index = pr.next - 1
    try:
        prev_term = r.log.term(prev_index)
        # With the in-flight window full, send only an empty append: if every append in the window was
        # lost, its answer (accept or reject) is what unsticks the flow.
        if pr.state != ProgressState.REPLICATE or not pr.inflights.full():
            entries = r.log.entries(pr.next, r.config.max_size_per_msg)
        else:
            entries = []
    except CompactedError:
        return maybe_send_snapshot(r, to, pr)
    if not entries and not send_if_empty:
        return False
    r.reply(to, MT.APP, index=prev_index, log_term=prev_term, entries=tuple(entries), commit=r.log.committed)
    pr.sent_entries(len(entries))
    pr.sent_commit = r.log.committed
    return True


def maybe_send_snapshot(r: Raft, to: str, pr: Progress) -> bool:
    if not pr.recent_active:
        # Snapshots are expensive; do not send one to a member that may be down.
        return False
    try:
        snapshot = r.log.snapshot()
    except SnapshotTemporarilyUnavailableError:
        return False
    if snapshot.is_empty():
        raise AssertionError("entries are compacted but storage has no snapshot")
    pr.become_snapshot(snapshot.metadata.index)
    r.reply(to, MT.SNAP, snapshot=snapshot)
    return True


def send_heartbeat(r: Raft, to: str, context: bytes) -> None:
    pr = r.tracker.progress[to]
    # Never advance a follower's commit index past what we know it holds: it may lack those entries.
    commit = min(pr.match, r.log.committed)
    r.reply(to, MT.HEARTBEAT, commit=commit, context=context)
    pr.sent_commit = commit


def bcast_append(r: Raft) -> None:
    for voter in r.tracker.voters:
        if voter != r.id:
            send_append(r, voter)


def bcast_heartbeat(r: Raft) -> None:
    # Every heartbeat doubles as confirmation for the newest pending read, and so for all before it.
    context = r.read_only.last_pending_key()
    for voter in r.tracker.voters:
        if voter != r.id:
            send_heartbeat(r, voter, context)


def maybe_commit(r: Raft) -> bool:
    # Only an entry of our own term is committed by counting replicas (§5.4.2, Figure 8).
    return r.log.maybe_commit(r.tracker.committed(), r.term)


# --- ReadIndex -------------------------------------------------------------------------------------------


def serve_read_index(r: Raft, m: Message) -> None:
    if r.tracker.is_singleton():
        r.respond_to_read_index(m, r.log.committed)
        return
    key = r.read_only.add_request(r.log.committed, m)
    r.read_only.recv_ack(r.id, key)
    bcast_heartbeat(r)


def release_pending_read_index(r: Raft) -> None:
    if not r.pending_read_index or not r.committed_entry_in_current_term():
        return
    pending, r.pending_read_index = r.pending_read_index, []
    for m in pending:
        serve_read_index(r, m)


# --- the leader's step function ----------------------------------------------------------------------------


def step_leader(r: Raft, m: Message) -> None:
    if m.type == MT.BEAT:
        bcast_heartbeat(r)
    elif m.type == MT.CHECK_QUORUM:
        if not r.tracker.quorum_active(r.id):
            # We cannot reach a quorum, so another leader may already exist; stop serving as leader.
            r.become_follower(r.term, NONE)
            return
        for member, pr in r.tracker.progress.items():
            if member != r.id:
                pr.recent_active = False
    elif m.type == MT.PROP:
        if not m.entries:
            raise ValueError("empty proposal")
        if r.lead_transferee != NONE:
            r.drop(m, ProposalDroppedError, f"leadership transfer to {r.lead_transferee} in progress")
            return
        r.append_entries(m.entries)
        bcast_append(r)
    elif m.type == MT.READ_INDEX:
        # Our commit index is only known to be the cluster's once we committed in our own term; until
        # then, reads wait (the no-op appended on election gets us there).
        if not r.committed_entry_in_current_term():
            r.pending_read_index.append(m)
        else:
            serve_read_index(r, m)
    else:
        peer = r.tracker.progress.get(m.frm)
        if peer is not None:
            _step_leader_peer(r, m, peer)


def _step_leader_peer(r: Raft, m: Message, pr: Progress) -> None:
    if m.type == MT.APP_RESP:
        pr.recent_active = True
        if m.reject:
            _handle_append_rejection(r, m, pr)
        else:
            _handle_append_success(r, m, pr)
    elif m.type == MT.HEARTBEAT_RESP:
        pr.recent_active = True
        pr.msg_app_flow_paused = False
        # A follower behind us, or one we are probing, gets an append now rather than waiting.
        if pr.match < r.log.last_index() or pr.state == ProgressState.PROBE:
            send_append(r, m.frm)
        if not m.context:
            return
        acks = r.read_only.recv_ack(m.frm, m.context)
        if acks is None or not r.tracker.has_quorum(acks):
            return
        for status in r.read_only.advance(m.context):
            r.respond_to_read_index(status.request, status.index)
    elif m.type == MT.SNAP_STATUS:
        if pr.state != ProgressState.SNAPSHOT:
            return
        if m.reject:
            # The snapshot never arrived: probe from what the follower has acknowledged, not from it.
            pr.pending_snapshot = 0
        pr.become_probe()
        # Wait for the follower's answer (or the next heartbeat response) before sending more.
        pr.msg_app_flow_paused = True
    elif m.type == MT.UNREACHABLE:
        # Optimistic appends to an unreachable member were probably lost; go back to probing.
        if pr.state == ProgressState.REPLICATE:
            pr.become_probe()
    elif m.type == MT.TRANSFER_LEADER:
        _handle_transfer_leader(r, m.frm, pr)


def _handle_append_rejection(r: Raft, m: Message, pr: Progress) -> None:
    # The follower's hint is (reject_hint, log_term): the last entry of its that might match ours. Every
    # index above the largest of ours with term <= log_term must fail too, since terms only grow along a
    # log; so skip to it, one term per round trip instead of one entry.
    next_probe = m.reject_hint
    if m.log_term > 0:
        next_probe, _ = r.log.find_conflict_by_term(m.reject_hint, m.log_term)
    if pr.maybe_decr_to(m.index, next_probe):
        if pr.state == ProgressState.REPLICATE:
            pr.become_probe()
        send_append(r, m.frm)


def _handle_append_success(r: Raft, m: Message, pr: Progress) -> None:
    # A repeated acknowledgement of ``match`` still moves a probed follower to replicating: the probe
    # succeeded, we just knew the answer already.
    if not (pr.maybe_update(m.index) or (pr.match == m.index and pr.state == ProgressState.PROBE)):
        return
    if pr.state == ProgressState.PROBE:
        pr.become_replicate()
    elif pr.state == ProgressState.SNAPSHOT and pr.match + 1 >= r.log.first_index():
        # Caught up through the snapshot (or otherwise): resume from the log.
        pr.become_probe()
        pr.become_replicate()
    elif pr.state == ProgressState.REPLICATE:
        pr.inflights.free_le(m.index)

    if maybe_commit(r):
        release_pending_read_index(r)
        bcast_append(r)
    elif m.frm != r.id and pr.can_bump_commit(r.log.committed):
        send_append(r, m.frm)
    if m.frm != r.id:
        # The window may have opened for several appends (e.g. on entering REPLICATE).
        while maybe_send_append(r, m.frm, send_if_empty=False):
            pass
    if m.frm == r.lead_transferee and pr.match == r.log.last_index():
        r.reply(m.frm, MT.TIMEOUT_NOW)


def _handle_transfer_leader(r: Raft, transferee: str, pr: Progress) -> None:
    if r.lead_transferee != NONE:
        if r.lead_transferee == transferee:
            return
        r.lead_transferee = NONE
    if transferee == r.id or r.role != Role.LEADER:
        return
    # The transfer must finish within an election timeout (see Raft._tick_heartbeat).
    r.election_elapsed = 0
    r.lead_transferee = transferee
    if pr.match == r.log.last_index():
        r.reply(transferee, MT.TIMEOUT_NOW)
    else:
        send_append(r, transferee)
