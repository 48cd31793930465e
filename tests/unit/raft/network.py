"""An in-memory cluster of ``RawNode``s for tests: a correct driver per member and a faulty network between.

Each ``Member`` has a ``MemoryStorage`` that plays its disk: whatever the driver wrote there survives a
crash, nothing else does. The driver follows the ``Ready`` contract: persist (snapshot, entries, hard
state) → send → apply → ``advance``; it may take a Ready and handle it only later, with other messages
stepped in between (as a driver whose fsync runs elsewhere), and may send a leader's replication messages
before persisting (``early_replication``, as the project's asyncio driver does). The network can drop,
delay, duplicate and reorder messages, cut single links, isolate members, partition and heal, and crash
and restart members (at any point, including between a Ready's persist and its sends).

Two ways to run it:

- ``stabilize()`` delivers everything in FIFO order until nothing moves: deterministic, for scenario tests.
- ``run_round(rng)`` interleaves Ready handling and deliveries at random, for the randomised simulation.

An optional ``Observer`` is told about every write, apply, restore and event, to check invariants.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.etcd.raft.config import Config, ReadState, Role
from services.etcd.raft.core import Raft
from services.etcd.raft.node import RawNode, Ready
from services.etcd.raft.storage import MemoryStorage
from services.etcd.raft.types import Entry, EntryType, HardState, Message, MessageType, Snapshot

MT = MessageType
LEADER_REPLICATION = frozenset({MT.APP, MT.HEARTBEAT, MT.SNAP})


# --- helpers for tests that drive a bare Raft core --------------------------------------------------------


def new_raft(
    id: str,
    voters: Iterable[str] = ("1", "2", "3"),
    *,
    storage: MemoryStorage | None = None,
    seed: int = 0,
    **overrides: Any,
) -> Raft:
    """A core with the paper's plain behaviour (no PreVote, no CheckQuorum) unless overridden."""
    settings: dict[str, Any] = {
        "pre_vote": False,
        "check_quorum": False,
        "election_tick": 10,
        "heartbeat_tick": 1,
    }
    settings.update(overrides)
    if storage is None:
        storage = MemoryStorage(tuple(voters))
    return Raft(Config(id=id, storage=storage, rng=random.Random(f"{seed}:{id}"), **settings))


def read_messages(r: Raft) -> list[Message]:
    """Outgoing messages of a bare core, after counting its own acks as if everything were persisted."""
    while r.msgs_after_append:
        own, r.msgs_after_append = r.msgs_after_append, []
        for m in own:
            r.step(m)
    out, r.msgs = r.msgs, []
    return out


def storage_with(voters: Iterable[str], terms: Iterable[int], hard_state_term: int = 0) -> MemoryStorage:
    """A storage whose log holds one entry per term in ``terms`` (indexes 1, 2, ...)."""
    storage = MemoryStorage(tuple(voters))
    storage.append([Entry(term=t, index=i) for i, t in enumerate(terms, start=1)])
    if hard_state_term:
        storage.set_hard_state(HardState(term=hard_state_term))
    return storage


# --- the application state machine of the test cluster ----------------------------------------------------


@dataclass
class AppliedState:
    """What a member applied: the proposals' data, and a hash chain over every applied entry."""

    index: int = 0
    digest: str = ""
    data: list[bytes] = field(default_factory=list)

    def apply(self, entry: Entry) -> None:
        if entry.index != self.index + 1:
            raise AssertionError(f"applied entry {entry.index} after {self.index}")
        chain = f"{self.digest}|{entry.index}:{entry.term}:{entry.type}:{entry.data.hex()}"
        self.digest = hashlib.sha256(chain.encode()).hexdigest()
        self.index = entry.index
        if entry.type == EntryType.NORMAL and entry.data:
            self.data.append(entry.data)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"index": self.index, "digest": self.digest, "data": [d.hex() for d in self.data]}
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> AppliedState:
        if not raw:
            return cls()
        obj = json.loads(raw)
        return cls(index=obj["index"], digest=obj["digest"], data=[bytes.fromhex(d) for d in obj["data"]])


class Observer(Protocol):
    def on_persist(self, member: Member, rd: Ready) -> None: ...
    def on_apply(self, member: Member, entry: Entry) -> None: ...
    def on_restore(self, member: Member, snapshot: Snapshot) -> None: ...
    def after_event(self, net: Network) -> None: ...


