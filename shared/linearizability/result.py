"""The checker's answer: a verdict, and for a violation what a person needs to see why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from shared.linearizability.history import Operation
from shared.linearizability.model import State, describe_state

PREFIX_SHOWN = 8
"""How many operations of the linearizable prefix an explanation shows: the last ones, nearest the
violation; the earlier ones are counted."""


class Verdict(Enum):
    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not linearizable"
    UNKNOWN = "unknown (budget exhausted)"


@dataclass(frozen=True, slots=True)
class Blocked:
    """An operation that real time allowed to come next after the prefix, and why the register refuses it."""

    operation: Operation
    reason: str
    strands: Operation | None = None
    """The operation that placing this one would leave impossible to place, when that is the reason."""


@dataclass(frozen=True, slots=True)
class Violation:
    """Why one key's history is not linearizable.

    ``prefix`` is the longest sequence of that key's operations the search linearized, in order, and
    ``state`` the register after it. ``blocked`` holds every operation real time allows to come next
    (invoked before the earliest return among those not yet placed), each with the reason the register
    refuses it, or the operation that placing it would leave impossible to place. When a read returned
    a value nothing writes, ``blocked`` is that read alone. The search skips prefixes it can tell lead
    nowhere, so a longer dead end may exist; this one is as good a place to look as any.
    """

    key: str
    prefix: tuple[Operation, ...]
    state: State
    blocked: tuple[Blocked, ...]
    unplaced: int
    """How many operations with a known outcome are left outside the prefix."""

    def explain(self, origin: int = 0) -> str:
        """Several lines for a person; times are printed relative to ``origin``."""
        lines = [f"key {self.key!r} is not linearizable."]
        held = describe_state(self.state)
        if self.prefix:
            lines.append(f"Longest linearizable prefix found ({len(self.prefix)} operations):")
            hidden = len(self.prefix) - PREFIX_SHOWN
            if hidden > 0:
                lines.append(f"  ... {hidden} earlier operations")
            start = max(hidden, 0)
            for n, operation in enumerate(self.prefix[start:], start=start + 1):
                lines.append(f"  {n:>4}. {operation.describe(origin)}")
            lines.append(f"After it {held}; nothing can come next ({self.unplaced} still to place):")
        else:
            lines.append(f"No operation can be linearized first ({held} initially):")
        for blocked in self.blocked:
            lines.append(f"  {blocked.operation.describe(origin)}")
            lines.append(f"        {blocked.reason}")
            if blocked.strands is not None:
                lines.append(f"          {blocked.strands.describe(origin)}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on a whole history, with the violation when there is one.

    ``unknown_keys`` are the keys whose check the budget cut short or never reached; the verdict is
    ``UNKNOWN`` when there are some and no key was found not linearizable.
    """

    verdict: Verdict
    violation: Violation | None
    unknown_keys: tuple[str, ...]
    keys: int
    operations: int
    steps: int
    elapsed: float
    origin: int
    """The earliest invocation time in the history; explanations print times relative to it."""

    @property
    def linearizable(self) -> bool:
        """True only when the history was shown linearizable; False when it is not, or it is unknown."""
        return self.verdict is Verdict.LINEARIZABLE

    @property
    def key(self) -> str | None:
        """The key found not linearizable, if any."""
        return None if self.violation is None else self.violation.key

    def explain(self) -> str:
        summary = (
            f"{self.verdict.value}: {self.operations} operations on {self.keys} keys, "
            f"{self.steps} search steps in {self.elapsed:.3f} s"
        )
        if self.violation is not None:
            return f"{summary}\n{self.violation.explain(self.origin)}"
        if self.unknown_keys:
            shown = ", ".join(repr(key) for key in self.unknown_keys[:10])
            more = f" and {len(self.unknown_keys) - 10} more" if len(self.unknown_keys) > 10 else ""
            return f"{summary}\nkeys not decided: {shown}{more}"
        return summary

    def __str__(self) -> str:
        return self.explain()
