"""The verdict: every check an experiment makes, each passed or failed with the numbers that decided it.

An experiment passes when the steady state held before the method and came back after it, every
``expect`` action saw what it expected, the figures meet the thresholds, and the audit found nothing
lost: every acknowledged write read back, the KV history linearizable, every Deployment whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from shared.experiments.figures import Figures
from shared.experiments.model import Thresholds

Outcome = Literal["passed", "failed", "aborted", "skipped"]


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class Audit(BaseModel):
    """What the audit after the experiment found."""

    acknowledged_writes: int
    lost_writes: int
    lost_examples: list[str] = []
    misplaced_acks: int = 0
    """Writes acknowledged with a revision other than the one that wrote them."""
    misplaced_examples: list[str] = []
    linearizability: str
    linearizability_detail: str = ""
    deployments: list[Check] = []

    @property
    def linearizable(self) -> bool:
        return self.linearizability == "linearizable"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def _at_most(name: str, value: float | None, limit: float | None, unit: str = "s") -> Check | None:
    if limit is None:
        return None
    if value is None:
        return Check(name=name, ok=False, detail=f"not measured (never happened), limit {limit:g} {unit}")
    shown = f"{value:.2f} {unit}" if unit == "s" else f"{value:g}"
    return Check(
        name=name, ok=value <= limit, detail=f"{shown} (limit {limit:g}{' s' if unit == 's' else ''})"
    )


def threshold_checks(thresholds: Thresholds, figures: Figures) -> list[Check]:
    recovered = Check(
        name="recovered",
        ok=figures.recovered_at is not None,
        detail=f"time to recover {_seconds(figures.time_to_recover)}",
    )
    limits = [
        _at_most("recovery time", figures.time_to_recover, thresholds.recovery_seconds),
        _at_most("detection time", figures.time_to_detect, thresholds.detection_seconds),
        _at_most("client errors", figures.client_errors, thresholds.max_client_errors, unit="errors"),
        _at_most("longest write gap", figures.max_write_gap, thresholds.max_write_gap_seconds),
    ]
    return [recovered, *(check for check in limits if check is not None)]


def audit_checks(thresholds: Thresholds, audit: Audit) -> list[Check]:
    lost = Check(
        name="acknowledged writes kept",
        ok=audit.lost_writes <= thresholds.writes_lost,
        detail=f"{audit.lost_writes} of {audit.acknowledged_writes} lost"
        + (f": {', '.join(audit.lost_examples[:3])}" if audit.lost_examples else ""),
    )
    linear = Check(
        name="KV history linearizable",
        ok=audit.linearizable,
        detail=audit.linearizability
        + (
            f"\n{audit.linearizability_detail}"
            if audit.linearizability_detail and not audit.linearizable
            else ""
        ),
    )
    revisions = Check(
        name="acknowledgements name their revision",
        ok=audit.misplaced_acks == 0,
        detail=f"{audit.misplaced_acks} of {audit.acknowledged_writes} acknowledged at a wrong revision"
        + (f": {audit.misplaced_examples[0]}" if audit.misplaced_examples else ""),
    )
    return [lost, revisions, linear, *audit.deployments]


def outcome(before: Check, checks: Sequence[Check]) -> Outcome:
    """``aborted`` when the cluster was not healthy to begin with (nothing was injected), else passed or
    failed on every check."""
    if not before.ok:
        return "aborted"
    return "passed" if all(check.ok for check in checks) else "failed"
