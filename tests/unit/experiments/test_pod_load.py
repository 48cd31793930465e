"""The pod-creation load's pure parts: what a look at its namespace records, the audit of every
acknowledged pod (kept with its uid, run, how fast), the checks on it and how reports show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.experiments import ExperimentError, parse_experiment
from shared.experiments.model import Thresholds
from shared.experiments.podaudit import PodAck, PodAudit, PodSeen, all_running, audit_pods, observe
from shared.experiments.podload import pod_manifest
from shared.experiments.records import OpRecord
from shared.experiments.report import compare_table, summary_text, write_report
from shared.experiments.result import ExperimentResult
from shared.experiments.verdict import Check, pod_checks, threshold_checks
from tests.unit.experiments.test_verdict_and_report import audit, figures, result


def pod(name: str, uid: str, node: str = "", phase: str = "Pending") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": uid},
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase},
    }


def ack(name: str, uid: str, sent_at: float) -> PodAck:
    return PodAck(name=name, uid=uid, sent_at=sent_at, acked_at=sent_at + 0.02)


def test_a_look_records_when_each_pod_was_first_seen_scheduled_and_running() -> None:
    seen: dict[str, PodSeen] = {}
    observe(seen, [pod("a", "u1")], now=10.0)
    observe(seen, [pod("a", "u1", "worker-1")], now=10.5)
    observe(seen, [pod("a", "u1", "worker-1", "Running")], now=11.0)
    observe(seen, [pod("a", "u1", "worker-1", "Running")], now=11.5)  # later sightings change nothing
    assert seen == {"a": PodSeen(uid="u1", scheduled_at=10.5, running_at=11.0)}


def test_a_pod_back_under_another_uid_is_seen_afresh() -> None:
    seen = {"a": PodSeen(uid="u1", scheduled_at=1.0, running_at=2.0)}
    observe(seen, [pod("a", "u2")], now=5.0)
    assert seen == {"a": PodSeen(uid="u2")}


def test_the_audit_measures_start_up_from_the_create_request_relative_to_the_fault() -> None:
    acks = [ack("a", "u1", 100.0), ack("b", "u2", 101.0)]
    seen = {
        "a": PodSeen(uid="u1", scheduled_at=100.5, running_at=101.0),
        "b": PodSeen(uid="u2", scheduled_at=104.0, running_at=105.0),
    }
    audited = audit_pods("ns", acks, seen, {"a": "u1", "b": "u2"}, origin=100.0)
    assert (audited.acknowledged, audited.lost, audited.not_running) == (2, 0, 0)
    assert (audited.scheduled_p50, audited.scheduled_p99) == (0.5, 3.0)
    assert (audited.running_p50, audited.running_p99) == (1.0, 4.0)
    assert audited.startups == [(0.0, 1.0), (1.0, 4.0)]
    assert all_running(acks, seen)


@pytest.mark.parametrize(
    ("present", "seen", "lost", "not_running", "says"),
    [
        ({}, {}, 1, 0, "a (uid u1) is gone"),
        ({"a": "u9"}, {}, 1, 0, "a was acknowledged as uid u1, now has uid u9"),
        ({"a": "u1"}, {"a": PodSeen(uid="u1", scheduled_at=1.0)}, 0, 1, ""),
        ({"a": "u1"}, {"a": PodSeen(uid="u1", running_at=2.0)}, 0, 0, ""),
    ],
)
def test_an_acknowledged_pod_gone_or_replaced_is_lost_and_one_never_running_is_counted(
    present: dict[str, str], seen: dict[str, PodSeen], lost: int, not_running: int, says: str
) -> None:
    audited = audit_pods("ns", [ack("a", "u1", 0.0)], seen, present)
    assert (audited.lost, audited.not_running) == (lost, not_running)
    assert audited.lost_examples == ([says] if says else [])


def pods_audit(**overrides: object) -> PodAudit:
    values: dict[str, object] = {
        "namespace": "kubenats-experiment-pods-1",
        "acknowledged": 12,
        "lost": 0,
        "not_running": 0,
        "running_p50": 1.2,
        "running_p99": 4.5,
        "startups": [(-1.0, 1.2), (0.5, 4.5)],
    }
    return PodAudit.model_validate({**values, **overrides})


def failing(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if not c.ok]


@pytest.mark.parametrize(
    ("thresholds", "found", "failed"),
    [
        (Thresholds(), pods_audit(), []),
        (Thresholds(), pods_audit(lost=1, lost_examples=["a is gone"]), ["acknowledged pods kept"]),
        (Thresholds(), pods_audit(not_running=2), ["acknowledged pods ran"]),
        (Thresholds(pod_startup_p99_seconds=5), pods_audit(), []),
        (Thresholds(pod_startup_p99_seconds=4), pods_audit(), ["pod start-up p99"]),
        (Thresholds(pod_startup_p99_seconds=4), pods_audit(running_p99=None), ["pod start-up p99"]),
    ],
)
def test_pod_checks_fail_on_a_lost_pod_one_that_never_ran_or_a_slow_start_up(
    thresholds: Thresholds, found: PodAudit, failed: list[str]
) -> None:
    assert failing(pod_checks(thresholds, found)) == failed


def test_without_pod_creation_there_is_no_pod_check() -> None:
    assert pod_checks(Thresholds(pod_startup_p99_seconds=1), None) == []


@pytest.mark.parametrize(("limit", "failed"), [(None, []), (3, []), (2, ["pod create errors"])])
def test_pod_create_errors_are_judged_against_their_own_limit(limit: int | None, failed: list[str]) -> None:
    measured = figures(errors_by_kind={"write": 4, "pod": 3}, operations={"write": 100, "pod": 12})
    assert failing(threshold_checks(Thresholds(max_pod_create_errors=limit), measured)) == failed


def test_reports_show_the_pod_audit_and_a_comparison_of_start_ups() -> None:
    with_pods = result(audit=audit(pods=pods_audit()))
    text = summary_text(with_pods)
    assert "Pods: 12 acknowledged creates in kubenats-experiment-pods-1, 0 lost" in text
    assert "Running p50 1.20 s p99 4.50 s" in text
    slower = result(audit=audit(pods=pods_audit(running_p99=6.0)))
    row = next(
        line for line in compare_table(with_pods, slower).splitlines() if line.startswith("pod start-up p99")
    )
    assert row.split()[-3:] == ["4.50", "6.00", "+1.50"]


def test_pod_creation_is_off_unless_an_experiment_asks_and_its_rate_is_bounded() -> None:
    base = {
        "name": "x",
        "steady_state": {"probes": [{"type": "api-answers"}]},
        "method": [{"type": "wait", "seconds": 1}],
    }
    assert parse_experiment(base).load.pods is None
    asked = parse_experiment({**base, "load": {"pods": {"rate": 2}}})
    assert asked.load.pods is not None and (asked.load.pods.rate, asked.load.pods.max_pods) == (2, 30)
    with pytest.raises(ExperimentError, match=r"load\.pods\.rate"):
        parse_experiment({**base, "load": {"pods": {"rate": 500}}})


def test_a_load_pod_is_a_bare_pod_with_no_grace_period() -> None:
    manifest = pod_manifest("load-0001", "nginx:1.27")
    assert manifest["kind"] == "Pod" and manifest["metadata"]["name"] == "load-0001"
    assert manifest["spec"]["terminationGracePeriodSeconds"] == 0
    assert manifest["spec"]["containers"] == [{"name": "main", "image": "nginx:1.27"}]


def test_a_report_with_pod_creation_round_trips_and_plots_the_start_ups(tmp_path: Path) -> None:
    ops = [
        OpRecord(kind="pod", start=-1.0, end=-0.98, ok=True),
        OpRecord(kind="pod", start=0.5, end=1.5, ok=False),
    ]
    run = result(audit=audit(pods=pods_audit()), ops=ops)
    directory = write_report(run, tmp_path / "run")
    assert ExperimentResult.load(directory / "result.json") == run
    assert (directory / "plot.png").read_bytes().startswith(b"\x89PNG")
