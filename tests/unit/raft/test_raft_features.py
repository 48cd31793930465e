"""Behaviour beyond the basic paper: PreVote, CheckQuorum, ReadIndex, snapshots, leadership transfer,
proposal forwarding, flow control and fast log back-tracking; plus the core's freedom from I/O.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from typing import Any

import pytest

from services.etcd.raft.config import ProposalDroppedError, ReadIndexDroppedError, ReadState, Role
from services.etcd.raft.node import RawNode, Ready
from services.etcd.raft.progress import ProgressState
from services.etcd.raft.storage import CompactedError, MemoryStorage, UnavailableError
from services.etcd.raft.types import NONE, Entry, Message, MessageType
from tests.unit.raft.network import Network, count, new_raft, read_messages, storage_with

MT = MessageType
ABC = ("a", "b", "c")


def cluster(**config: Any) -> Network:
    """A three-member cluster with PreVote and CheckQuorum (the defaults), ``a`` elected."""
    net = Network(ABC, **config)
    net.elect("a")
    return net


def sent_since(net: Network, mark: int) -> list[Message]:
    return net.sent[mark:]


# --- PreVote -------------------------------------------------------------------------------------------


def test_prevote_lets_a_partitioned_member_rejoin_without_disrupting_the_leaders_term() -> None:
    net = cluster()
    term = net.raft("a").term
    net.isolate("c")
    net.tick(50)
    assert net.raft("c").term == term, "failed pre-votes must not raise the term"
    assert net.raft("c").role == Role.PRE_CANDIDATE
    net.heal()
    net.tick(5)
    assert (net.leader(), net.raft("a").term) == ("a", term)
    assert (net.raft("c").role, net.raft("c").lead, net.raft("c").term) == (Role.FOLLOWER, "a", term)


def test_without_prevote_a_rejoining_member_forces_a_new_term() -> None:
    net = cluster(pre_vote=False, check_quorum=False)
    term = net.raft("a").term
    net.isolate("c")
    net.tick(50)
    assert net.raft("c").term > term
    net.heal()
    net.tick(50)
    assert net.raft(net.leader() or "a").term > term


def test_prevote_changes_neither_term_nor_vote_of_the_members_asked() -> None:
    net = Network(ABC)
    net.filters.append(lambda m: m.type != MT.VOTE)  # let only the pre-vote round happen
    net.node("a").campaign()
    net.stabilize()
    assert count(net.sent, MT.PRE_VOTE_RESP) == 2
    for id in ("b", "c"):
        assert (net.raft(id).term, net.raft(id).vote) == (0, NONE)
    assert net.raft("a").term == 1 and net.raft("a").role == Role.CANDIDATE


# --- CheckQuorum and the leader lease ---------------------------------------------------------------------


def test_leader_steps_down_when_it_has_not_heard_from_a_quorum_for_an_election_timeout() -> None:
    net = cluster(election_tick=10)
    net.isolate("a")
    net.tick(9, ids=["a"])
    assert net.raft("a").role == Role.LEADER
    net.tick(11, ids=["a"])
    assert net.raft("a").role == Role.FOLLOWER
    assert net.raft("a").lead == NONE


def test_leader_with_a_responsive_quorum_stays_leader() -> None:
    net = cluster(election_tick=10)
    net.isolate("c")
    net.tick(100, ids=["a", "b"])
    assert net.leader() == "a"


def test_follower_with_a_live_leader_ignores_vote_requests_of_a_higher_term() -> None:
    net = cluster()
    b = net.raft("b")
    before = (b.term, b.vote, b.lead)
    b.step(Message(type=MT.VOTE, frm="c", to="b", term=b.term + 5, index=99, log_term=b.term))
    assert (b.term, b.vote, b.lead) == before
    assert [m for m in read_messages(b) if m.type == MT.VOTE_RESP] == []


def test_stale_leader_learns_the_newer_term_from_the_answer_to_its_append() -> None:
    r = new_raft("b", ABC, storage=storage_with(ABC, [1], hard_state_term=3), check_quorum=True)
    r.step(Message(type=MT.APP, frm="a", to="b", term=2, index=1, log_term=1))
    (reply,) = read_messages(r)
    assert (reply.type, reply.to, reply.term) == (MT.APP_RESP, "a", 3)


# --- ReadIndex ---------------------------------------------------------------------------------------


def test_read_index_on_leader_is_served_at_its_commit_index_after_a_heartbeat_quorum() -> None:
    net = cluster()
    net.propose("a", b"x")
    mark = len(net.sent)
    net.node("a").read_index(b"r1")
    net.stabilize()
    assert net.members["a"].read_states == [ReadState(index=2, context=b"r1")]
    assert count(sent_since(net, mark), MT.HEARTBEAT) == 2


def test_read_index_is_not_confirmed_by_a_leader_cut_off_from_the_quorum() -> None:
    net = cluster()
    net.isolate("a")
    net.node("a").read_index(b"r1")
    net.stabilize()
    assert net.members["a"].read_states == []


def test_read_index_on_follower_is_forwarded_to_the_leader_and_answered_there() -> None:
    net = cluster()
    net.propose("a", b"x")
    net.node("b").read_index(b"from-b")
    net.stabilize()
    assert net.members["b"].read_states == [ReadState(index=2, context=b"from-b")]
    assert net.members["a"].read_states == []


def test_read_index_waits_until_the_new_leader_has_committed_an_entry_of_its_term() -> None:
    net = Network(ABC)
    net.filters.append(lambda m: m.type != MT.APP_RESP)  # the no-op cannot commit yet
    net.elect("a")
    net.node("a").read_index(b"early")
    net.tick(3)
    assert net.raft("a").log.committed == 0
    assert net.members["a"].read_states == []
    net.heal()
    net.tick(2)
    assert net.members["a"].read_states == [ReadState(index=1, context=b"early")]


def test_read_index_without_a_known_leader_raises() -> None:
    net = Network(ABC)
    with pytest.raises(ReadIndexDroppedError) as raised:
        net.node("b").read_index(b"r")
    assert raised.value.leader == NONE


def test_read_index_on_single_member_cluster_needs_no_heartbeats() -> None:
    net = Network(["solo"])
    net.elect("solo")
    net.node("solo").read_index(b"r")
    net.stabilize()
    assert net.members["solo"].read_states == [ReadState(index=1, context=b"r")]


# --- snapshots -----------------------------------------------------------------------------------------


def test_lagging_follower_catches_up_from_a_snapshot_once_the_leader_compacted_its_log() -> None:
    net = cluster()
    net.isolate("c")
    for i in range(10):
        net.propose("a", f"x{i}".encode())
    snapshot = net.compact("a")
    net.compact("b")
    assert snapshot is not None and snapshot.metadata.index == 11
    net.heal()
    mark = len(net.sent)
    net.tick(3)
    assert count(sent_since(net, mark), MT.SNAP, to="c") == 1
    c = net.members["c"]
    assert c.storage.snapshot().metadata.index == 11
    assert net.applied("c") == [f"x{i}".encode() for i in range(10)]
    net.propose("a", b"after")
    assert net.applied("c")[-1] == b"after"
    assert net.raft("a").tracker.progress["c"].state == ProgressState.REPLICATE


def test_snapshot_that_failed_to_arrive_is_sent_again() -> None:
    net = cluster()
    net.isolate("c")
    for i in range(5):
        net.propose("a", f"x{i}".encode())
    net.compact("a")
    net.heal()
    snaps: list[Message] = []

    def lose_first_snapshot(m: Message) -> bool:
        if m.type == MT.SNAP:
            snaps.append(m)
            return len(snaps) > 1
        return True

    net.filters.append(lose_first_snapshot)
    net.tick(5)
    assert len(snaps) >= 2
    assert net.applied("c") == [f"x{i}".encode() for i in range(5)]


def test_ready_hands_a_received_snapshot_to_the_driver_before_any_entry_after_it() -> None:
    net = cluster()
    for i in range(3):
        net.propose("a", f"x{i}".encode())
    snapshot = net.compact("a")
    assert snapshot is not None
    node = RawNode(new_raft("c", ABC).config)
    node.step(Message(type=MT.SNAP, frm="a", to="c", term=1, snapshot=snapshot))
    rd = node.ready()
    assert rd.snapshot == snapshot
    assert rd.must_sync
    assert rd.committed_entries == ()
    assert rd.hard_state is not None and rd.hard_state.commit == snapshot.metadata.index


def test_storage_reports_compacted_and_unavailable_ranges() -> None:
    storage = MemoryStorage(ABC)
    storage.append([Entry(term=1, index=i) for i in range(1, 6)])
    storage.create_snapshot(3, b"state")
    storage.compact(3)
    assert (storage.first_index(), storage.last_index(), storage.term(3)) == (4, 5, 1)
    with pytest.raises(CompactedError):
        storage.entries(3, 5)
    with pytest.raises(CompactedError):
        storage.term(2)
    with pytest.raises(UnavailableError):
        storage.entries(4, 7)
    assert [e.index for e in storage.entries(4, 6, max_bytes=1)] == [4]


# --- leadership transfer -------------------------------------------------------------------------------


def test_leadership_transfers_to_an_up_to_date_follower() -> None:
    net = cluster()
    net.propose("a", b"x")
    net.node("a").transfer_leadership("b")
    net.stabilize()
    assert net.leader() == "b"
    assert count(net.sent, MT.TIMEOUT_NOW) == 1
    net.propose("b", b"y")
    assert net.applied("a") == [b"x", b"y"]


def test_leadership_transfer_first_catches_up_a_lagging_target() -> None:
    net = cluster()
    net.isolate("c")
    net.propose("a", b"x")
    net.heal()
    net.filters.append(lambda m: m.type != MT.HEARTBEAT)  # only the transfer may bring c up to date
    net.node("a").transfer_leadership("c")
    net.stabilize()
    assert net.leader() == "c"
    assert net.applied("c") == [b"x"]


def test_leader_refuses_proposals_while_transferring_leadership() -> None:
    net = cluster()
    net.isolate("b")
    net.node("a").transfer_leadership("b")
    net.stabilize()
    with pytest.raises(ProposalDroppedError) as raised:
        net.node("a").propose(b"x")
    assert raised.value.leader == "a"


def test_leadership_transfer_to_an_unreachable_member_is_abandoned_after_an_election_timeout() -> None:
    net = cluster(election_tick=10)
    net.isolate("b")
    net.node("a").transfer_leadership("b")
    net.stabilize()
    assert net.raft("a").lead_transferee == "b"
    net.tick(10, ids=["a", "c"])
    assert net.raft("a").lead_transferee == NONE
    assert net.leader() == "a"
    net.propose("a", b"accepted again")
    assert net.applied("c") == [b"accepted again"]


def test_transfer_request_on_a_follower_is_forwarded_to_the_leader() -> None:
    net = cluster()
    net.node("c").transfer_leadership("c")
    net.stabilize()
    assert net.leader() == "c"


def test_transfer_vote_is_granted_inside_the_leader_lease() -> None:
    net = cluster()
    net.node("a").transfer_leadership("b")
    net.stabilize()
    # c had heard from a moments ago, yet voted: the request said it came from a transfer.
    assert net.raft("c").lead == "b"


# --- proposals -----------------------------------------------------------------------------------------


def test_follower_forwards_a_proposal_to_the_leader() -> None:
    net = cluster()
    net.propose("c", b"via-c")
    assert [net.applied(i) for i in ABC] == [[b"via-c"]] * 3
    assert count(net.sent, MT.PROP) == 1


def test_follower_with_forwarding_disabled_refuses_a_proposal_and_names_the_leader() -> None:
    net = cluster(disable_proposal_forwarding=True)
    with pytest.raises(ProposalDroppedError) as raised:
        net.node("b").propose(b"x")
    assert raised.value.leader == "a"


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.PRE_CANDIDATE])
def test_member_without_a_leader_refuses_a_proposal(role: Role) -> None:
    net = Network(ABC)
    if role == Role.PRE_CANDIDATE:
        net.isolate("a")
        net.node("a").campaign()
        net.stabilize()
    assert net.raft("a").role == role
    with pytest.raises(ProposalDroppedError) as raised:
        net.node("a").propose(b"x")
    assert raised.value.leader == NONE


def test_proposal_forwarded_to_a_member_that_lost_leadership_is_dropped_silently() -> None:
    r = new_raft("b", ABC, pre_vote=True)
    r.step(Message(type=MT.PROP, frm="c", to="b", entries=()))  # no leader known: nothing to raise to
    assert read_messages(r) == []


# --- flow control and batching ---------------------------------------------------------------------------


def test_leader_keeps_at_most_max_inflight_appends_unanswered_per_follower() -> None:
    net = cluster(max_inflight_msgs=3, max_size_per_msg=1)
    net.propose("a", b"warm-up")  # c is now being replicated to
    net.filters.append(lambda m: not (m.frm == "c" and m.type == MT.APP_RESP))
    mark = len(net.sent)
    for i in range(10):
        net.node("a").propose(f"x{i}".encode())
    net.stabilize()
    to_c = [m for m in sent_since(net, mark) if m.type == MT.APP and m.to == "c" and m.entries]
    assert len(to_c) == 3
    net.heal()
    net.tick(5)
    assert len(net.applied("c")) == 11


def test_appends_are_batched_within_the_message_size_budget() -> None:
    net = cluster(max_size_per_msg=100)
    net.isolate("c")
    for _ in range(20):
        net.propose("a", b"x" * 30)  # 46 bytes each with overhead: two per append
    net.heal()
    mark = len(net.sent)
    net.tick(3)
    batches = [
        len(m.entries) for m in sent_since(net, mark) if m.type == MT.APP and m.to == "c" and m.entries
    ]
    assert max(batches) == 2
    assert sum(batches) >= 20


def test_unreachable_report_sends_a_replicating_follower_back_to_probing() -> None:
    net = cluster()
    net.propose("a", b"x")
    assert net.raft("a").tracker.progress["b"].state == ProgressState.REPLICATE
    net.node("a").report_unreachable("b")
    assert net.raft("a").tracker.progress["b"].state == ProgressState.PROBE


# --- fast back-tracking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leader_terms", "follower_terms"),
    [
        # The follower's divergent tail has lower terms than the leader's (leader-side skipping).
        ([1] + [3] * 100, [1] + [2] * 100),
        # Its tail has higher terms than the leader's entries there (follower-side skipping).
        ([1] + [3] * 60 + [7], [1] + [3] * 2 + [4] * 20 + [5] * 20 + [6] * 20),
    ],
    ids=["leader-skips-terms", "follower-skips-terms"],
)
def test_divergent_follower_is_repaired_in_round_trips_per_term_not_per_entry(
    leader_terms: list[int], follower_terms: list[int]
) -> None:
    voters = ("leader", "follower", "voter")
    top = max(leader_terms + follower_terms)
    storages = {
        "leader": storage_with(voters, leader_terms, hard_state_term=top),
        "follower": storage_with(voters, follower_terms, hard_state_term=top),
        "voter": storage_with(voters, leader_terms[:1], hard_state_term=top),
    }
    net = Network(voters, storages=storages)
    net.elect("leader")
    net.tick(2)
    rejections = [m for m in net.sent if m.type == MT.APP_RESP and m.frm == "follower" and m.reject]
    distinct_terms = len(set(leader_terms) | set(follower_terms))
    assert len(rejections) <= distinct_terms, f"{len(rejections)} round trips"
    assert [e.term for e in net.raft("follower").log.all_entries()][: len(leader_terms)] == leader_terms


# --- purity -------------------------------------------------------------------------------------------

CORE_MODULES = [
    "services.etcd.raft.types",
    "services.etcd.raft.storage",
    "services.etcd.raft.log_unstable",
    "services.etcd.raft.log",
    "services.etcd.raft.progress",
    "services.etcd.raft.read_only",
    "services.etcd.raft.config",
    "services.etcd.raft.core",
    "services.etcd.raft.replication",
    "services.etcd.raft.follower",
    "services.etcd.raft.node",
]
FORBIDDEN = {"asyncio", "nats", "socket", "time", "threading", "selectors", "trio", "anyio"}


def _is_package(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _imports(module: str) -> set[str]:
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if _is_package(node.module):
                # "from package import x": x is a submodule (or a name the package re-exports).
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_raft_core_module_does_no_io_and_imports_only_the_core(module: str) -> None:
    imported = _imports(module)
    assert not {name.split(".")[0] for name in imported} & FORBIDDEN
    # Within the package, the core only depends on the core: never on the driver, transport or WAL.
    internal = {name for name in imported if name.startswith("services.")}
    assert internal <= set(CORE_MODULES)


def test_raft_core_uses_only_an_injected_random_source() -> None:
    for module in CORE_MODULES:
        source = inspect.getsource(importlib.import_module(module))
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "random"
            ):
                # Only the type and the (seeded, per-member) default constructor are used.
                assert node.attr == "Random", f"{module} uses random.{node.attr}"


# --- the Ready contract --------------------------------------------------------------------------------


def _follower(storage: MemoryStorage) -> RawNode:
    return RawNode(new_raft("b", ABC, storage=storage).config)


def _append(term: int, prev: int, prev_term: int, *entry_terms: int, commit: int = 0) -> Message:
    entries = tuple(Entry(term=t, index=prev + 1 + i) for i, t in enumerate(entry_terms))
    return Message(
        type=MT.APP,
        frm="a",
        to="b",
        term=term,
        index=prev,
        log_term=prev_term,
        entries=entries,
        commit=commit,
    )


def _persist(storage: MemoryStorage, rd: Ready) -> None:
    if rd.snapshot is not None:
        storage.apply_snapshot(rd.snapshot)
    storage.append(rd.entries)
    if rd.hard_state is not None:
        storage.set_hard_state(rd.hard_state)


def test_node_has_nothing_ready_once_a_ready_is_advanced_and_nothing_happened() -> None:
    storage = MemoryStorage(ABC)
    node = _follower(storage)
    node.step(_append(1, 0, 0, 1))
    assert node.has_ready()
    rd = node.ready()
    _persist(storage, rd)
    node.advance(rd)
    assert not node.has_ready()


def test_ready_cannot_be_taken_again_before_the_previous_one_is_advanced() -> None:
    node = _follower(MemoryStorage(ABC))
    node.step(_append(1, 0, 0, 1))
    rd = node.ready()
    with pytest.raises(RuntimeError):
        node.ready()
    with pytest.raises(RuntimeError):
        node.advance(Ready())
    node.advance(rd)


def test_commit_index_change_alone_does_not_require_fsync() -> None:
    storage = MemoryStorage(ABC)
    node = _follower(storage)
    node.step(_append(1, 0, 0, 1, 1))
    rd = node.ready()
    assert rd.must_sync
    _persist(storage, rd)
    node.advance(rd)
    node.step(Message(type=MT.HEARTBEAT, frm="a", to="b", term=1, commit=2))
    rd = node.ready()
    assert rd.hard_state is not None and rd.hard_state.commit == 2
    assert not rd.must_sync
    assert [e.index for e in rd.committed_entries] == [1, 2]


def test_entries_replaced_while_being_persisted_are_handed_out_again() -> None:
    storage = MemoryStorage(ABC)
    node = _follower(storage)
    node.step(_append(1, 0, 0, 1, 1))
    first = node.ready()
    # While the driver writes (1, term 1) and (2, term 1), a newer leader replaces both.
    node.step(_append(2, 0, 0, 2, 2))
    _persist(storage, first)
    node.advance(first)
    second = node.ready()
    assert [(e.index, e.term) for e in second.entries] == [(1, 2), (2, 2)]
    _persist(storage, second)
    node.advance(second)
    assert [(e.index, e.term) for e in node.raft.log.all_entries()] == [(1, 2), (2, 2)]
    assert [storage.term(i) for i in (1, 2)] == [2, 2]


def test_messages_that_only_the_local_node_may_produce_are_refused_from_the_network() -> None:
    node = _follower(MemoryStorage(ABC))
    for type in (MT.HUP, MT.BEAT, MT.CHECK_QUORUM, MT.SNAP_STATUS, MT.UNREACHABLE):
        with pytest.raises(ValueError):
            node.step(Message(type=type, frm="a", to="b"))
