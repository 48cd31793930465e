"""What a leader knows about each voter's log, and the quorum arithmetic over that knowledge.

A ``Progress`` is in one of three states (as in etcd's ``tracker``):

- ``PROBE``: we do not know where the follower's log ends; send one append at a time and wait for its answer.
- ``REPLICATE``: the follower is in step; stream appends optimistically, at most ``max_inflight`` unanswered.
- ``SNAPSHOT``: the entries it needs are compacted; a snapshot is on its way and appends are paused.

The ``ProgressTracker`` also tallies election votes and answers CheckQuorum ("did a quorum talk to us?").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from enum import Enum, StrEnum


class ProgressState(StrEnum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class VoteResult(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


class Inflights:
    """A bounded window of unanswered appends, each remembered by the last index it carried."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._last_indexes: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._last_indexes)

    def full(self) -> bool:
        return len(self._last_indexes) >= self.capacity

    def add(self, last_index: int) -> None:
        if self.full():
            raise OverflowError("in-flight window is full")
        self._last_indexes.append(last_index)

    def free_le(self, index: int) -> None:
        """Forget every append whose last index is ``<= index``: the follower acknowledged them."""
        while self._last_indexes and self._last_indexes[0] <= index:
            self._last_indexes.popleft()

    def reset(self) -> None:
        self._last_indexes.clear()


class Progress:
    def __init__(self, next_index: int, max_inflight: int, match: int = 0) -> None:
        self.match = match
        """The highest index known to be durable in the follower's log."""
        self.next = next_index
        """The index of the next entry to send; ``match < next`` always."""
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        """In SNAPSHOT: the index of the snapshot sent."""
        self.recent_active = False
        """Heard from since the last CheckQuorum (or since becoming leader)."""
        self.msg_app_flow_paused = False
        """In PROBE: an append is outstanding. In REPLICATE: the in-flight window is full."""
        self.sent_commit = 0
        """The highest commit index we told the follower about."""
        self.inflights = Inflights(max_inflight)

    def __repr__(self) -> str:
        return (
            f"Progress({self.state} match={self.match} next={self.next} inflight={len(self.inflights)}"
            f"{' paused' if self.is_paused() else ''}{' active' if self.recent_active else ''})"
        )

    def _reset_state(self, state: ProgressState) -> None:
        self.msg_app_flow_paused = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            # If the snapshot was applied, the follower holds at least up to it: probe right after.
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1
        self.sent_commit = min(self.sent_commit, self.next - 1)

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index
        self.next = snapshot_index + 1
        self.sent_commit = snapshot_index

    def sent_entries(self, count: int) -> None:
        """Account for an append of ``count`` entries starting at ``next``."""
        if self.state == ProgressState.REPLICATE:
            if count:
                self.next += count
                self.inflights.add(self.next - 1)
            self.msg_app_flow_paused = self.inflights.full()
        elif self.state == ProgressState.PROBE:
            if count:
                self.msg_app_flow_paused = True
        else:
            raise AssertionError(f"sending entries in state {self.state}")

    def can_bump_commit(self, commit: int) -> bool:
        """Whether an (empty) append would tell the follower a commit index it has not heard yet."""
        return commit > self.sent_commit and self.sent_commit < self.next - 1

    def maybe_update(self, index: int) -> bool:
        """Record that the follower's log matches ours up to ``index``; False if that is not news."""
        if index <= self.match:
            return False
        self.match = index
        self.next = max(self.next, index + 1)
        self.msg_app_flow_paused = False
        return True

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """Step ``next`` back after the follower rejected an append at ``rejected``; False if stale.

        ``match_hint`` is the highest index at which the logs may still match.
        """
        if self.state == ProgressState.REPLICATE:
            # A rejection at or below match must be for an older, reordered append.
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            self.sent_commit = min(self.sent_commit, self.next - 1)
            return True
        # In PROBE only the answer to the outstanding probe (at next - 1) counts.
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.sent_commit = min(self.sent_commit, self.next - 1)
        self.msg_app_flow_paused = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.SNAPSHOT:
            return True
        return self.msg_app_flow_paused


class ProgressTracker:
    """Progress per voter, votes in the current election, and the majority computations over both."""

    def __init__(self, voters: Iterable[str], max_inflight: int) -> None:
        self.voters = tuple(sorted(set(voters)))
        if not self.voters:
            raise ValueError("a Raft group needs at least one voter")
        self.max_inflight = max_inflight
        self.progress: dict[str, Progress] = {v: Progress(1, max_inflight) for v in self.voters}
        self.votes: dict[str, bool] = {}

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def is_singleton(self) -> bool:
        return len(self.voters) == 1

    def reset(self, last_index: int, self_id: str) -> None:
        """Fresh progress for a new term: everyone probed from our last index, nothing known of them."""
        self.progress = {v: Progress(last_index + 1, self.max_inflight) for v in self.voters}
        if self_id in self.progress:
            self.progress[self_id].match = last_index
        self.votes = {}

    def committed(self) -> int:
        """The highest index durable on a quorum of voters.

        Sort the match indexes descending; the quorum-th one is stored on at least a quorum.
        For matches (9, 7, 5, 2, 1) with quorum 3 that is 5.
        """
        matches = sorted((self.progress[v].match for v in self.voters), reverse=True)
        return matches[self.quorum() - 1]

    def quorum_active(self, self_id: str) -> bool:
        """Whether a quorum (counting ourselves) was recently active, for CheckQuorum."""
        active = sum(1 for v in self.voters if v == self_id or self.progress[v].recent_active)
        return active >= self.quorum()

    def record_vote(self, voter: str, granted: bool) -> None:
        """Record the first answer of ``voter`` this election; later (duplicate) answers are ignored."""
        if voter in self.progress:
            self.votes.setdefault(voter, granted)

    def tally_votes(self) -> tuple[int, int, VoteResult]:
        granted = sum(1 for v in self.votes.values() if v)
        rejected = len(self.votes) - granted
        if granted >= self.quorum():
            return granted, rejected, VoteResult.WON
        if rejected > len(self.voters) - self.quorum():
            return granted, rejected, VoteResult.LOST
        return granted, rejected, VoteResult.PENDING

    def has_quorum(self, acks: Iterable[str]) -> bool:
        return len(set(acks) & set(self.voters)) >= self.quorum()
