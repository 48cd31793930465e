"""A small reading of container commands, so ``sleep 3600`` and ``sh -c "exit 1"`` do what they say.

Only a few forms are understood; anything else leaves the behaviour to the image and the annotations:

- no command in a shell image (busybox, alpine, …): ``sh`` without a terminal exits 0 at once;
- ``sleep N`` (``N`` in seconds or as a duration, or ``infinity``): runs N seconds, then exits 0;
- ``sh -c SCRIPT`` (also ``bash``/``ash``, ``/bin/…``) where every statement of SCRIPT is one of ``sleep N``,
  ``exit [N]``, ``echo WORDS``, ``true``, ``false`` or ``:``, joined by ``;``, ``&&``, ``||`` or newlines:
  it runs for the sum of its sleeps, exits with the status of its last statement or its ``exit``, and its
  ``echo`` lines become log lines.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from services.runtime.values import parse_duration

SHELLS: Final = frozenset({"sh", "bash", "ash", "dash"})
_SEPARATOR = re.compile(r"\s*(;|&&|\|\||\n)\s*")


@dataclass(frozen=True, slots=True)
class CommandPlan:
    """What a command makes the container do: behaviour settings, and lines it prints at start."""

    settings: dict[str, str] = field(default_factory=dict)
    lines: tuple[str, ...] = ()


def _program(argv0: str) -> str:
    return argv0.rsplit("/", 1)[-1]


def _sleep_seconds(words: Sequence[str]) -> float | None:
    """Seconds ``sleep WORDS`` sleeps; ``inf`` for infinity; None if not understood."""
    if len(words) != 1:
        return None
    if words[0] in ("infinity", "inf"):
        return float("inf")
    try:
        return parse_duration(words[0])
    except ValueError:
        return None


def _exit_plan(seconds: float, code: int, lines: Sequence[str] = ()) -> CommandPlan:
    after = "never" if seconds == float("inf") else f"{seconds:g}s"
    return CommandPlan({"exit-after": after, "exit-code": str(code)}, tuple(lines))


def interpret(command: Sequence[str], args: Sequence[str], shell_image: bool) -> CommandPlan:
    """The plan for ``command + args``; an empty plan when the command is not one of the forms above."""
    argv = [*command, *args]
    if not argv:
        return _exit_plan(0.0, 0) if shell_image else CommandPlan()
    program = _program(argv[0])
    if program == "sleep":
        seconds = _sleep_seconds(argv[1:])
        return CommandPlan() if seconds is None else _exit_plan(seconds, 0)
    if program in SHELLS and len(argv) == 3 and argv[1] == "-c":
        return _script_plan(argv[2])
    return CommandPlan()


def _script_plan(script: str) -> CommandPlan:
    parts = _SEPARATOR.split(script.strip())
    statements, separators = parts[0::2], ["", *parts[1::2]]
    elapsed, status = 0.0, 0
    lines: list[str] = []
    for statement, separator in zip(statements, separators, strict=True):
        if (separator == "&&" and status != 0) or (separator == "||" and status == 0):
            continue
        try:
            words = shlex.split(statement)
        except ValueError:
            return CommandPlan()
        if not words:
            continue
        verb, rest = words[0], words[1:]
        if verb == "exit":
            if len(rest) > 1 or (rest and not rest[0].isdigit()):
                return CommandPlan()
            return _exit_plan(elapsed, int(rest[0]) % 256 if rest else status, lines)
        if verb == "sleep":
            seconds = _sleep_seconds(rest)
            if seconds is None:
                return CommandPlan()
            elapsed, status = elapsed + seconds, 0
        elif verb == "echo":
            lines.append(" ".join(rest))
            status = 0
        elif verb in ("true", ":", "false") and not rest:
            status = 1 if verb == "false" else 0
        else:
            return CommandPlan()
    return _exit_plan(elapsed, status, lines)
