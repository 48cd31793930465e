"""A test member: a state machine fed commands at consecutive Raft indexes, and what a client sees."""

from __future__ import annotations

from typing import Any

from services.etcd.mvcc import ALL_KEYS, ApplyResult, KeyValue, KVStateMachine, RangeRequest, encode_command
from services.etcd.mvcc.commands import Command


class Member:
    """A state machine fed commands at consecutive Raft indexes, as the driver would."""

    def __init__(self) -> None:
        self.sm = KVStateMachine()
        self.index = 0

    def apply(self, command: Command | bytes, now: float | None = None) -> ApplyResult:
        self.index += 1
        data = command if isinstance(command, bytes) else encode_command(command)
        return self.sm.apply(self.index, data, now)

    def range(
        self, key: str = ALL_KEYS, range_end: str | None = ALL_KEYS, revision: int = 0
    ) -> list[KeyValue]:
        return self.sm.range(RangeRequest(key, range_end, revision=revision)).kvs


def outcome(result: ApplyResult) -> Any:
    """What a client would see: the reply body or the error's code and message."""
    if result.error is not None:
        return ("error", result.error.code, result.error.message)
    return result.response.to_wire() if result.response is not None else None
