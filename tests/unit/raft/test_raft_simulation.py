"""Randomised simulation of 3- and 5-member Raft clusters under message and member faults.

Each seed runs a cluster through a chaotic phase (messages dropped, delayed, duplicated and reordered;
partitions and heals; crashes, including right after a persist, and restarts that lose everything not yet
persisted; log compaction; leadership transfers; reads) and then a calm phase. Safety is checked after
every single event; liveness (a leader, and a new proposal committed) within a bound after healing.

Replay one seed:   RAFT_SIM_SEED=123 .venv/bin/pytest tests/unit/raft/test_raft_simulation.py
Run more seeds:    RAFT_SIM_SEEDS=5000 .venv/bin/pytest tests/unit/raft/test_raft_simulation.py
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import pytest

from services.etcd.raft.config import RequestDroppedError, Role
from services.etcd.raft.node import Ready
from services.etcd.raft.storage import StorageError
from services.etcd.raft.types import Entry, EntryType, Snapshot
from tests.unit.raft.network import Member, Network

DEFAULT_SEEDS = 500
ELECTION_TICK = 6
CHAOS_TICKS = 200
LIVENESS_TICKS = 30 * ELECTION_TICK
"""After healing: time for a leader to emerge and a proposal to commit. Elections take one or two
randomised timeouts ([6, 12) ticks here); the bound leaves room for several split votes."""


class InvariantViolation(AssertionError):
    pass


class Checker:
    """Raft's safety properties (§5.2–5.4), checked incrementally as the network reports events."""

    def __init__(self) -> None:
        self.leader_of_term: dict[int, str] = {}
        self.entry_at: dict[tuple[int, int], tuple[bytes, EntryType, int]] = {}
        """(index, term) -> (data, type, previous term) of every entry ever persisted anywhere."""
        self.digest_at: dict[int, str] = {}
        """index -> hash chain of the applied state after applying that index."""
        self.committed: dict[int, tuple[int, int]] = {}
        """index -> (entry term, term of the leader that committed it)."""
        self._commit_recorded: dict[tuple[str, int], int] = {}
        self._leaders_checked: set[tuple[str, int]] = set()
        self.events = 0

    # Log Matching: an (index, term) pair identifies one entry *and* its predecessor's term, so two logs
    # sharing a pair agree on it and, by induction on the predecessor, on everything before it.
    def on_persist(self, member: Member, rd: Ready) -> None:
        if not rd.entries:
            return
        first = member.storage.first_index()
        entries = [e for e in rd.entries if e.index >= first]
        if not entries:
            return
        prev_term = member.storage.term(entries[0].index - 1)
        for e in entries:
            seen = self.entry_at.setdefault((e.index, e.term), (e.data, e.type, prev_term))
            if seen != (e.data, e.type, prev_term):
                raise InvariantViolation(
                    f"log matching: {member.id} persisted {e} after term {prev_term}, "
                    f"but ({e.index}, {e.term}) was {seen}"
                )
            prev_term = e.term

    # State Machine Safety: no two members apply different entries at one index.
    def on_apply(self, member: Member, entry: Entry) -> None:
        self._check_digest(member, entry.index)

    def on_restore(self, member: Member, snapshot: Snapshot) -> None:
        self._check_digest(member, snapshot.metadata.index)

    def _check_digest(self, member: Member, index: int) -> None:
        seen = self.digest_at.setdefault(index, member.state.digest)
        if seen != member.state.digest:
            raise InvariantViolation(
                f"state machine safety: {member.id} applied a different history at {index}"
            )

    def after_event(self, net: Network) -> None:
        self.events += 1
        for id in net.live():
            r = net.raft(id)
            if r.role != Role.LEADER:
                continue
            # Election Safety: at most one leader per term.
            holder = self.leader_of_term.setdefault(r.term, id)
            if holder != id:
                raise InvariantViolation(f"election safety: {holder} and {id} both led term {r.term}")
            if (id, r.term) not in self._leaders_checked:
                self._leaders_checked.add((id, r.term))
                for index, (term, commit_term) in self.committed.items():
                    if commit_term < r.term:
                        self._check_has(net, id, index, term, commit_term)
            self._record_commits(net, id)

    def _record_commits(self, net: Network, leader: str) -> None:
        r = net.raft(leader)
        key = (leader, r.term)
        start = max(self._commit_recorded.get(key, 0) + 1, r.log.first_index())
        for index in range(start, r.log.committed + 1):
            term = r.log.term(index)
            recorded = self.committed.setdefault(index, (term, r.term))
            if recorded[0] != term:
                raise InvariantViolation(
                    f"{leader} (term {r.term}) committed term {term} at {index}, "
                    f"but term {recorded[0]} was committed there in term {recorded[1]}"
                )
            # Leader Completeness, for leaders elected before this commit became known to us.
            for other in net.leaders():
                if net.raft(other).term > recorded[1]:
                    self._check_has(net, other, index, recorded[0], recorded[1])
        self._commit_recorded[key] = max(self._commit_recorded.get(key, 0), r.log.committed)

    @staticmethod
    def _check_has(net: Network, leader: str, index: int, term: int, commit_term: int) -> None:
        r = net.raft(leader)
        try:
            ours = r.log.term(index)
        except StorageError:
            if index < r.log.first_index():
                return  # compacted into a snapshot: its contents are checked by the applied digests
            ours = 0
        if ours != term:
            raise InvariantViolation(
                f"leader completeness: {leader} leads term {r.term} without the entry ({index}, {term}) "
                f"committed in term {commit_term} (it has term {ours} there)"
            )


