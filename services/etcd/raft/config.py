"""The settings of one Raft member, and the small value types the core reports to its driver.

A ``Config`` validates itself when constructed. Ticks are the driver's unit of time: the driver calls
``tick()`` at a fixed interval (e.g. every 100 ms), and timeouts here are counted in those calls.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from services.etcd.raft.storage import Storage
from services.etcd.raft.types import NONE


class Role(StrEnum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state worth telling the driver about when it changes; never persisted."""

    lead: str = NONE
    role: Role = Role.FOLLOWER


@dataclass(frozen=True, slots=True)
class ReadState:
    """A confirmed ReadIndex: once the state machine has applied ``index``, reads for ``context`` may run."""

    index: int
    context: bytes


class RequestDroppedError(Exception):
    """A local request could not be accepted here; ``leader`` is the leader we know of ("" if none)."""

    def __init__(self, reason: str, leader: str) -> None:
        super().__init__(reason)
        self.leader = leader


class ProposalDroppedError(RequestDroppedError):
    """A proposal was refused: no leader known, forwarding disabled, or a leadership transfer under way."""


class ReadIndexDroppedError(RequestDroppedError):
    """A read-index request was refused because no leader is known."""


def _default_rng(member_id: str) -> random.Random:
    # Seeded by the member id so that a cluster's members draw different timeouts, yet every run is
    # reproducible; tests inject their own.
    return random.Random(f"raft-election:{member_id}")


@dataclass(slots=True)
class Config:
    id: str
    storage: Storage
    election_tick: int = 10
    """Ticks without hearing from a leader before a follower campaigns (randomised in [n, 2n))."""
    heartbeat_tick: int = 1
    """Ticks between a leader's heartbeats; must be well below ``election_tick``."""
    applied: int = 0
    """The index the state machine reflects when (re)starting, e.g. that of the snapshot it was restored
    from; entries after it come back as committed entries. 0 means ``storage.first_index() - 1``."""
    max_size_per_msg: int | None = 1 << 20
    """Byte budget for entries in one append message (at least one entry is always sent)."""
    max_committed_size_per_ready: int | None = None
    """Byte budget for committed entries in one ``Ready``; None is unlimited."""
    max_inflight_msgs: int = 256
    """Unacknowledged appends a leader may have outstanding to one follower while replicating."""
    check_quorum: bool = True
    """Leader steps down when a quorum has not been heard from in an election timeout; followers then
    ignore vote requests while their leader is alive (the leader lease)."""
    pre_vote: bool = True
    """Campaign only after a quorum says it would vote for us, so a rejoining member cannot bump terms."""
    disable_proposal_forwarding: bool = False
    """Refuse proposals on followers (raising ``ProposalDroppedError``) instead of forwarding them."""
    rng: random.Random | None = field(default=None, repr=False)
    """Source of election-timeout jitter; defaults to one seeded by ``id``."""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id must be a non-empty member id")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat_tick must be positive")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election_tick must be greater than heartbeat_tick")
        if self.max_inflight_msgs <= 0:
            raise ValueError("max_inflight_msgs must be positive")
        if self.applied < 0:
            raise ValueError("applied must not be negative")
        if self.max_size_per_msg is not None and self.max_size_per_msg <= 0:
            raise ValueError("max_size_per_msg must be positive or None")
        if self.rng is None:
            self.rng = _default_rng(self.id)

    @property
    def random(self) -> random.Random:
        assert self.rng is not None  # set by __post_init__
        return self.rng
