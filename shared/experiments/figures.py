"""Recovery figures from a recording whose fault is at time 0: detection, recovery, gaps, errors, latency.

The definitions, all in seconds relative to the fault (the start of the method's first disruptive action):

- detected: the first timeline event after the fault in which the cluster reacts (a new etcd leader, a
  leader Lease changing hands, a Node turning NotReady, supervisord restarting a process).
- heal: the end of the method's last disruptive action; recovery is measured from there, so a fault
  held on purpose for 5 s does not count against the recovery.
- recovered: the later of (a) the first successful client operation completed after the last failed one
  ended, and (b) the first passing probe round after the last failing one since the heal; ``None`` when
  either never happened. With no failure at all, recovered is the heal itself.
- the longest write gap: the longest time after the fault without a write being acknowledged.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence

from pydantic import BaseModel

from shared.experiments.records import Event, OpKind, OpRecord, ProbeRound

KINDS: tuple[OpKind, ...] = ("write", "read", "api", "service", "pod")


class Figures(BaseModel):
    heal_at: float
    detected_at: float | None
    recovered_at: float | None
    time_to_detect: float | None
    time_to_recover: float | None
    first_write_after_fault: float | None
    max_write_gap: float | None
    client_errors: int
    errors_by_kind: dict[str, int]
    operations: dict[str, int]
    latency_p50_ms: dict[str, float]
    latency_p99_ms: dict[str, float]


class Bin(BaseModel):
    """One slice of the availability plot for one kind of operation."""

    start: float
    kind: OpKind
    ok: int
    failed: int
    latency_p50_ms: float | None
    latency_max_ms: float | None

    @property
    def availability(self) -> float | None:
        total = self.ok + self.failed
        return self.ok / total if total else None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def detected_at(events: Sequence[Event], sources: Collection[str] | None = None) -> float | None:
    """The first reaction at or after the fault, from ``sources`` only when given."""
    return min(
        (e.at for e in events if e.reaction and e.at >= 0 and (sources is None or e.source in sources)),
        default=None,
    )


def client_recovered_at(ops: Sequence[OpRecord], heal_at: float) -> float | None:
    """When clients succeed again after their last failure since the fault (``heal_at`` if none failed)."""
    failures = [op.end for op in ops if not op.ok and op.end >= 0]
    if not failures:
        return heal_at
    last_failure = max(failures)
    return min((op.end for op in ops if op.ok and op.end >= last_failure), default=None)


def steady_state_restored_at(rounds: Sequence[ProbeRound], heal_at: float) -> float | None:
    """The first passing probe round after the last failing one since the heal (``heal_at``: none failed)."""
    since = [r for r in rounds if r.at >= heal_at]
    failing = [r.at for r in since if not r.ok]
    if not failing:
        return heal_at
    last = max(failing)
    return min((r.at for r in since if r.ok and r.at > last), default=None)


def max_write_gap(ops: Sequence[OpRecord], load_end: float) -> float | None:
    """The longest interval within [0, ``load_end``] with no write acknowledged; ``None`` without writers."""
    writes = [op for op in ops if op.kind == "write"]
    if not writes:
        return None
    acks = sorted(op.end for op in writes if op.ok and 0 <= op.end <= load_end)
    marks = [0.0, *acks, load_end]
    return max(b - a for a, b in itertools.pairwise(marks))


def compute_figures(
    ops: Sequence[OpRecord],
    events: Sequence[Event],
    rounds: Sequence[ProbeRound],
    heal_at: float,
    load_end: float,
    detect_on: Collection[str] | None = None,
) -> Figures:
    detected = detected_at(events, detect_on)
    client = client_recovered_at(ops, heal_at)
    steady = steady_state_restored_at(rounds, heal_at)
    recovered = None if client is None or steady is None else max(heal_at, client, steady)
    first_write = min((op.end for op in ops if op.kind == "write" and op.ok and op.start >= 0), default=None)
    by_kind = {kind: [op for op in ops if op.kind == kind] for kind in KINDS}
    by_kind = {kind: kind_ops for kind, kind_ops in by_kind.items() if kind_ops}
    latencies = {kind: [op.latency * 1000 for op in kind_ops if op.ok] for kind, kind_ops in by_kind.items()}
    return Figures(
        heal_at=heal_at,
        detected_at=detected,
        recovered_at=recovered,
        time_to_detect=detected,
        time_to_recover=None if recovered is None else recovered - heal_at,
        first_write_after_fault=first_write,
        max_write_gap=max_write_gap(ops, load_end),
        client_errors=sum(1 for op in ops if not op.ok),
        errors_by_kind={kind: sum(1 for op in kind_ops if not op.ok) for kind, kind_ops in by_kind.items()},
        operations={kind: len(kind_ops) for kind, kind_ops in by_kind.items()},
        latency_p50_ms={kind: percentile(values, 0.5) for kind, values in latencies.items() if values},
        latency_p99_ms={kind: percentile(values, 0.99) for kind, values in latencies.items() if values},
    )


def availability_series(ops: Sequence[OpRecord], width: float = 0.5) -> list[Bin]:
    """Operations binned by the time they completed, per kind: successes, failures and latencies."""
    if width <= 0:
        raise ValueError("bin width must be positive")
    grouped: dict[tuple[OpKind, int], list[OpRecord]] = {}
    for op in ops:
        grouped.setdefault((op.kind, int(op.end // width)), []).append(op)
    bins = []
    for (kind, index), members in sorted(grouped.items()):
        latencies = [op.latency * 1000 for op in members if op.ok]
        bins.append(
            Bin(
                start=index * width,
                kind=kind,
                ok=len(latencies),
                failed=len(members) - len(latencies),
                latency_p50_ms=percentile(latencies, 0.5) if latencies else None,
                latency_max_ms=max(latencies) if latencies else None,
            )
        )
    return bins
