"""The Raft consensus state machine: terms, elections, and the per-role handling of every message.

It is deterministic and does no I/O. Inputs are ``step(message)`` and ``tick()``; outputs accumulate in
``msgs`` (to send after the next persist), ``msgs_after_append`` (addressed to ourselves, stepped back in
only once what they acknowledge is durable: our own vote and our own log appends), ``read_states`` and the
log's unstable/committed entries. ``node.RawNode`` packages these as a ``Ready``.

Roles are step functions swapped on every role change (``_step_follower``, ``_step_candidate``,
``_step_leader``), after the message's term has been reconciled with ours in ``step``. The leader's side of
replication (appends, snapshots, heartbeats, flow control, ReadIndex, transfer) lives in ``replication.py``,
the follower's (accepting appends and snapshots) in ``follower.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from enum import Enum

from services.etcd.raft import follower, replication
from services.etcd.raft.config import (
    Config,
    ProposalDroppedError,
    ReadIndexDroppedError,
    ReadState,
    Role,
    SoftState,
)
from services.etcd.raft.log import LogCorruptionError, RaftLog
from services.etcd.raft.progress import ProgressTracker, VoteResult
from services.etcd.raft.read_only import ReadOnly
from services.etcd.raft.types import NONE, Entry, HardState, Message, MessageType, Snapshot

MT = MessageType

CAMPAIGN_TRANSFER = b"campaign-transfer"
"""Vote-request context marking a leadership transfer: voters honour it even inside a leader lease."""


class _Campaign(Enum):
    PRE_ELECTION = "pre_election"
    ELECTION = "election"
    TRANSFER = "transfer"


StepFn = Callable[["Raft", Message], None]


class Raft:
    def __init__(self, config: Config) -> None:
        self.id = config.id
        self.config = config
        self.log = RaftLog(config.storage, config.max_committed_size_per_ready)
        hard_state, voters = config.storage.initial_state()
        self.tracker = ProgressTracker(voters, config.max_inflight_msgs)
        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.role = Role.FOLLOWER
        self.msgs: list[Message] = []
        self.msgs_after_append: list[Message] = []
        self.read_states: list[ReadState] = []
        self.read_only = ReadOnly()
        self.pending_read_index: list[Message] = []
        """Read requests that arrived before this leader committed an entry of its own term."""
        self.lead_transferee = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = config.election_tick
        self._step: StepFn = _step_follower
        self._tick: Callable[[], None] = self._tick_election
        if not hard_state.is_empty():
            self._load_state(hard_state)
        if config.applied > 0:
            self.log.applied_to(config.applied)
        self.become_follower(self.term, NONE)

    def __repr__(self) -> str:
        return f"Raft({self.id} {self.role} term={self.term} lead={self.lead or '-'} {self.log!r})"

    # --- state snapshots for the driver ------------------------------------------------------------------

    def soft_state(self) -> SoftState:
        return SoftState(lead=self.lead, role=self.role)

    def hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.log.committed)

    def _load_state(self, state: HardState) -> None:
        if state.commit > self.log.last_index():
            raise LogCorruptionError(
                f"hard state commit {state.commit} beyond last index {self.log.last_index()}"
            )
        # A snapshot may be newer than the last synced commit index; it is committed all the same.
        self.log.committed = max(self.log.committed, state.commit)
        self.term = state.term
        self.vote = state.vote

    # --- outputs ------------------------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        # Messages to ourselves acknowledge our own durable writes, so they wait for the persist.
        if message.to == self.id:
            self.msgs_after_append.append(message)
        else:
            self.msgs.append(message)

    def reply(
        self,
        to: str,
        type: MessageType,
        *,
        index: int = 0,
        log_term: int = 0,
        commit: int = 0,
        entries: tuple[Entry, ...] = (),
        snapshot: Snapshot | None = None,
        reject: bool = False,
        reject_hint: int = 0,
        context: bytes = b"",
    ) -> None:
        """Send a message stamped with our id and current term."""
        self.send(
            Message(
                type=type,
                to=to,
                frm=self.id,
                term=self.term,
                log_term=log_term,
                index=index,
                entries=entries,
                commit=commit,
                snapshot=snapshot,
                reject=reject,
                reject_hint=reject_hint,
                context=context,
            )
        )

    def drop(
        self, m: Message, error: type[ProposalDroppedError | ReadIndexDroppedError], reason: str
    ) -> None:
        """Refuse a request: raise to a local caller; a forwarded one is dropped and its sender times out.

        Local requests have no sender; forwarding stamps the forwarder's id (which may come back to us).
        """
        if m.frm == NONE:
            raise error(reason, self.lead)

    # --- role transitions ---------------------------------------------------------------------------------

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self.config.election_tick + self.config.random.randrange(
            self.config.election_tick
        )
        self.lead_transferee = NONE
        self.tracker.reset(self.log.last_index(), self.id)
        # Pending reads are abandoned: their callers time out and retry against the new leader.
        self.read_only = ReadOnly(self.read_only.next_key)
        self.pending_read_index = []

    def become_follower(self, term: int, lead: str) -> None:
        self._reset(term)
        self._step = _step_follower
        self._tick = self._tick_election
        self.lead = lead
        self.role = Role.FOLLOWER

    def become_pre_candidate(self) -> None:
        if self.role == Role.LEADER:
            raise AssertionError("invalid transition leader -> pre-candidate")
        # A pre-candidate changes neither term nor vote: it only asks whether it could win.
        self._step = _step_candidate
        self._tick = self._tick_election
        self.tracker.votes = {}
        self.lead = NONE
        self.role = Role.PRE_CANDIDATE

    def become_candidate(self) -> None:
        if self.role == Role.LEADER:
            raise AssertionError("invalid transition leader -> candidate")
        self._reset(self.term + 1)
        self._step = _step_candidate
        self._tick = self._tick_election
        self.vote = self.id
        self.role = Role.CANDIDATE

    def become_leader(self) -> None:
        if self.role == Role.FOLLOWER:
            raise AssertionError("invalid transition follower -> leader")
        self._reset(self.term)
        self._step = _step_leader
        self._tick = self._tick_heartbeat
        self.lead = self.id
        self.role = Role.LEADER
        own = self.tracker.progress[self.id]
        own.become_replicate()
        own.recent_active = True
        # The no-op lets the leader commit an entry of its own term, which is what commits every earlier
        # entry (Figure 8) and what ReadIndex waits for.
        self.append_entries([Entry(term=0, index=0)])

    def promotable(self) -> bool:
        return self.id in self.tracker.progress and not self.log.has_pending_snapshot()

    # --- time ---------------------------------------------------------------------------------------------

    def tick(self) -> None:
        self._tick()

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self.step(Message(type=MT.HUP, frm=self.id))

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.config.election_tick:
            self.election_elapsed = 0
            if self.config.check_quorum:
                self.step(Message(type=MT.CHECK_QUORUM, frm=self.id))
            # A transfer that did not finish within an election timeout is abandoned.
            if self.role == Role.LEADER and self.lead_transferee != NONE:
                self.lead_transferee = NONE
        if self.role != Role.LEADER:
            return
        if self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self.step(Message(type=MT.BEAT, frm=self.id))

    # --- elections ----------------------------------------------------------------------------------------

    def _hup(self, campaign: _Campaign) -> None:
        if self.role == Role.LEADER or not self.promotable():
            return
        self._campaign(campaign)

    def _campaign(self, campaign: _Campaign) -> None:
        if campaign == _Campaign.PRE_ELECTION:
            self.become_pre_candidate()
            request, response = MT.PRE_VOTE, MT.PRE_VOTE_RESP
            term = self.term + 1  # the term we would campaign in; ours does not change yet
        else:
            self.become_candidate()
            request, response = MT.VOTE, MT.VOTE_RESP
            term = self.term
        context = CAMPAIGN_TRANSFER if campaign == _Campaign.TRANSFER else b""
        last_index, last_term = self.log.last_index(), self.log.last_term()
        for voter in self.tracker.voters:
            if voter == self.id:
                # Our own vote counts once it is durable: it comes back through msgs_after_append.
                self.send(Message(type=response, to=self.id, frm=self.id, term=term))
            else:
                self.send(
                    Message(
                        type=request,
                        to=voter,
                        frm=self.id,
                        term=term,
                        index=last_index,
                        log_term=last_term,
                        context=context,
                    )
                )

    def _handle_vote_request(self, m: Message) -> None:
        response = MT.VOTE_RESP if m.type == MT.VOTE else MT.PRE_VOTE_RESP
        can_vote = (
            self.vote == m.frm  # a repeat of the vote we cast
            or (self.vote == NONE and self.lead == NONE)  # not voted, no leader known this term
            or (m.type == MT.PRE_VOTE and m.term > self.term)  # a pre-vote binds us to nothing
        )
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            # Answer with the request's term: for a pre-vote ours is older, and the candidate would
            # discard an answer from an older term.
            self.send(Message(type=response, to=m.frm, frm=self.id, term=m.term))
            if m.type == MT.VOTE:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self.send(Message(type=response, to=m.frm, frm=self.id, term=self.term, reject=True))

    def poll(self, voter: str, granted: bool) -> VoteResult:
        self.tracker.record_vote(voter, granted)
        return self.tracker.tally_votes()[2]

    # --- the entry point ----------------------------------------------------------------------------------

    def step(self, m: Message) -> None:
        """Advance the state machine by one message (local or from a peer)."""
        if m.term > self.term:
            if m.type in (MT.VOTE, MT.PRE_VOTE):
                forced = m.context == CAMPAIGN_TRANSFER
                in_lease = (
                    self.config.check_quorum
                    and self.lead != NONE
                    and self.election_elapsed < self.config.election_tick
                )
                if in_lease and not forced:
                    # We heard from a live leader less than an election timeout ago (§6 of the thesis):
                    # neither adopt the term nor answer, so a partitioned member cannot depose it.
                    return
            if m.type == MT.PRE_VOTE or (m.type == MT.PRE_VOTE_RESP and not m.reject):
                # A pre-vote is for a term nobody is in yet; a granted answer carries that future term.
                pass
            else:
                lead = m.frm if m.type in (MT.APP, MT.HEARTBEAT, MT.SNAP) else NONE
                self.become_follower(m.term, lead)
        elif 0 < m.term < self.term:
            if (self.config.check_quorum or self.config.pre_vote) and m.type in (MT.HEARTBEAT, MT.APP):
                # A leader of an older term: tell it our term so it steps down. With CheckQuorum or
                # PreVote our own higher term may otherwise never reach it (its members ignore our votes).
                self.reply(m.frm, MT.APP_RESP)
            elif m.type == MT.PRE_VOTE:
                # Answer rather than ignore, or a pre-candidate with an old term could wait forever.
                self.reply(m.frm, MT.PRE_VOTE_RESP, reject=True)
            return

        if m.type == MT.HUP:
            self._hup(_Campaign.PRE_ELECTION if self.config.pre_vote else _Campaign.ELECTION)
        elif m.type in (MT.VOTE, MT.PRE_VOTE):
            self._handle_vote_request(m)
        else:
            self._step(self, m)

    # --- leader-only helpers used by several roles --------------------------------------------------------

    def append_entries(self, entries: Sequence[Entry]) -> None:
        """Append proposals to our log at our term and queue our own (post-persist) acknowledgement."""
        last = self.log.last_index()
        stamped = [
            Entry(term=self.term, index=last + 1 + i, data=e.data, type=e.type) for i, e in enumerate(entries)
        ]
        last = self.log.append(stamped)
        self.send(Message(type=MT.APP_RESP, to=self.id, frm=self.id, term=self.term, index=last))

    def committed_entry_in_current_term(self) -> bool:
        return self.log.term_or_zero(self.log.committed) == self.term

    def respond_to_read_index(self, request: Message, index: int) -> None:
        if request.frm in (NONE, self.id):
            self.read_states.append(ReadState(index=index, context=request.context))
        else:
            self.reply(request.frm, MT.READ_INDEX_RESP, index=index, context=request.context)


# --- role step functions: called by Raft.step after the term checks --------------------------------------


def _step_leader(r: Raft, m: Message) -> None:
    replication.step_leader(r, m)


def _step_candidate(r: Raft, m: Message) -> None:
    """Shared by CANDIDATE and PRE_CANDIDATE; each only counts answers to its own kind of request."""
    wanted = MT.PRE_VOTE_RESP if r.role == Role.PRE_CANDIDATE else MT.VOTE_RESP
    if m.type == MT.PROP:
        r.drop(m, ProposalDroppedError, f"no leader at term {r.term}")
    elif m.type == MT.READ_INDEX:
        r.drop(m, ReadIndexDroppedError, f"no leader at term {r.term}")
    elif m.type in (MT.APP, MT.HEARTBEAT, MT.SNAP):
        # A leader of our term exists (m.term == r.term here): follow it.
        r.become_follower(m.term, m.frm)
        _step_follower(r, m)
    elif m.type == wanted:
        result = r.poll(m.frm, not m.reject)
        if result == VoteResult.WON:
            if r.role == Role.PRE_CANDIDATE:
                r._campaign(_Campaign.ELECTION)
            else:
                r.become_leader()
                replication.bcast_append(r)
        elif result == VoteResult.LOST:
            # Rejections from newer terms already made us a follower in step(); these are of our term.
            r.become_follower(r.term, NONE)


def _step_follower(r: Raft, m: Message) -> None:
    if m.type == MT.PROP:
        if r.lead == NONE:
            r.drop(m, ProposalDroppedError, f"no leader at term {r.term}")
        elif r.config.disable_proposal_forwarding:
            r.drop(m, ProposalDroppedError, f"proposal forwarding disabled; leader is {r.lead}")
        else:
            r.send(replace(m, to=r.lead, frm=m.frm or r.id))
    elif m.type in (MT.APP, MT.HEARTBEAT, MT.SNAP):
        r.election_elapsed = 0
        r.lead = m.frm
        if m.type == MT.APP:
            follower.handle_append_entries(r, m)
        elif m.type == MT.HEARTBEAT:
            follower.handle_heartbeat(r, m)
        else:
            follower.handle_snapshot(r, m)
    elif m.type == MT.TRANSFER_LEADER:
        if r.lead != NONE:
            r.send(replace(m, to=r.lead, term=r.term))
    elif m.type == MT.TIMEOUT_NOW:
        # The leader asked us to take over: campaign at once, skipping the pre-vote (no partition to
        # guard against) and overriding the voters' leader lease.
        r._hup(_Campaign.TRANSFER)
    elif m.type == MT.READ_INDEX:
        if r.lead == NONE:
            r.drop(m, ReadIndexDroppedError, f"no leader at term {r.term}")
        else:
            r.send(replace(m, to=r.lead, frm=m.frm or r.id))
    elif m.type == MT.READ_INDEX_RESP:
        r.read_states.append(ReadState(index=m.index, context=m.context))
