"""The verdict follows from the checks (thresholds, expectations, audit), and the reports say it: the text
summary, the table of many runs and the comparison of two."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.experiments.figures import Figures
from shared.experiments.model import Thresholds
from shared.experiments.records import Event, OpRecord
from shared.experiments.report import compare_table, summary_table, summary_text, write_report
from shared.experiments.result import ExperimentResult, error_counts
from shared.experiments.verdict import Audit, Check, audit_checks, outcome, threshold_checks


def figures(**overrides: object) -> Figures:
    values: dict[str, object] = {
        "heal_at": 0.0,
        "detected_at": 0.5,
        "recovered_at": 2.0,
        "time_to_detect": 0.5,
        "time_to_recover": 2.0,
        "first_write_after_fault": 1.0,
        "max_write_gap": 1.5,
        "client_errors": 4,
        "errors_by_kind": {"write": 4},
        "operations": {"write": 100},
        "latency_p50_ms": {"write": 5.0},
        "latency_p99_ms": {"write": 50.0},
    }
    return Figures.model_validate({**values, **overrides})


def audit(**overrides: object) -> Audit:
    values: dict[str, object] = {
        "acknowledged_writes": 96,
        "lost_writes": 0,
        "linearizability": "linearizable",
    }
    return Audit.model_validate({**values, **overrides})


def failing(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if not c.ok]


@pytest.mark.parametrize(
    ("thresholds", "measured", "failed"),
    [
        (Thresholds(), figures(), []),
        (Thresholds(recovery_seconds=10, detection_seconds=1), figures(), []),
        (Thresholds(recovery_seconds=1.5), figures(), ["recovery time"]),
        (Thresholds(detection_seconds=0.1), figures(), ["detection time"]),
        (Thresholds(detection_seconds=5), figures(time_to_detect=None), ["detection time"]),
        (Thresholds(max_client_errors=3), figures(), ["client errors"]),
        (Thresholds(max_client_errors=4), figures(), []),
        (Thresholds(max_write_gap_seconds=1), figures(), ["longest write gap"]),
        (Thresholds(), figures(recovered_at=None, time_to_recover=None), ["recovered"]),
    ],
)
def test_thresholds_fail_exactly_the_figures_beyond_them(
    thresholds: Thresholds, measured: Figures, failed: list[str]
) -> None:
    assert failing(threshold_checks(thresholds, measured)) == failed


@pytest.mark.parametrize(
    ("found", "allowed", "failed"),
    [
        (audit(), 0, []),
        (audit(lost_writes=1, lost_examples=["/k@7: missing (wrote w0-3)"]), 0, ["acknowledged writes kept"]),
        (audit(lost_writes=1), 1, []),
        (audit(misplaced_acks=1), 0, ["acknowledgements name their revision"]),
        (audit(linearizability="not linearizable"), 0, ["KV history linearizable"]),
        (audit(linearizability="unknown (budget exhausted)"), 0, ["KV history linearizable"]),
        (audit(deployments=[Check(name="deployment web whole", ok=False)]), 0, ["deployment web whole"]),
    ],
)
def test_the_audit_fails_on_a_lost_write_a_non_linearizable_history_or_a_broken_deployment(
    found: Audit, allowed: int, failed: list[str]
) -> None:
    assert failing(audit_checks(Thresholds(writes_lost=allowed), found)) == failed


def test_the_outcome_is_aborted_without_a_steady_state_else_passed_only_when_every_check_is() -> None:
    good, bad = Check(name="a", ok=True), Check(name="b", ok=False)
    assert outcome(good, [good, good]) == "passed"
    assert outcome(good, [good, bad]) == "failed"
    assert outcome(bad, [bad]) == "aborted"


def result(name: str = "etcd-leader-kill", **overrides: object) -> ExperimentResult:
    ops = [
        OpRecord(kind="write", start=-0.5, end=-0.49, ok=True),
        OpRecord(kind="write", start=0.0, end=1.0, ok=False, error="504 no reply"),
        OpRecord(kind="write", start=1.0, end=1.01, ok=True),
    ]
    values: dict[str, object] = {
        "name": name,
        "started_at": "2026-11-27T07:00:00+00:00",
        "duration": 9.0,
        "verdict": "passed",
        "checks": [Check(name="recovery time", ok=True, detail="2.00 s (limit 10 s)")],
        "figures": figures(),
        "audit": audit(),
        "timeline": [Event(at=0.5, source="etcd", text="etcd leader cp-2", reaction=True)],
        "ops": ops,
        "errors": error_counts(ops),
    }
    return ExperimentResult.model_validate({**values, **overrides})


def test_the_summary_shows_verdict_checks_figures_timeline_and_errors() -> None:
    text = summary_text(result())
    assert text.startswith("etcd-leader-kill: PASSED")
    assert "[ok] recovery time: 2.00 s (limit 10 s)" in text
    assert "time to recover       2.00 s" in text
    assert "+0.50 s  etcd     etcd leader cp-2" in text
    assert "1 × write: 504 no reply" in text
    assert "96 acknowledged writes, 0 lost" in text


def test_the_summary_table_has_a_row_per_run_and_dashes_for_what_was_not_measured() -> None:
    skipped = result("worker-node-crash", verdict="skipped", figures=None, audit=None)
    lines = summary_table([result(), skipped]).splitlines()
    assert lines[0].split() == [
        "experiment",
        "verdict",
        "detect",
        "recover",
        "client",
        "errors",
        "writes",
        "lost",
    ]
    assert lines[2].split() == ["etcd-leader-kill", "passed", "0.50", "s", "2.00", "s", "4", "0"]
    assert lines[3].split() == ["worker-node-crash", "skipped", "—", "—", "—", "—"]


def test_a_comparison_shows_both_values_and_the_change() -> None:
    slower = result(figures=figures(time_to_recover=3.5, client_errors=10))
    table = compare_table(result(), slower)
    recover = next(line for line in table.splitlines() if line.startswith("time to recover"))
    assert recover.split()[-3:] == ["2.00", "3.50", "+1.50"]
    errors = next(line for line in table.splitlines() if line.startswith("client errors"))
    assert errors.split()[-3:] == ["4", "10", "+6.00"]


def test_a_report_directory_holds_the_result_the_summary_and_a_png(tmp_path: Path) -> None:
    directory = write_report(result(), tmp_path / "run")
    assert ExperimentResult.load(directory / "result.json") == result()
    assert (directory / "summary.txt").read_text() == summary_text(result())
    assert (directory / "plot.png").read_bytes().startswith(b"\x89PNG")
