"""Built-in resilience experiments on a whole cluster: they pass with their thresholds, write their
reports, and a threshold the cluster cannot meet fails the verdict while the audit still holds.

Each experiment heals what it breaks (restarts, rollbacks), so the shared e2e cluster is whole after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.cluster import ProcessInfo, status
from shared.experiments import load_experiment
from shared.experiments.result import ExperimentResult
from shared.experiments.runner import run_experiment
from tests.clusters import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
# etcd-leader-kill has a test of its own above, etcd-minority-partition one with more checks in
# test_etcd_partition_experiment.py.
OWN_TESTS = {"etcd-leader-kill", "etcd-minority-partition"}
OTHERS = [p.stem for p in sorted(EXPERIMENTS.glob("*.yaml")) if p.stem not in OWN_TESTS]


def failed_checks(result: ExperimentResult) -> list[str]:
    return [f"{check.name}: {check.detail}" for check in result.checks if not check.ok]


def test_etcd_leader_kill_passes_and_writes_its_report(cluster: Cluster, tmp_path: Path) -> None:
    source = EXPERIMENTS / "etcd-leader-kill.yaml"
    state_dir = str(cluster.paths.root)
    ran = CliRunner().invoke(
        app, ["experiment", "run", str(source), "--state-dir", state_dir, "--out", str(tmp_path)]
    )
    assert ran.exit_code == 0, ran.output
    report = tmp_path / "etcd-leader-kill"
    result = ExperimentResult.load(report / "result.json")
    assert result.verdict == "passed", failed_checks(result)
    assert result.audit is not None and result.audit.lost_writes == 0 and result.audit.linearizable
    assert result.audit.acknowledged_writes > 0
    # The killed leader was replaced: the timeline shows a new one after the fault.
    assert any(e.source == "etcd" and e.text.startswith("etcd leader") and e.at > 0 for e in result.timeline)
    assert result.figures is not None and result.figures.time_to_detect is not None
    assert (report / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert "etcd-leader-kill: PASSED" in (report / "summary.txt").read_text()

    compared = CliRunner().invoke(
        app, ["experiment", "compare", str(report / "result.json"), str(report / "result.json")]
    )
    assert compared.exit_code == 0, compared.output
    assert "time to recover (s)" in compared.output and "+0.00" in compared.output


@pytest.mark.parametrize("name", OTHERS)
async def test_every_other_built_in_experiment_passes_and_leaves_the_cluster_whole(
    cluster: Cluster, name: str
) -> None:
    source = EXPERIMENTS / f"{name}.yaml"
    result = await run_experiment(load_experiment(source), cluster.paths, source=source)
    assert result.verdict == "passed", failed_checks(result)
    assert result.audit is not None and result.audit.lost_writes == 0 and result.audit.linearizable
    assert result.figures is not None and result.figures.operations.get("write", 0) > 0
    if name == "etcd-majority-loss":  # the store refused writes while it had no quorum
        assert result.figures.errors_by_kind.get("write", 0) > 0
    if load_experiment(source).load.pods is not None:  # pods were created, kept and run
        pods = result.audit.pods
        assert pods is not None and pods.acknowledged > 0 and pods.lost == 0 and pods.not_running == 0
        assert pods.running_p99 is not None and result.figures.operations.get("pod", 0) >= pods.acknowledged
    if name == "pod-crash-loop":
        # Three restarts measured: the policy wants 0, 10 and 20 s, and the kubelet waited that long.
        spec = load_experiment(source).thresholds.restart_backoff
        assert spec is not None
        flaky = [r for r in result.restarts if "chaos-crash-web-flaky" in r.container][:3]
        assert [r.expected for r in flaky] == [0.0, 10.0, 20.0]
        waited = [r.waited for r in flaky]
        assert waited == pytest.approx([0.0, 10.0, 20.0], abs=spec.tolerance_seconds), waited
        assert any(check.name == "restart back-off grows" and check.ok for check in result.checks)
    assert all(p.running for p in cluster_processes(cluster))


async def test_a_threshold_the_cluster_cannot_meet_fails_the_verdict(cluster: Cluster) -> None:
    """Writes are refused for as long as two etcd members are held down (3 s), so a limit of 1 s on the
    longest write gap cannot be met: the verdict fails on that check alone, nothing is lost."""
    source = EXPERIMENTS / "etcd-majority-loss.yaml"
    experiment = load_experiment(source)
    broken = experiment.model_copy(
        update={"thresholds": experiment.thresholds.model_copy(update={"max_write_gap_seconds": 1.0})}
    )
    result = await run_experiment(broken, cluster.paths, source=source)
    assert result.verdict == "failed"
    assert [check.name for check in result.checks if not check.ok] == ["longest write gap"]
    assert result.audit is not None and result.audit.lost_writes == 0


async def test_a_restart_back_off_the_kubelet_does_not_use_fails_the_verdict(cluster: Cluster) -> None:
    """The kubelet of the e2e cluster backs off from 10 s; an experiment that expects 20 s sees restart 2
    come too early and fails on that check alone."""
    source = EXPERIMENTS / "pod-crash-loop.yaml"
    experiment = load_experiment(source)
    backoff = experiment.thresholds.restart_backoff
    assert backoff is not None
    broken = experiment.model_copy(
        update={
            "thresholds": experiment.thresholds.model_copy(
                update={"restart_backoff": backoff.model_copy(update={"base_seconds": 20.0})}
            )
        }
    )
    result = await run_experiment(broken, cluster.paths, source=source)
    assert result.verdict == "failed"
    assert [check.name for check in result.checks if not check.ok] == ["restart back-off grows"]


def cluster_processes(cluster: Cluster) -> list[ProcessInfo]:
    processes = status(cluster.paths)
    assert processes is not None
    return list(processes)
