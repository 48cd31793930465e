"""A follower's handling of what its leader sends: appends, heartbeats (with commit index) and snapshots.

Functions here take the ``Raft`` they act for and are called by its follower step function. Every answer
is an APP_RESP or HEARTBEAT_RESP that leaves only with the ``Ready`` persisting what it acknowledges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.etcd.raft.config import Role
from services.etcd.raft.progress import ProgressTracker
from services.etcd.raft.types import NONE, Message, MessageType, Snapshot

if TYPE_CHECKING:
    from services.etcd.raft.core import Raft

MT = MessageType


def handle_append_entries(r: Raft, m: Message) -> None:
    if m.index < r.log.committed:
        # Everything up to our commit index already matches the leader: say where we are.
        r.reply(m.frm, MT.APP_RESP, index=r.log.committed)
        return
    last_new = r.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
    if last_new is not None:
        r.reply(m.frm, MT.APP_RESP, index=last_new)
        return
    # Reject, with a hint: the largest (index, term) in our log that could still match the leader's,
    # i.e. with term <= the term the leader has at m.index (see RaftLog.find_conflict_by_term).
    hint_index, hint_term = r.log.find_conflict_by_term(min(m.index, r.log.last_index()), m.log_term)
    r.reply(m.frm, MT.APP_RESP, index=m.index, reject=True, reject_hint=hint_index, log_term=hint_term)


def handle_heartbeat(r: Raft, m: Message) -> None:
    # The leader sends min(our match, its commit), so this never points past what we hold.
    r.log.commit_to(m.commit)
    r.reply(m.frm, MT.HEARTBEAT_RESP, context=m.context)


def handle_snapshot(r: Raft, m: Message) -> None:
    snapshot = m.snapshot if m.snapshot is not None else Snapshot()
    if restore(r, snapshot):
        r.reply(m.frm, MT.APP_RESP, index=r.log.last_index())
    else:
        r.reply(m.frm, MT.APP_RESP, index=r.log.committed)


def restore(r: Raft, snapshot: Snapshot) -> bool:
    """Replace our log with ``snapshot`` if it is news to us; False if ignored."""
    meta = snapshot.metadata
    if meta.index <= r.log.committed:
        return False
    if r.role != Role.FOLLOWER:
        # Only followers receive snapshots; anything else is a bug. Step into a new term to be safe.
        r.become_follower(r.term + 1, NONE)
        return False
    voters = meta.voters or r.tracker.voters
    if r.id not in voters:
        return False
    if r.log.match_term(meta.index, meta.term):
        # We already hold the entry the snapshot ends at, hence all before it: just commit up to it.
        r.log.commit_to(meta.index)
        return False
    r.log.restore(snapshot)
    r.tracker = ProgressTracker(voters, r.config.max_inflight_msgs)
    r.tracker.reset(r.log.last_index(), r.id)
    return True
