"""The values Raft members exchange and persist: entries, hard state, snapshots and messages.

Member ids are strings (the member's name, e.g. ``cp-1``), because members are addressed on NATS by name
(``raft.<cluster>.<member-id>``). Every type here is immutable, so the core can hand the same object to the
driver for persisting and for sending without copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

NONE = ""
"""The id meaning "no member": no vote cast, no known leader."""


class EntryType(StrEnum):
    NORMAL = "normal"
    """A state machine command; empty data marks the no-op a new leader appends."""
    CONF_CHANGE = "conf"
    """Reserved for membership changes."""


@dataclass(frozen=True, slots=True)
class Entry:
    term: int
    index: int
    data: bytes = b""
    type: EntryType = EntryType.NORMAL


@dataclass(frozen=True, slots=True)
class HardState:
    """What a member must persist before it answers any message that depends on it."""

    term: int = 0
    vote: str = NONE
    commit: int = 0

    def is_empty(self) -> bool:
        return self == EMPTY_HARD_STATE


EMPTY_HARD_STATE = HardState()


@dataclass(frozen=True, slots=True)
class SnapshotMetadata:
    index: int = 0
    term: int = 0
    voters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    metadata: SnapshotMetadata = field(default_factory=SnapshotMetadata)
    data: bytes = b""

    def is_empty(self) -> bool:
        return self.metadata.index == 0


EMPTY_SNAPSHOT = Snapshot()


class MessageType(StrEnum):
    # Local messages: never sent over the network, fed to step() by the driver or produced by tick().
    HUP = "hup"  # start an election
    BEAT = "beat"  # leader: send heartbeats
    PROP = "prop"  # propose entries (may be forwarded to the leader)
    CHECK_QUORUM = "check_quorum"
    SNAP_STATUS = "snap_status"  # driver reports whether a snapshot reached a follower (reject = failed)
    UNREACHABLE = "unreachable"  # driver reports a member could not be reached
    TRANSFER_LEADER = "transfer_leader"  # from = the member that should become leader
    READ_INDEX = "read_index"  # context = the caller's request id
    # Network messages.
    APP = "app"
    APP_RESP = "app_resp"
    VOTE = "vote"
    VOTE_RESP = "vote_resp"
    PRE_VOTE = "pre_vote"
    PRE_VOTE_RESP = "pre_vote_resp"
    SNAP = "snap"
    HEARTBEAT = "heartbeat"
    HEARTBEAT_RESP = "heartbeat_resp"
    TIMEOUT_NOW = "timeout_now"
    READ_INDEX_RESP = "read_index_resp"


LOCAL_MESSAGES = frozenset(
    {
        MessageType.HUP,
        MessageType.BEAT,
        MessageType.CHECK_QUORUM,
        MessageType.SNAP_STATUS,
        MessageType.UNREACHABLE,
    }
)


@dataclass(frozen=True, slots=True)
class Message:
    type: MessageType
    to: str = NONE
    frm: str = NONE
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    snapshot: Snapshot | None = None
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""
