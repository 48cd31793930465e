"""One test per claim of the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus
Algorithm", §5.1–5.4 and Figure 2), against the bare core or a small in-memory cluster.

These run with the paper's plain protocol (PreVote and CheckQuorum off) unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from services.etcd.raft.config import Role
from services.etcd.raft.core import Raft
from services.etcd.raft.node import RawNode
from services.etcd.raft.storage import MemoryStorage
from services.etcd.raft.types import NONE, Entry, HardState, Message, MessageType
from tests.unit.raft.network import Network, new_raft, read_messages, storage_with

MT = MessageType
VOTERS = ("1", "2", "3")


def msg(type: MessageType, frm: str, to: str, term: int, **fields: object) -> Message:
    return Message(type=type, frm=frm, to=to, term=term, **fields)  # type: ignore[arg-type]


def elected(r: Raft) -> Raft:
    """Make ``r`` leader of the next term directly and drain what that produced."""
    r.become_candidate()
    r.become_leader()
    read_messages(r)
    return r


def terms(r: Raft) -> list[int]:
    return [e.term for e in r.log.all_entries()]


def accept_appends(r: Raft, messages: list[Message]) -> None:
    """Answer every append in ``messages`` as a follower that accepted it."""
    for m in messages:
        if m.type == MT.APP:
            r.step(msg(MT.APP_RESP, m.to, r.id, r.term, index=m.index + len(m.entries)))


# --- §5.1: terms -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE, Role.LEADER])
@pytest.mark.parametrize("type", [MT.APP, MT.HEARTBEAT, MT.VOTE, MT.APP_RESP])
def test_member_seeing_higher_term_adopts_it_and_becomes_follower(role: Role, type: MessageType) -> None:
    r = new_raft("1")
    if role == Role.CANDIDATE:
        r.become_candidate()
    elif role == Role.LEADER:
        elected(r)
    r.step(msg(type, "2", "1", 5, index=0, log_term=0))
    assert (r.term, r.role) == (5, Role.FOLLOWER)
    # Only the leader's own messages tell us who leads the new term.
    assert r.lead == ("2" if type in (MT.APP, MT.HEARTBEAT) else NONE)


def test_member_ignores_request_with_stale_term() -> None:
    r = new_raft("1", storage=storage_with(VOTERS, [], hard_state_term=2))
    r.step(msg(MT.APP, "2", "1", 1, index=0, log_term=0, entries=(Entry(term=1, index=1),)))
    assert r.log.last_index() == 0
    assert read_messages(r) == []
    assert r.term == 2


# --- §5.2: leader election -------------------------------------------------------------------------------


def test_members_start_as_followers() -> None:
    r = new_raft("1")
    assert (r.role, r.term, r.lead) == (Role.FOLLOWER, 0, NONE)


def test_leader_sends_heartbeats_to_every_follower_each_heartbeat_tick() -> None:
    r = elected(new_raft("1", heartbeat_tick=2))
    r.tick()
    assert read_messages(r) == []
    r.tick()
    beats = read_messages(r)
    assert sorted((m.to, m.type) for m in beats) == [("2", MT.HEARTBEAT), ("3", MT.HEARTBEAT)]


@pytest.mark.parametrize("start_as_candidate", [False, True])
def test_member_without_leader_starts_election_after_election_timeout(start_as_candidate: bool) -> None:
    r = new_raft("1", election_tick=10)
    if start_as_candidate:
        r.become_candidate()
        read_messages(r)
    term = r.term
    for _ in range(2 * 10):
        r.tick()
    out = read_messages(r)
    assert r.role == Role.CANDIDATE
    assert r.term == term + 1
    assert r.vote == "1"
    assert sorted((m.to, m.type, m.term) for m in out) == [("2", MT.VOTE, term + 1), ("3", MT.VOTE, term + 1)]


@pytest.mark.parametrize(
    ("size", "votes", "role"),
    [
        (1, {}, Role.LEADER),
        (3, {"2": True, "3": True}, Role.LEADER),
        (3, {"2": True}, Role.LEADER),
        (5, {"2": True, "3": True, "4": True, "5": True}, Role.LEADER),
        (5, {"2": True, "3": True}, Role.LEADER),
        (3, {}, Role.CANDIDATE),
        (5, {"2": True}, Role.CANDIDATE),
        (5, {"2": False, "3": False}, Role.CANDIDATE),
        (3, {"2": False, "3": False}, Role.FOLLOWER),
        (5, {"2": False, "3": False, "4": False}, Role.FOLLOWER),
    ],
)
def test_candidate_wins_with_majority_keeps_waiting_or_loses_in_one_round(
    size: int, votes: dict[str, bool], role: Role
) -> None:
    r = new_raft("1", [str(i) for i in range(1, size + 1)])
    r.step(Message(type=MT.HUP, frm="1"))
    read_messages(r)
    for voter, granted in votes.items():
        r.step(msg(MT.VOTE_RESP, voter, "1", r.term, reject=not granted))
    assert r.role == role
    assert r.term == 1


@pytest.mark.parametrize(
    ("voted_for", "candidate", "granted"),
    [
        (NONE, "2", True),
        (NONE, "3", True),
        ("2", "2", True),
        ("3", "3", True),
        ("2", "3", False),
        ("3", "2", False),
    ],
)
def test_follower_grants_at_most_one_vote_per_term(voted_for: str, candidate: str, granted: bool) -> None:
    storage = MemoryStorage(VOTERS)
    storage.set_hard_state(HardState(term=1, vote=voted_for))
    r = new_raft("1", storage=storage)
    r.step(msg(MT.VOTE, candidate, "1", 1, index=0, log_term=0))
    (reply,) = read_messages(r)
    assert (reply.type, reply.to, reply.reject) == (MT.VOTE_RESP, candidate, not granted)
    assert r.vote == (candidate if granted else voted_for)


@pytest.mark.parametrize("leader_term", [1, 2])
def test_candidate_becomes_follower_on_append_from_leader_of_same_or_newer_term(leader_term: int) -> None:
    r = new_raft("1")
    r.step(Message(type=MT.HUP, frm="1"))
    assert (r.role, r.term) == (Role.CANDIDATE, 1)
    r.step(msg(MT.APP, "2", "1", leader_term, index=0, log_term=0))
    assert (r.role, r.term, r.lead) == (Role.FOLLOWER, leader_term, "2")


@pytest.mark.parametrize("start_as_candidate", [False, True])
def test_election_timeout_is_randomized_between_one_and_two_timeouts(start_as_candidate: bool) -> None:
    seen = set()
    for seed in range(300):
        r = new_raft("1", seed=seed, election_tick=10)
        if start_as_candidate:
            r.become_candidate()
        term = r.term
        ticks = 0
        while r.term == term:
            r.tick()
            ticks += 1
        seen.add(ticks)
    assert seen == set(range(10, 20))


def test_followers_rarely_time_out_at_the_same_tick() -> None:
    conflicts = 0
    rounds = 300
    for seed in range(rounds):
        members = [new_raft(str(i), [str(j) for j in range(1, 6)], seed=seed) for i in range(1, 6)]
        while True:
            for r in members:
                r.tick()
            fired = sum(1 for r in members if r.role == Role.CANDIDATE)
            if fired:
                conflicts += fired > 1
                break
    # Five members drawing from ten ticks collide at the first timeout in roughly a third of runs;
    # "rarely" is relative to deterministic timeouts, where they would always collide.
    assert conflicts / rounds < 0.45


# --- §5.3: log replication -------------------------------------------------------------------------------


def test_leader_appends_proposal_to_its_log_and_sends_it_to_every_follower() -> None:
    r = elected(new_raft("1"))
    no_op = (Entry(term=1, index=1),)
    accept_appends(r, [msg(MT.APP, "1", f, r.term, index=0, entries=no_op) for f in ("2", "3")])
    read_messages(r)
    r.step(Message(type=MT.PROP, entries=(Entry(term=0, index=0, data=b"x"),)))
    out = read_messages(r)
    assert r.log.last_index() == 2
    assert r.log.entries(2) == [Entry(term=1, index=2, data=b"x")]
    assert sorted(m.to for m in out) == ["2", "3"]
    for m in out:
        assert (m.type, m.index, m.log_term, m.commit) == (MT.APP, 1, 1, 1)
        assert m.entries == (Entry(term=1, index=2, data=b"x"),)


def test_leader_commits_entry_stored_on_a_majority_and_tells_followers() -> None:
    r = elected(new_raft("1"))
    first = read_messages(r)
    r.step(msg(MT.APP_RESP, "2", "1", r.term, index=1))  # no-op stored on 2 of 3 (with the leader)
    assert r.log.committed == 1
    r.step(Message(type=MT.PROP, entries=(Entry(term=0, index=0, data=b"x"),)))
    out = read_messages(r)
    r.step(msg(MT.APP_RESP, "2", "1", r.term, index=2))
    assert r.log.committed == 2
    # The new commit index goes out with the next appends.
    out = read_messages(r)
    assert {m.to: m.commit for m in out if m.type == MT.APP}["2"] == 2
    del first


@pytest.mark.parametrize(
    ("size", "acks", "committed"),
    [
        (1, set(), True),
        (3, set(), False),
        (3, {"2"}, True),
        (3, {"2", "3"}, True),
        (5, set(), False),
        (5, {"2"}, False),
        (5, {"2", "3"}, True),
        (5, {"2", "3", "4", "5"}, True),
    ],
)
def test_leader_considers_entry_committed_exactly_when_a_majority_stored_it(
    size: int, acks: set[str], committed: bool
) -> None:
    r = elected(new_raft("1", [str(i) for i in range(1, size + 1)]))
    for follower in acks:
        r.step(msg(MT.APP_RESP, follower, "1", r.term, index=1))
    assert (r.log.committed == 1) == committed


def test_committing_an_entry_commits_all_preceding_entries_including_earlier_terms() -> None:
    r = new_raft("1", storage=storage_with(VOTERS, [1, 2, 2], hard_state_term=2))
    elected(r)  # term 3; no-op at index 4
    r.step(msg(MT.APP_RESP, "2", "1", r.term, index=4))
    assert r.log.committed == 4
    assert [e.index for e in r.log.next_committed_entries()] == [1, 2, 3, 4]


def test_follower_commits_what_leader_committed_but_no_further_than_the_entries_it_was_sent() -> None:
    # The follower holds a stale entry at 3 that the leader's append (ending at 2) did not vouch for.
    r = new_raft("2", storage=storage_with(VOTERS, [1, 1, 1], hard_state_term=1))
    r.step(msg(MT.APP, "1", "2", 2, index=1, log_term=1, entries=(Entry(term=1, index=2),), commit=3))
    assert r.log.committed == 2
    (reply,) = read_messages(r)
    assert (reply.type, reply.index, reply.reject) == (MT.APP_RESP, 2, False)


def test_follower_answers_stale_append_below_its_commit_index_with_that_commit_index() -> None:
    # Entries up to the commit index are known to match the leader's; the one after it may not, so the
    # answer must not claim more (a delayed append may arrive long after the follower moved on).
    r = new_raft("2", storage=storage_with(VOTERS, [1, 1, 1], hard_state_term=1))
    r.log.commit_to(2)
    r.step(msg(MT.APP, "1", "2", 1, index=1, log_term=1))
    (reply,) = read_messages(r)
    assert (reply.type, reply.index, reply.reject) == (MT.APP_RESP, 2, False)


@pytest.mark.parametrize(
    ("prev_index", "prev_term", "accepted", "hint"),
    [
        (0, 0, True, 0),  # the empty prefix always matches
        (2, 2, True, 0),
        (1, 1, True, 0),
        (2, 3, False, 2),  # term mismatch at 2: our 2 has term 2 <= 3, so the logs may match up to there
        (3, 3, False, 2),  # we have no entry 3: match at most up to our last
        (2, 1, False, 1),  # leader's term at 2 is 1: every entry of ours with a higher term is out
    ],
)
def test_follower_rejects_append_whose_previous_entry_it_does_not_hold(
    prev_index: int, prev_term: int, accepted: bool, hint: int
) -> None:
    r = new_raft("2", storage=storage_with(VOTERS, [1, 2], hard_state_term=2))
    r.step(msg(MT.APP, "1", "2", 2, index=prev_index, log_term=prev_term))
    (reply,) = read_messages(r)
    assert reply.reject == (not accepted)
    if not accepted:
        assert (reply.index, reply.reject_hint) == (prev_index, hint)


@pytest.mark.parametrize(
    ("prev_index", "prev_term", "sent_terms", "result"),
    [
        (2, 2, [3], [1, 2, 3]),
        (1, 1, [3, 4], [1, 3, 4]),  # our 2 (term 2) conflicts and is replaced
        (0, 0, [1], [1, 2]),  # already held: nothing is truncated by an older, shorter append
        (0, 0, [3], [3]),
    ],
)
def test_follower_replaces_conflicting_suffix_with_leaders_entries(
    prev_index: int, prev_term: int, sent_terms: list[int], result: list[int]
) -> None:
    r = new_raft("2", storage=storage_with(VOTERS, [1, 2], hard_state_term=2))
    sent = tuple(Entry(term=t, index=prev_index + 1 + i) for i, t in enumerate(sent_terms))
    r.step(msg(MT.APP, "1", "2", 4, index=prev_index, log_term=prev_term, entries=sent))
    assert terms(r) == result


FIGURE_7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
FIGURE_7_FOLLOWERS = {
    "a": [1, 1, 1, 4, 4, 5, 5, 6, 6],
    "b": [1, 1, 1, 4],
    "c": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    "d": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    "e": [1, 1, 1, 4, 4, 4, 4],
    "f": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
}


@pytest.mark.parametrize("case", sorted(FIGURE_7_FOLLOWERS))
def test_leader_brings_any_figure_7_follower_log_into_agreement_with_its_own(case: str) -> None:
    voters = ("leader", "follower", "voter")
    storages = {
        "leader": storage_with(voters, FIGURE_7_LEADER, hard_state_term=8),
        "follower": storage_with(voters, FIGURE_7_FOLLOWERS[case], hard_state_term=8),
        "voter": storage_with(voters, [], hard_state_term=8),
    }
    net = Network(voters, storages=storages, pre_vote=False, check_quorum=False)
    net.elect("leader")
    net.tick(3)
    assert terms(net.raft("follower")) == FIGURE_7_LEADER + [9]
    assert net.raft("follower").log.committed == 11


def test_new_leader_appends_a_no_op_entry_of_its_term() -> None:
    r = elected(new_raft("1", storage=storage_with(VOTERS, [1, 1], hard_state_term=1)))
    assert r.log.entries(3) == [Entry(term=2, index=3, data=b"")]


# --- §5.4: safety ----------------------------------------------------------------------------------------


def test_vote_request_carries_candidates_last_log_index_and_term() -> None:
    r = new_raft("1", storage=storage_with(VOTERS, [1, 2, 2], hard_state_term=2))
    r.step(Message(type=MT.HUP, frm="1"))
    requests = [m for m in read_messages(r) if m.type == MT.VOTE]
    assert {(m.to, m.index, m.log_term, m.term) for m in requests} == {("2", 3, 2, 3), ("3", 3, 2, 3)}


@pytest.mark.parametrize(
    ("last_index", "last_term", "granted"),
    [
        (2, 2, True),  # same last term, same length
        (3, 2, True),  # same last term, longer
        (1, 3, True),  # higher last term wins whatever the length
        (1, 2, False),  # same last term, shorter
        (5, 1, False),  # lower last term loses whatever the length
    ],
)
def test_voter_refuses_candidate_whose_log_is_less_up_to_date(
    last_index: int, last_term: int, granted: bool
) -> None:
    r = new_raft("1", storage=storage_with(VOTERS, [1, 2], hard_state_term=2))
    r.step(msg(MT.VOTE, "2", "1", 3, index=last_index, log_term=last_term))
    (reply,) = read_messages(r)
    assert reply.reject == (not granted)


def test_leader_does_not_commit_previous_term_entry_by_counting_replicas() -> None:
    # Figure 8 (c): the leader of term 4 holds (2, term 2) on a majority, yet must not commit it until an
    # entry of its own term is stored on a majority too.
    r = new_raft("1", storage=storage_with(VOTERS, [1, 2], hard_state_term=3))
    r.log.commit_to(1)
    elected(r)  # term 4, no-op at 3
    r.step(msg(MT.APP_RESP, "2", "1", 4, index=2))
    assert r.log.committed == 1
    r.step(msg(MT.APP_RESP, "2", "1", 4, index=3))
    assert r.log.committed == 3


def test_figure_8_old_term_entry_on_a_majority_is_not_committed_and_may_be_overwritten() -> None:
    net = Network(VOTERS, pre_vote=False, check_quorum=False, max_size_per_msg=1)
    net.elect("1")
    net.propose("1", b"committed")
    # (a) 1 appends an entry of term 1 at index 3 but crashes before replicating it.
    net.isolate("1")
    net.propose("1", b"doomed")
    net.crash("1")
    net.heal()
    # (b) 2 wins term 2 and appends its no-op at index 3, but nobody receives it; 2 crashes.
    net.filters.append(lambda m: not (m.frm == "2" and m.type == MT.APP))
    net.elect("2")
    net.crash("2")
    net.heal()
    # (c) 1 restarts and leads term 4 (with 3's vote); 3 gets (3, term 1) but not 1's no-op at 4.
    net.restart("1")
    net.node("1").campaign()
    net.stabilize()
    to_3_with_index_4: list[Message] = []

    def hold_back_index_4(m: Message) -> bool:
        if m.frm == "1" and m.to == "3" and m.type == MT.APP and any(e.index == 4 for e in m.entries):
            to_3_with_index_4.append(m)
            return len(to_3_with_index_4) == 1  # the first probe must arrive, so 3 can say what it lacks
        return True

    net.filters.append(hold_back_index_4)
    net.elect("1")
    assert net.raft("3").log.term(3) == 1
    assert net.raft("1").log.committed == 2, "replicated on a majority, but of an earlier term"
    # (d) 1 crashes; 2 restarts and wins (its last term 2 beats 3's last term 1) and overwrites index 3.
    net.crash("1")
    net.heal()
    net.restart("2")
    net.node("2").campaign()
    net.stabilize()
    net.elect("2")
    net.tick(2)
    assert net.raft("3").log.term(3) == 2
    assert net.applied("3") == [b"committed"]


# --- Figure 2, "Persistent state": updated on stable storage before responding to RPCs -------------------


def test_vote_reaches_the_candidate_only_in_the_ready_that_persists_it() -> None:
    node = RawNode(new_raft("1").config)
    node.step(msg(MT.VOTE, "2", "1", 1, index=0, log_term=0))
    rd = node.ready()
    assert rd.hard_state == HardState(term=1, vote="2", commit=0)
    assert rd.must_sync
    assert [(m.type, m.reject) for m in rd.messages] == [(MT.VOTE_RESP, False)]


def test_leader_counts_its_own_entry_toward_commit_only_after_persisting_it() -> None:
    storage = MemoryStorage(["1"])
    node = RawNode(new_raft("1", storage=storage).config)
    node.campaign()
    while node.raft.role != Role.LEADER:
        node.advance(node.ready())
    rd = node.ready()
    assert [e.index for e in rd.entries] == [1]
    assert node.raft.log.committed == 0, "appended but not yet durable"
    storage.append(rd.entries)
    node.advance(rd)
    assert node.raft.log.committed == 1
