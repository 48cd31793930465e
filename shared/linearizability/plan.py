"""What the search knows about each operation of one key, worked out once before it starts.

Besides each operation's step function, the plan holds the tables behind three reductions that keep the
search small on register histories. None changes a verdict, only how much of the search space is walked
to reach it:

- Observers (``observer``): completed reads and failed cas operations leave the register as they found
  it, so one that fits can be placed at once, without trying the alternatives (``search``).
- Twins (``twin_before``): operations with an unknown outcome and the same effect are interchangeable,
  so only the earliest unplaced one is tried (``_twins``).
- Pins (``sets``, ``needs``): the value each operation may write and the one it must find. A read of 1
  can only be placed while the register holds 1; once it does not, and nothing left to place writes 1,
  no extension of the prefix places that read, so the search backs out at once instead of discovering
  it after trying every order of what lies between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.linearizability.history import Cas, Delete, Operation, Read, Status, Write
from shared.linearizability.model import State, Step, compile_step, fold, is_observer
from shared.linearizability.partition import observed_values

NONE = -1
"""In ``twin_before``, ``sets`` and ``needs``: no such operation, or no such value."""

_NOTHING = object()


@dataclass(frozen=True, slots=True)
class Plan:
    ops: Sequence[Operation]
    """One key's operations, in invocation order; the search refers to them by index."""
    steps: list[Step]
    completed: list[bool]
    """False for an operation with an unknown outcome: it need not be placed, and has no return."""
    observer: list[bool]
    twin_before: list[int]
    """For an operation with an unknown outcome, the latest one invoked before it with the same effect."""
    sets: list[int]
    """The id of the value the operation may leave in the register, or NONE."""
    needs: list[int]
    """The id of the value the operation must find in the register, or NONE."""
    value_ids: dict[object, int]

    def stranded(self, placed: set[int], state: State) -> int | None:
        """A completed operation not in ``placed`` that can never be placed after it, or None.

        It needs a value the register does not hold, and no operation outside ``placed`` can write it:
        in ``write 1; read -> 1; write 2``, once ``write 2`` follows ``write 1``, the read is stranded.
        """
        writable = {self.sets[i] for i in range(len(self.ops)) if i not in placed}
        current = self.value_ids.get(state, NONE)
        for i, need in enumerate(self.needs):
            if need != NONE and i not in placed and need != current and need not in writable:
                return i
        return None


def plan(ops: Sequence[Operation]) -> Plan:
    observed = observed_values(ops)
    pins = [_pins(op, observed) for op in ops]
    value_ids: dict[object, int] = {}
    for pin in pins:
        for value in pin:
            if value is not _NOTHING:
                value_ids.setdefault(value, len(value_ids))
    return Plan(
        ops=ops,
        steps=[compile_step(op, observed) for op in ops],
        completed=[op.ret is not None for op in ops],
        observer=[is_observer(op) for op in ops],
        twin_before=_twins(ops, observed),
        sets=[NONE if sets is _NOTHING else value_ids[sets] for sets, _ in pins],
        needs=[NONE if needs is _NOTHING else value_ids[needs] for _, needs in pins],
        value_ids=value_ids,
    )


def _pins(op: Operation, observed: set[object]) -> tuple[object, object]:
    """(the value the operation may leave in the register, the value it must find there).

    A cas that fails needs nothing in particular (only "not ``expected``"), and one whose outcome is
    unknown may or may not write. ``_NOTHING`` stands for neither.
    """
    match op.op:
        case Read():
            return _NOTHING, op.result
        case Write(value=value):
            return fold(value, observed), _NOTHING
        case Delete():
            return None, _NOTHING
        case Cas(expected=expected, new=new):
            if op.status is Status.INFO:
                return fold(new, observed), _NOTHING
            if op.result:
                return fold(new, observed), expected
    return _NOTHING, _NOTHING


def _twins(ops: Sequence[Operation], observed: set[object]) -> list[int]:
    """For each operation with an unknown outcome, the latest one before it with the same effect.

    Twins are interchangeable, so the search only ever places the earliest twin not yet placed: with
    ``k`` timed-out writes of values nobody read (all UNOBSERVED), it tries ``k + 1`` ways to place them
    rather than ``2 ** k``. This loses nothing: in any linearization, reassigning twins to the places the
    set of them occupies, earliest invocation first, keeps it one, since an operation invoked earlier is
    allowed wherever a later one is; and then the twins placed are the earliest ones.
    """
    last: dict[tuple[object, ...], int] = {}
    twin_before = [NONE] * len(ops)
    for i, op in enumerate(ops):
        if op.ret is not None:
            continue
        match op.op:
            case Write(value=value):
                effect: tuple[object, ...] = ("write", fold(value, observed))
            case Delete():
                effect = ("delete",)
            case Cas(expected=expected, new=new):
                effect = ("cas", expected, fold(new, observed))
            case _:
                continue
        twin_before[i] = last.get(effect, NONE)
        last[effect] = i
    return twin_before
