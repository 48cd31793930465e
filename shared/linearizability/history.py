"""A history of client operations on the key-value store, recorded as they are invoked and complete.

A fault test invokes an operation just before it sends the request and completes it just after the reply
(or the failure) arrives, from any thread or task: recording is plain dictionary inserts, safe under the
GIL and without locks. The checker reads the history afterwards with :meth:`History.operations`.

Each operation ends in one of three ways, as in Jepsen:

- ``ok``: it took effect exactly once, somewhere between its invocation and its return, with this result.
- ``fail``: it definitely did not take effect (the request was refused before reaching the log).
- ``info``: nobody knows (a timeout, a dropped connection). It may take effect at any moment after its
  invocation, even long after the client gave up, or never; so it has no return time.

An operation still pending when the history is read counts as ``info``: its client crashed or hung.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

Value: TypeAlias = Hashable
"""A register value. ``None`` is reserved for "the key does not exist", so it cannot be written."""

ClientId: TypeAlias = str | int


@dataclass(frozen=True, slots=True)
class Read:
    """Returns the key's value, or ``None`` when the key does not exist."""

    key: str

    def __str__(self) -> str:
        return f"read({self.key!r})"


@dataclass(frozen=True, slots=True)
class Write:
    """Sets the key's value. Its result is ``None``."""

    key: str
    value: Value

    def __post_init__(self) -> None:
        if self.value is None:
            raise ValueError("None means 'no such key'; use Delete to remove a key")

    def __str__(self) -> str:
        return f"write({self.key!r}, {self.value!r})"


@dataclass(frozen=True, slots=True)
class Cas:
    """Compare-and-set: sets ``new`` if the value equals ``expected``; the result says whether it did.

    This is an etcd transaction comparing the value. ``expected=None`` compares against a missing key
    (etcd: ``create_revision == 0``), since etcd's value comparison never matches a missing key.
    """

    key: str
    expected: Value | None
    new: Value

    def __post_init__(self) -> None:
        if self.new is None:
            raise ValueError("None means 'no such key'; a cas cannot set it")

    def __str__(self) -> str:
        return f"cas({self.key!r}, {self.expected!r} -> {self.new!r})"


@dataclass(frozen=True, slots=True)
class Delete:
    """Removes the key, whether or not it exists. Its result is ``None``."""

    key: str

    def __str__(self) -> str:
        return f"delete({self.key!r})"


Op: TypeAlias = Read | Write | Cas | Delete


class Status(Enum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Operation:
    """One invocation and its outcome. ``ret`` is ``None`` exactly when the outcome is unknown."""

    id: int
    client_id: ClientId
    op: Op
    status: Status
    call: int
    ret: int | None
    result: Value | None = None

    @property
    def key(self) -> str:
        return self.op.key

    def describe(self, origin: int = 0) -> str:
        """One line for a person: client, operation, result and interval, times relative to ``origin``."""
        if self.status is Status.FAIL:
            outcome, end = "refused", "…"
        elif self.ret is None:
            outcome, end = "? (unknown outcome)", "…"
        else:
            outcome = repr(self.result) if isinstance(self.op, Read | Cas) else "ok"
            end = str(self.ret - origin)
        return f"client {self.client_id}: {self.op} -> {outcome}  [{self.call - origin}, {end}]"


class History:
    """Operations as clients invoke and complete them; timestamps from ``clock`` unless given with ``at``.

    Timestamps are integers on one monotonic clock shared by all clients (``time.monotonic_ns`` by
    default): the checker compares them across clients, so every client must be in the same process or
    use a clock the processes share.
    """

    def __init__(self, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._clock = clock
        self._ids = itertools.count()  # next() is atomic under the GIL: ids are unique across threads
        self._invocations: dict[int, tuple[ClientId, Op, int]] = {}
        self._completions: dict[int, tuple[Status, Value | None, int | None]] = {}

    def invoke(self, client_id: ClientId, op: Op, *, at: int | None = None) -> int:
        """Records an invocation; call it before the request leaves. Returns the operation's id."""
        call = self._clock() if at is None else at
        op_id = next(self._ids)
        self._invocations[op_id] = (client_id, op, call)
        return op_id

    def ok(self, op_id: int, result: Value | None = None, *, at: int | None = None) -> None:
        """Records that the operation took effect with ``result``; call it after the reply arrives.

        ``result`` is the value read (``None`` for a missing key), a bool for a cas, ``None`` otherwise.
        """
        _, op, call = self._pending(op_id)
        if isinstance(op, Cas) and not isinstance(result, bool):
            raise TypeError(f"a cas completes with a bool, not {result!r}")
        if isinstance(op, Write | Delete) and result is not None:
            raise TypeError(f"{op} completes without a result, not {result!r}")
        ret = self._clock() if at is None else at
        if ret < call:
            raise ValueError(f"operation {op_id} returns at {ret}, before its invocation at {call}")
        self._completions[op_id] = (Status.OK, result, ret)

    def fail(self, op_id: int) -> None:
        """Records that the operation definitely did not take effect (e.g. the request was refused)."""
        self._pending(op_id)
        self._completions[op_id] = (Status.FAIL, None, None)

    def info(self, op_id: int) -> None:
        """Records that the outcome is unknown (e.g. a timeout): it may take effect later, or never."""
        self._pending(op_id)
        self._completions[op_id] = (Status.INFO, None, None)

    def operations(self) -> list[Operation]:
        """Every operation invoked so far, in invocation order; those still pending count as ``info``."""
        ops = []
        for op_id, (client_id, op, call) in sorted(self._invocations.items()):
            status, result, ret = self._completions.get(op_id, (Status.INFO, None, None))
            ops.append(Operation(op_id, client_id, op, status, call, ret, result))
        return ops

    def __len__(self) -> int:
        return len(self._invocations)

    def _pending(self, op_id: int) -> tuple[ClientId, Op, int]:
        if op_id not in self._invocations:
            raise KeyError(f"no operation {op_id} was invoked")
        if op_id in self._completions:
            raise ValueError(f"operation {op_id} already completed")
        return self._invocations[op_id]