def check_logs_match(net: Network) -> None:
    """Direct pairwise Log Matching over the whole logs of the live members."""
    logs = {}
    for id in net.live():
        log = net.raft(id).log
        logs[id] = {e.index: e for e in log.all_entries()}
    ids = sorted(logs)
    for k, a in enumerate(ids):
        for b in ids[k + 1 :]:
            common = sorted(set(logs[a]) & set(logs[b]), reverse=True)
            matched = next((i for i in common if logs[a][i].term == logs[b][i].term), None)
            if matched is None:
                continue
            for i in common:
                if i <= matched and logs[a][i] != logs[b][i]:
                    raise InvariantViolation(
                        f"log matching: {a} and {b} agree at {matched} but differ at {i}"
                    )


@dataclass(frozen=True)
class Scenario:
    seed: int
    size: int
    pre_vote: bool
    check_quorum: bool
    drop_rate: float
    dup_rate: float
    max_delay: int
    crash_rate: float
    leader_crash_rate: float
    early_replication: bool
    max_inflight: int
    max_size_per_msg: int

    @classmethod
    def from_seed(cls, seed: int) -> Scenario:
        rng = random.Random(f"scenario:{seed}")
        return cls(
            seed=seed,
            size=3 if seed % 2 == 0 else 5,
            pre_vote=rng.random() < 0.75,
            check_quorum=rng.random() < 0.75,
            drop_rate=rng.choice([0.0, 0.02, 0.1, 0.25]),
            dup_rate=rng.choice([0.0, 0.05, 0.2]),
            max_delay=rng.choice([0, 1, 3, 6]),
            crash_rate=rng.choice([0.0, 0.003, 0.01]),
            leader_crash_rate=rng.choice([0.0, 0.05, 0.2]),
            early_replication=rng.random() < 0.5,
            max_inflight=rng.choice([1, 2, 8]),
            max_size_per_msg=rng.choice([1, 40, 4096]),  # 1: one entry per append
        )


