"""``RawNode``: the driver-facing wrapper around the Raft core, batching its outputs into ``Ready`` values.

The driver loop (single-threaded with respect to the node) is::

    while running:
        feed node.tick() on a timer, node.step(msg) per received message, node.propose(...), ...
        if node.has_ready():
            rd = node.ready()
            # 1. persist, in this order, and fsync if rd.must_sync:
            #      rd.snapshot (storage.apply_snapshot), rd.entries (storage.append), rd.hard_state
            # 2. send rd.messages (only now: they may promise what step 1 made durable)
            # 3. apply: restore the state machine from rd.snapshot if any, then rd.committed_entries in
            #    order; serve rd.read_states once the applied index reaches theirs
            # 4. node.advance(rd)

One reordering is allowed: a leader's APP, HEARTBEAT and SNAP messages may be sent before (or while) step 1
runs, since the leader counts its own entries toward commitment only once ``advance`` reports them durable
(etcd's "the leader can write to its disk in parallel with replicating"). Every other message — votes,
append responses — promises durable state and must wait for step 1.

``step``/``tick``/``propose`` may be called between ``ready()`` and ``advance()`` (e.g. while an fsync runs
elsewhere); what they produce goes into the next ``Ready``. ``ready()`` may not be called again before
``advance()``. Ready values must be persisted in the order they were taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.etcd.raft.config import Config, ReadState, Role, SoftState
from services.etcd.raft.core import Raft
from services.etcd.raft.progress import ProgressState
from services.etcd.raft.types import (
    LOCAL_MESSAGES,
    NONE,
    Entry,
    HardState,
    Message,
    MessageType,
    Snapshot,
)

MT = MessageType


@dataclass(frozen=True, slots=True)
class Ready:
    """One batch of work for the driver; see the module docstring for the order to do it in."""

    soft_state: SoftState | None = None
    """Leader and role, if they changed since the previous Ready. Never persisted."""
    hard_state: HardState | None = None
    """Term, vote and commit index to persist, if they changed."""
    entries: tuple[Entry, ...] = ()
    """Entries to append to stable storage (replacing any stored suffix from ``entries[0].index``)."""
    snapshot: Snapshot | None = None
    """A snapshot received from the leader, to persist (before ``entries``) and to restore."""
    messages: tuple[Message, ...] = ()
    """Messages to send, only after the entries, snapshot and hard state above are durable."""
    committed_entries: tuple[Entry, ...] = ()
    """Entries to apply to the state machine, in order (some may be in ``entries`` of this same Ready)."""
    read_states: tuple[ReadState, ...] = ()
    """Confirmed read indexes, with the context passed to ``read_index``."""
    must_sync: bool = False
    """Whether the writes above must be fsync'd before sending: new entries, a new term or vote, or a
    snapshot. A commit-index-only change may be written lazily (it is recoverable from the leader)."""


@dataclass(frozen=True, slots=True)
class PeerProgress:
    match: int
    next: int
    state: ProgressState
    recent_active: bool


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    term: int
    vote: str
    commit: int
    applied: int
    last_index: int
    lead: str
    role: Role
    lead_transferee: str = NONE
    progress: dict[str, PeerProgress] = field(default_factory=dict)
    """Per-voter replication progress; filled only on the leader."""


class RawNode:
    def __init__(self, config: Config) -> None:
        self._raft = Raft(config)
        self._prev_soft = self._raft.soft_state()
        self._prev_hard = self._raft.hard_state()
        self._outstanding: Ready | None = None
        self._steps_on_advance: list[Message] = []

    @property
    def raft(self) -> Raft:
        """The core, for status and tests; drive it only through this wrapper."""
        return self._raft

    @property
    def id(self) -> str:
        return self._raft.id

    # --- inputs -------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance logical time by one tick (elections, heartbeats, CheckQuorum, transfer timeouts)."""
        self._raft.tick()

    def campaign(self) -> None:
        """Start an election now (a pre-vote first if enabled), instead of waiting for the timeout."""
        self._raft.step(Message(type=MT.HUP, frm=self.id))

    def propose(self, data: bytes) -> None:
        """Propose ``data`` for the log. Raises ``ProposalDroppedError`` (with the known leader) if refused.

        Acceptance is not commitment: the entry may still be lost with a leader change. The driver learns
        the outcome by seeing its entry among committed entries (or not, and timing out).
        """
        self._raft.step(Message(type=MT.PROP, entries=(Entry(term=0, index=0, data=data),)))

    def step(self, message: Message) -> None:
        """Feed a message received from a peer. Local-only message types are refused."""
        if message.type in LOCAL_MESSAGES:
            raise ValueError(f"{message.type} is local and cannot arrive from the network")
        if message.frm == NONE:
            raise ValueError("a network message needs a sender")
        if message.to != self.id:
            raise ValueError(f"message for {message.to!r} delivered to {self.id!r}")
        self._raft.step(message)

    def read_index(self, context: bytes) -> None:
        """Request a linearizable read point; it comes back in a ``Ready``'s ``read_states`` with ``context``.

        Raises ``ReadIndexDroppedError`` if no leader is known. A request may also be lost silently (leader
        change, dropped message), so the driver needs a timeout.
        """
        self._raft.step(Message(type=MT.READ_INDEX, context=context))

    def transfer_leadership(self, to: str) -> None:
        """Ask the leader (this member or, via forwarding, another) to hand leadership to ``to``."""
        self._raft.step(Message(type=MT.TRANSFER_LEADER, frm=to))

    def report_unreachable(self, member: str) -> None:
        """Tell the leader a message to ``member`` could not be sent."""
        self._raft.step(Message(type=MT.UNREACHABLE, frm=member))

    def report_snapshot(self, member: str, ok: bool) -> None:
        """Tell the leader whether the snapshot it sent to ``member`` was delivered.

        The leader stops replicating to ``member`` while a snapshot is in flight, so the driver must report
        every snapshot message it was handed, one way or the other.
        """
        self._raft.step(Message(type=MT.SNAP_STATUS, frm=member, reject=not ok))

    # --- outputs ------------------------------------------------------------------------------------------

    def has_ready(self) -> bool:
        r = self._raft
        return bool(
            r.msgs
            or r.msgs_after_append
            or r.read_states
            or r.log.has_next_unstable_entries()
            or r.log.has_next_committed_entries()
            or r.log.next_unstable_snapshot() is not None
            or r.soft_state() != self._prev_soft
            or r.hard_state() != self._prev_hard
        )

    def ready(self) -> Ready:
        """Take the pending work. The caller owns it until it passes it back to ``advance``."""
        if self._outstanding is not None:
            raise RuntimeError("ready() called again before advance() of the previous Ready")
        r = self._raft
        soft, hard = r.soft_state(), r.hard_state()
        entries = tuple(r.log.next_unstable_entries())
        snapshot = r.log.next_unstable_snapshot()
        committed = tuple(r.log.next_committed_entries())
        hard_changed = hard != self._prev_hard
        rd = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=hard if hard_changed else None,
            entries=entries,
            snapshot=snapshot,
            messages=tuple(r.msgs),
            committed_entries=committed,
            read_states=tuple(r.read_states),
            must_sync=bool(entries)
            or snapshot is not None
            or (hard_changed and (hard.term != self._prev_hard.term or hard.vote != self._prev_hard.vote)),
        )
        # Accept: from here on the driver holds these, and the core must not hand them out again.
        self._prev_soft, self._prev_hard = soft, hard
        self._steps_on_advance = r.msgs_after_append
        r.msgs, r.msgs_after_append, r.read_states = [], [], []
        r.log.accept_unstable()
        if committed:
            r.log.accept_applying(committed[-1].index)
        self._outstanding = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """Report that ``rd`` was fully handled: persisted, sent, applied."""
        if rd is not self._outstanding:
            raise RuntimeError("advance() must be given the Ready returned by the last ready()")
        self._outstanding = None
        r = self._raft
        if rd.entries:
            last = rd.entries[-1]
            r.log.stable_to(last.index, last.term)
        if rd.snapshot is not None:
            r.log.stable_snap_to(rd.snapshot.metadata.index)
            r.log.applied_to(rd.snapshot.metadata.index)
        if rd.committed_entries:
            r.log.applied_to(max(r.log.applied, rd.committed_entries[-1].index))
        # Our own vote and appends are durable now: count them.
        steps, self._steps_on_advance = self._steps_on_advance, []
        for m in steps:
            r.step(m)

    def status(self) -> Status:
        r = self._raft
        progress: dict[str, PeerProgress] = {}
        if r.role == Role.LEADER:
            progress = {
                member: PeerProgress(
                    match=pr.match, next=pr.next, state=pr.state, recent_active=pr.recent_active
                )
                for member, pr in r.tracker.progress.items()
            }
        return Status(
            id=r.id,
            term=r.term,
            vote=r.vote,
            commit=r.log.committed,
            applied=r.log.applied,
            last_index=r.log.last_index(),
            lead=r.lead,
            role=r.role,
            lead_transferee=r.lead_transferee,
            progress=progress,
        )
