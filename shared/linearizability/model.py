"""The sequential specification histories are checked against: one register per key, initially absent.

A register's state is its value, or ``None`` while the key does not exist. The checker asks one
question of the model, over and over: "if this operation took effect now, in this state, could it have
returned what it returned, and what would the state be afterwards?" :func:`compile_step` answers it
with a small function per operation, built once, because the search calls it millions of times.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Final, TypeAlias

from shared.linearizability.history import Cas, Delete, Operation, Read, Status, Value, Write

State: TypeAlias = Value | None
Step: TypeAlias = Callable[[State], tuple[bool, State]]
"""Given the state before an operation: whether its recorded result fits, and the state after it."""

INITIAL: State = None


class _Unobserved:
    def __repr__(self) -> str:
        return "<a value nothing observed>"


UNOBSERVED: Final = _Unobserved()
"""The state after writing a value that no read returned and no cas expected.

All such values behave alike from then on: every read and every successful cas of the key refuses
them, every failed cas accepts them, and writes replace them. Folding them into one state lets the
search's cache see that two orders of such writes lead to the same place: with writes 7 and 8 nobody
read, "write 7, write 8" and "write 8, write 7" both leave UNOBSERVED.
"""


def compile_step(operation: Operation, observed: Container[object] | None = None) -> Step:
    """The operation's effect on a register. Only ``ok`` and ``info`` operations are ever stepped.

    ``observed`` holds every value the key's reads returned or its cas operations expected; values
    outside it are written as :data:`UNOBSERVED`. ``None`` keeps every value as it is.
    """
    op, result = operation.op, operation.result
    match op:
        case Read():
            if operation.status is Status.INFO:
                raise ValueError("a read with an unknown outcome constrains nothing; drop it")
            return lambda state: (state == result, state)
        case Write():
            value = fold(op.value, observed)
            return lambda _state: (True, value)
        case Delete():
            return lambda _state: (True, None)
        case Cas(expected=expected):
            new = fold(op.new, observed)
            if operation.status is Status.INFO:
                # Whether it succeeds follows from the state it meets; either way it fits.
                return lambda state: (True, new if state == expected else state)
            if result:
                return lambda state: (state == expected, new)
            return lambda state: (state != expected, state)
    raise TypeError(f"not an operation: {op!r}")


def is_observer(operation: Operation) -> bool:
    """Whether the operation leaves the register as it found it in every state it fits.

    True for completed reads and completed cas operations that failed. The search may place such an
    operation as soon as it fits without trying alternatives first (see the checker).
    """
    if operation.status is not Status.OK:
        return False
    return isinstance(operation.op, Read) or (isinstance(operation.op, Cas) and operation.result is False)


def mismatch(state: State, operation: Operation) -> str | None:
    """Why the operation cannot take effect in ``state``, for a person; ``None`` when it can."""
    legal, _ = compile_step(operation)(state)
    if legal:
        return None
    op = operation.op
    held = describe_state(state)
    if isinstance(op, Cas):
        if operation.result:
            return f"the cas succeeded, so the value was {op.expected!r}, but {held}"
        return f"the cas failed, so the value was not {op.expected!r}, but {held}"
    return f"it returned {operation.result!r}, but {held}"


def describe_state(state: State) -> str:
    if state is None:
        return "the key does not exist"
    if state is UNOBSERVED:
        return "the register holds a value no read returned and no cas expected"
    return f"the register holds {state!r}"


def fold(value: Value, observed: Container[object] | None) -> Value:
    """``value``, or UNOBSERVED when ``observed`` is given and does not hold it."""
    return value if observed is None or value in observed else UNOBSERVED
