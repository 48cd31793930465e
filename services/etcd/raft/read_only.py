"""A leader's bookkeeping for ReadIndex requests waiting for a heartbeat quorum (Raft thesis §6.4).

A read is linearizable at the leader's commit index *at the time it arrived*, provided the leader was still
the leader then. The leader proves that by a round of heartbeats sent after the request was registered:
once a quorum answers one, every request registered before it is confirmed and may be served as soon as
the state machine has applied up to the recorded index.

Heartbeats carry a leader-chosen key, never the client's context, so clients need not make their contexts
unique across members, and a late answer from an earlier round cannot confirm a newer request: keys
increase for the life of the ``Raft`` object, across terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.etcd.raft.types import Message


@dataclass(slots=True)
class ReadIndexStatus:
    request: Message
    """The READ_INDEX message: ``frm`` is who asked (empty or the leader itself for local reads)."""
    index: int
    """The leader's commit index when the request arrived."""
    acks: set[str] = field(default_factory=set)


class ReadOnly:
    def __init__(self, first_key: int = 1) -> None:
        self._next_key = first_key
        self._pending: dict[bytes, ReadIndexStatus] = {}
        self._queue: list[bytes] = []

    @property
    def next_key(self) -> int:
        return self._next_key

    def __len__(self) -> int:
        return len(self._queue)

    def add_request(self, index: int, request: Message) -> bytes:
        """Register a request served at ``index``; returns the key to send in the confirming heartbeat."""
        key = str(self._next_key).encode()
        self._next_key += 1
        self._pending[key] = ReadIndexStatus(request=request, index=index)
        self._queue.append(key)
        return key

    def last_pending_key(self) -> bytes:
        """The key a heartbeat should carry to confirm every pending request; empty if none."""
        return self._queue[-1] if self._queue else b""

    def recv_ack(self, member: str, key: bytes) -> set[str] | None:
        """Record that ``member`` answered the heartbeat carrying ``key``; the acks so far, or None."""
        status = self._pending.get(key)
        if status is None:
            return None
        status.acks.add(member)
        return status.acks

    def advance(self, key: bytes) -> list[ReadIndexStatus]:
        """Release the request with ``key`` and every request queued before it, oldest first."""
        if key not in self._pending:
            return []
        position = self._queue.index(key)
        released = [self._pending.pop(k) for k in self._queue[: position + 1]]
        del self._queue[: position + 1]
        return released