def run_simulation(scenario: Scenario) -> Network:
    rng = random.Random(f"events:{scenario.seed}")
    checker = Checker()
    ids = [f"m{i}" for i in range(1, scenario.size + 1)]
    net = Network(
        ids,
        seed=scenario.seed,
        observer=checker,
        election_tick=ELECTION_TICK,
        heartbeat_tick=1,
        pre_vote=scenario.pre_vote,
        check_quorum=scenario.check_quorum,
        max_inflight_msgs=scenario.max_inflight,
        max_size_per_msg=scenario.max_size_per_msg,
    )
    net.drop_rate, net.dup_rate, net.max_delay = scenario.drop_rate, scenario.dup_rate, scenario.max_delay
    net.early_replication = scenario.early_replication
    counter = 0

    for _ in range(CHAOS_TICKS):
        roll = rng.random()
        if roll < 0.05:
            members = list(ids)
            rng.shuffle(members)
            cut = rng.randint(1, len(members) - 1)
            net.partition(members[:cut], members[cut:])
        elif roll < 0.10:
            net.heal()
        elif roll < 0.18 and net.live():
            # Leaders crashing mid-replication is what produces divergent logs (Figure 7 and 8).
            leader = net.leader()
            net.crash(leader if leader is not None and rng.random() < 0.5 else rng.choice(net.live()))
        elif roll < 0.21 and net.live():
            net.compact(rng.choice(net.live()), keep=rng.choice([0, 2]))
        elif roll < 0.23 and (leader := net.leader()) is not None:
            net.node(leader).transfer_leadership(rng.choice(ids))
        for id in ids:
            if id not in net.live() and rng.random() < 0.2:
                net.restart(id)
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            if not net.live():
                break
            counter += 1
            with contextlib.suppress(RequestDroppedError):
                net.node(rng.choice(net.live())).propose(f"{scenario.seed}:{counter}".encode())
        if rng.random() < 0.1 and net.live():
            with contextlib.suppress(RequestDroppedError):
                net.node(rng.choice(net.live())).read_index(str(counter).encode())
        net.run_round(rng, crash_rate=scenario.crash_rate, leader_crash_rate=scenario.leader_crash_rate)
        net.time += 1
        for id in net.live():
            net.node(id).tick()
        net.run_round(rng, crash_rate=scenario.crash_rate, leader_crash_rate=scenario.leader_crash_rate)

    # Calm: the network heals, everyone comes back, messages flow again (in-flight ones still arrive).
    net.heal()
    net.drop_rate = net.dup_rate = 0.0
    net.max_delay = 0
    for id in ids:
        if id not in net.live():
            net.restart(id)
    final = f"{scenario.seed}:final".encode()
    proposed_to: tuple[str, int] | None = None
    for elapsed in range(LIVENESS_TICKS):
        net.run_round(rng)
        leader = net.leader()
        if leader is not None:
            if final in net.applied(leader):
                check_logs_match(net)
                return net
            # Propose again on every new leadership: the previous attempt may be lost with the old leader.
            if proposed_to != (leader, net.raft(leader).term):
                proposed_to = (leader, net.raft(leader).term)
                try:
                    net.node(leader).propose(final)
                except RequestDroppedError:
                    proposed_to = None
        net.time += 1
        for id in net.live():
            net.node(id).tick()
        del elapsed
    states = "\n  ".join(repr(net.raft(i)) for i in net.live())
    raise InvariantViolation(
        f"liveness: no proposal committed {LIVENESS_TICKS} ticks after healing:\n  {states}"
    )


def _seeds() -> list[int]:
    if "RAFT_SIM_SEED" in os.environ:
        return [int(os.environ["RAFT_SIM_SEED"])]
    return list(range(int(os.environ.get("RAFT_SIM_SEEDS", DEFAULT_SEEDS))))


@pytest.mark.parametrize("seed", _seeds(), ids=lambda s: f"seed={s}")
def test_cluster_is_safe_under_faults_and_live_after_healing(seed: int) -> None:
    scenario = Scenario.from_seed(seed)
    try:
        run_simulation(scenario)
    except Exception as e:
        pytest.fail(
            f"{type(e).__name__}: {e}\n{scenario}\n"
            f"replay: RAFT_SIM_SEED={seed} .venv/bin/pytest tests/unit/raft/test_raft_simulation.py -x",
            pytrace=True,
        )