@dataclass
class Member:
    id: str
    storage: MemoryStorage
    config: dict[str, Any]
    node: RawNode | None = None
    state: AppliedState = field(default_factory=AppliedState)
    read_states: list[ReadState] = field(default_factory=list)
    incarnation: int = 0
    pending: Ready | None = None
    """A Ready taken but not yet handled (see ``Network.take_ready``)."""

    @property
    def alive(self) -> bool:
        return self.node is not None

    def start(self, seed: int) -> None:
        self.incarnation += 1
        snapshot = self.storage.snapshot()
        # The state machine is volatile: rebuild it from the snapshot, then re-apply committed entries.
        self.state = AppliedState.from_bytes(snapshot.data)
        self.state.index = snapshot.metadata.index
        rng = random.Random(f"{seed}:{self.id}:{self.incarnation}")
        config = Config(id=self.id, storage=self.storage, rng=rng, applied=self.state.index, **self.config)
        self.node = RawNode(config)


@dataclass(order=True)
class Envelope:
    deliver_at: int
    seq: int
    msg: Message = field(compare=False)


class Network:
    def __init__(
        self,
        ids: Iterable[str] = ("a", "b", "c"),
        *,
        seed: int = 0,
        observer: Observer | None = None,
        storages: dict[str, MemoryStorage] | None = None,
        **config: Any,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(f"network:{seed}")
        ids = tuple(ids)
        settings: dict[str, Any] = {"election_tick": 10, "heartbeat_tick": 1}
        settings.update(config)
        storages = storages or {}
        self.members = {
            i: Member(id=i, storage=storages.get(i) or MemoryStorage(ids), config=settings) for i in ids
        }
        for member in self.members.values():
            member.start(seed)
        self.time = 0
        self.queue: list[Envelope] = []
        self._seq = 0
        self.blocked: set[tuple[str, str]] = set()
        self.filters: list[Callable[[Message], bool]] = []
        """Each returns False to drop a message (applied when it is sent)."""
        self.drop_rate = 0.0
        self.dup_rate = 0.0
        self.max_delay = 0
        self.early_replication = False
        """Send a leader's APP/HEARTBEAT/SNAP before persisting the Ready (the etcd optimisation)."""
        self.sent: list[Message] = []
        self.observer = observer

    # --- access ------------------------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        return list(self.members)

    def node(self, id: str) -> RawNode:
        node = self.members[id].node
        if node is None:
            raise LookupError(f"{id} is down")
        return node

    def raft(self, id: str) -> Raft:
        return self.node(id).raft

    def live(self) -> list[str]:
        return [i for i, m in self.members.items() if m.alive]

    def leaders(self) -> list[str]:
        return [i for i in self.live() if self.raft(i).role == Role.LEADER]

    def leader(self) -> str | None:
        """The live leader of the highest term, if any."""
        leaders = sorted(self.leaders(), key=lambda i: self.raft(i).term)
        return leaders[-1] if leaders else None

    def applied(self, id: str) -> list[bytes]:
        return self.members[id].state.data

    # --- the driver -------------------------------------------------------------------------------------

    def process_ready(self, id: str, *, crash_after_persist: bool = False) -> bool:
        """Handle one Ready of ``id`` (the one in hand, if any) start to finish; False if it had none."""
        if self.members[id].pending is None and not self.take_ready(id):
            return False
        self.finish_ready(id, crash_after_persist=crash_after_persist)
        return True

    def take_ready(self, id: str) -> bool:
        """Take ``id``'s Ready without handling it yet, as a driver whose fsync runs elsewhere would.

        Until ``finish_ready``, the member keeps receiving messages; what they produce goes to its next
        Ready. A crash in between loses this one entirely.
        """
        member = self.members[id]
        node = member.node
        if node is None or member.pending is not None or not node.has_ready():
            return False
        member.pending = node.ready()
        return True

    def finish_ready(
        self, id: str, *, crash_after_persist: bool = False, crash_before_persist: bool = False
    ) -> None:
        """Persist → send → apply → advance the Ready in hand, optionally crashing before or after persisting
        (before only matters with ``early_replication``, when some messages have already left)."""
        member = self.members[id]
        node, rd = member.node, member.pending
        if node is None or rd is None:
            raise AssertionError(f"{id} has no Ready in hand")
        member.pending = None
        storage = member.storage
        messages = list(rd.messages)
        if self.early_replication:
            # A leader's appends, heartbeats and snapshots may leave before its own persist: it counts
            # itself toward a quorum only after advance(). Everything else promises durable state.
            early = [m for m in messages if m.type in LEADER_REPLICATION]
            messages = [m for m in messages if m.type not in LEADER_REPLICATION]
            for m in early:
                self.send(m)
            if crash_before_persist:
                self.crash(id)
                return
        # 1. Persist. MemoryStorage writes are durable at once, which is what fsync guarantees.
        if rd.snapshot is not None:
            storage.apply_snapshot(rd.snapshot)
        storage.append(rd.entries)
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)
        if self.observer is not None:
            self.observer.on_persist(member, rd)
        if crash_after_persist:
            self.crash(id)
            return
        # 2. Send.
        for m in messages:
            self.send(m)
        # 3. Apply.
        if rd.snapshot is not None:
            member.state = AppliedState.from_bytes(rd.snapshot.data)
            member.state.index = rd.snapshot.metadata.index
            if self.observer is not None:
                self.observer.on_restore(member, rd.snapshot)
        for entry in rd.committed_entries:
            member.state.apply(entry)
            if self.observer is not None:
                self.observer.on_apply(member, entry)
        member.read_states.extend(rd.read_states)
        # 4. Advance.
        node.advance(rd)
        self._after_event()

    def send(self, m: Message) -> None:
        self.sent.append(m)
        if not self._passes(m) or (self.drop_rate and self.rng.random() < self.drop_rate):
            self._report_snapshot(m, ok=False)
            return
        copies = 2 if self.dup_rate and self.rng.random() < self.dup_rate else 1
        for _ in range(copies):
            delay = self.rng.randint(0, self.max_delay) if self.max_delay else 0
            self._seq += 1
            self.queue.append(Envelope(self.time + delay, self._seq, m))

    def _passes(self, m: Message) -> bool:
        return (m.frm, m.to) not in self.blocked and all(f(m) for f in self.filters)

    def _report_snapshot(self, m: Message, *, ok: bool) -> None:
        # The transport tells the sender's driver how a snapshot send ended, as a real one would.
        if m.type == MT.SNAP and self.members[m.frm].alive:
            self.node(m.frm).report_snapshot(m.to, ok)

    def deliver(self, envelope: Envelope) -> None:
        m = envelope.msg
        target = self.members[m.to]
        if target.node is None or (m.frm, m.to) in self.blocked:
            self._report_snapshot(m, ok=False)
            return
        target.node.step(m)
        self._report_snapshot(m, ok=True)
        self._after_event()

    def _after_event(self) -> None:
        if self.observer is not None:
            self.observer.after_event(self)

    def due(self) -> list[Envelope]:
        return [e for e in self.queue if e.deliver_at <= self.time]

    # --- scheduling -------------------------------------------------------------------------------------

    def stabilize(self, limit: int = 100_000) -> None:
        """Process Readies and deliver due messages, in order, until nothing is left to do."""
        for _ in range(limit):
            moved = False
            for id in self.live():
                while self.process_ready(id):
                    moved = True
            due = self.due()
            if due:
                moved = True
                taken = {e.seq for e in due}
                self.queue = [e for e in self.queue if e.seq not in taken]
                for envelope in sorted(due):
                    self.deliver(envelope)
            if not moved:
                return
        raise AssertionError("network did not stabilize")

    def run_round(
        self,
        rng: random.Random,
        *,
        crash_rate: float = 0.0,
        leader_crash_rate: float = 0.0,
        limit: int = 2_000,
    ) -> list[str]:
        """Interleave Ready handling and due deliveries at random until both run dry (one tick's worth).

        With ``crash_rate``, each action may instead crash a random live member: at that moment it may hold
        unpersisted entries or votes, or (half of these crashes) it dies right after persisting a Ready,
        before sending or applying it. ``leader_crash_rate`` is the chance that a leader dies right after
        persisting new entries of its own (before anyone else got them) or a new commit index (before
        telling anyone): the leader crashes of Figure 8.
        Returns the members crashed.
        """
        crashed: list[str] = []
        for _ in range(limit):
            live = self.live()
            ready = [i for i in live if self.members[i].pending is not None or self.node(i).has_ready()]
            due_at = [k for k, e in enumerate(self.queue) if e.deliver_at <= self.time]
            if not ready and not due_at:
                break
            if crash_rate and ready and rng.random() < crash_rate:
                victim = rng.choice(live)
                if rng.random() < 0.5:
                    victim = rng.choice(ready)
                    self.take_ready(victim)
                    before = rng.random() < 0.5
                    self.finish_ready(victim, crash_after_persist=not before, crash_before_persist=before)
                else:
                    self.crash(victim)
                crashed.append(victim)
            elif ready and (not due_at or rng.random() < 0.5):
                id = rng.choice(ready)
                member = self.members[id]
                if member.pending is None:
                    self.take_ready(id)
                    if rng.random() < 0.7:
                        continue  # handled in a later action, with other events in between
                raft = self.raft(id)
                fresh = bool(member.pending and member.pending.entries) or (
                    raft.log.committed > member.storage.hard_state.commit
                )
                doomed = (
                    leader_crash_rate > 0
                    and raft.role == Role.LEADER
                    and fresh
                    and rng.random() < leader_crash_rate
                )
                before = doomed and rng.random() < 0.5
                self.finish_ready(id, crash_after_persist=doomed and not before, crash_before_persist=before)
                if doomed:
                    crashed.append(id)
            else:
                self.deliver(self.queue.pop(rng.choice(due_at)))
        return crashed

    def tick(self, n: int = 1, *, ids: Iterable[str] | None = None, stabilize: bool = True) -> None:
        """Advance time ``n`` ticks on every live member (or on ``ids``), stabilizing after each."""
        for _ in range(n):
            self.time += 1
            for id in list(ids) if ids is not None else self.live():
                if self.members[id].alive:
                    self.node(id).tick()
            self._after_event()
            if stabilize:
                self.stabilize()

    def elect(self, id: str) -> None:
        """Make ``id`` campaign and run the election to completion; it must win."""
        self.node(id).campaign()
        self.stabilize()
        if self.raft(id).role != Role.LEADER:
            raise AssertionError(f"{id} did not win: {self.raft(id)!r}")

    def propose(self, id: str, data: bytes) -> None:
        self.node(id).propose(data)
        self.stabilize()

    # --- faults -----------------------------------------------------------------------------------------

    def cut(self, a: str, b: str) -> None:
        self.blocked |= {(a, b), (b, a)}

    def isolate(self, id: str) -> None:
        for other in self.members:
            if other != id:
                self.cut(id, other)

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every link between members of different groups; a member in no group is isolated."""
        side = {m: str(k) for k, group in enumerate(groups) for m in group}
        for a in self.members:
            for b in self.members:
                if a != b and side.get(a, f"alone:{a}") != side.get(b, f"alone:{b}"):
                    self.blocked.add((a, b))

    def heal(self) -> None:
        self.blocked.clear()
        self.filters.clear()

    def crash(self, id: str) -> None:
        """Stop ``id``: its memory (unpersisted entries, votes, queued messages, applied state) is lost."""
        member = self.members[id]
        member.node = None
        member.pending = None

    def restart(self, id: str) -> None:
        """Start ``id`` again from what its storage holds."""
        member = self.members[id]
        if member.alive:
            raise AssertionError(f"{id} is running")
        member.start(self.seed)
        self._after_event()

    def compact(self, id: str, *, keep: int = 0) -> Snapshot | None:
        """Snapshot ``id``'s applied state and discard its log up to ``keep`` entries behind it.

        Returns None when there is nothing newer than the current snapshot to take.
        """
        member = self.members[id]
        index = member.state.index
        if index <= member.storage.snapshot().metadata.index:
            return None
        snapshot = member.storage.create_snapshot(index, member.state.to_bytes())
        if index - keep > member.storage.first_index() - 1:
            member.storage.compact(index - keep)
        return snapshot


def count(messages: Iterable[Message], type: MessageType, *, to: str | None = None) -> int:
    return sum(1 for m in messages if m.type == type and (to is None or m.to == to))
