"""What a run records: client operations, timeline events and probe rounds, each with its time.

During a run times are ``time.monotonic()`` seconds; the report shifts them so the fault is at 0
(:meth:`Recording.relative_to`), which is the frame every figure and the plot use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

OpKind = Literal["write", "read", "api", "service", "pod"]
Source = Literal["action", "etcd", "lease", "node", "pod", "process", "probe", "load"]


class OpRecord(BaseModel):
    """One client request: when it left, when its reply (or failure) came, and how it ended."""

    model_config = ConfigDict(frozen=True)

    kind: OpKind
    start: float
    end: float
    ok: bool
    error: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start


class Event(BaseModel):
    """A line of the timeline. ``reaction`` marks the cluster reacting (a new leader, a node NotReady, a
    process restarted); the first reaction after the fault is when the fault was detected."""

    model_config = ConfigDict(frozen=True)

    at: float
    source: Source
    text: str
    reaction: bool = False


class ProbeRound(BaseModel):
    """Every steady-state probe asked once; ``failing`` names those that did not pass."""

    model_config = ConfigDict(frozen=True)

    at: float
    ok: bool
    failing: list[str] = []


@dataclass
class Recording:
    """Everything observed during one run, appended to by the load, the watcher and the runner."""

    ops: list[OpRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rounds: list[ProbeRound] = field(default_factory=list)

    def op(self, kind: OpKind, start: float, ok: bool, error: str = "") -> None:
        self.ops.append(OpRecord(kind=kind, start=start, end=time.monotonic(), ok=ok, error=error))

    def event(self, source: Source, text: str, *, reaction: bool = False, at: float | None = None) -> None:
        self.events.append(
            Event(at=time.monotonic() if at is None else at, source=source, text=text, reaction=reaction)
        )

    def round(self, at: float, ok: bool, failing: list[str]) -> None:
        """A probe round, stamped when it was asked (a slow answer does not move it later)."""
        self.rounds.append(ProbeRound(at=at, ok=ok, failing=failing))

    def relative_to(self, origin: float) -> Recording:
        """The same recording with ``origin`` as time 0, events in time order."""
        return Recording(
            ops=[
                op.model_copy(update={"start": op.start - origin, "end": op.end - origin}) for op in self.ops
            ],
            events=sorted(
                (e.model_copy(update={"at": e.at - origin}) for e in self.events), key=lambda e: e.at
            ),
            rounds=sorted(
                (r.model_copy(update={"at": r.at - origin}) for r in self.rounds), key=lambda r: r.at
            ),
        )
