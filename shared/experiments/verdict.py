"""The verdict: every check an experiment makes, each passed or failed with the numbers that decided it.

An experiment passes when the steady state held before the method and came back after it, every
``expect`` action saw what it expected, the figures meet the thresholds, and the audit found nothing
lost: every acknowledged write read back, the KV history linearizable, every Deployment whole, every
acknowledged pod still there (and run); with ``restart_backoff``, the kubelet's restart back-off grew as
Kubernetes' does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from shared.experiments.figures import Figures
from shared.experiments.model import RestartBackoff, Thresholds
from shared.experiments.podaudit import PodAudit
from shared.experiments.restarts import Restart, judge_backoff

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
    pods: PodAudit | None = None
    """The pod-creation load's audit, when the load created pods."""

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
        _at_most(
            "pod create errors",
            figures.errors_by_kind.get("pod", 0),
            thresholds.max_pod_create_errors,
            unit="errors",
        ),
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
    return [lost, revisions, linear, *audit.deployments, *pod_checks(thresholds, audit.pods)]


def pod_checks(thresholds: Thresholds, pods: PodAudit | None) -> list[Check]:
    """Every acknowledged pod kept with its uid and run; start-up p99 within its limit when one is set."""
    if pods is None:
        return []
    kept = Check(
        name="acknowledged pods kept",
        ok=pods.lost == 0,
        detail=f"{pods.lost} of {pods.acknowledged} lost"
        + (f": {', '.join(pods.lost_examples[:3])}" if pods.lost_examples else ""),
    )
    ran = Check(
        name="acknowledged pods ran",
        ok=pods.not_running == 0,
        detail=f"{pods.acknowledged - pods.lost - pods.not_running} of {pods.acknowledged - pods.lost} "
        f"seen Running; start-up p50 {_seconds(pods.running_p50)}, p99 {_seconds(pods.running_p99)}"
        + (f"; never ran: {', '.join(pods.not_running_examples[:3])}" if pods.not_running_examples else ""),
    )
    startup = _at_most("pod start-up p99", pods.running_p99, thresholds.pod_startup_p99_seconds)
    return [kept, ran, *([startup] if startup is not None else [])]


def backoff_check(spec: RestartBackoff | None, found: Sequence[Restart]) -> list[Check]:
    """``restart back-off grows`` for the pod ``spec`` names, judged on its containers' restarts."""
    if spec is None:
        return []
    prefix = f"{spec.namespace}/{spec.pod}/"
    mine = [restart for restart in found if restart.container.startswith(prefix)]
    ok, detail = judge_backoff(mine, spec.min_restarts, spec.tolerance_seconds)
    return [Check(name="restart back-off grows", ok=ok, detail=detail)]


def outcome(before: Check, checks: Sequence[Check]) -> Outcome:
    """``aborted`` when the cluster was not healthy to begin with (nothing was injected), else passed or
    failed on every check."""
    if not before.ok:
        return "aborted"
    return "passed" if all(check.ok for check in checks) else "failed"
