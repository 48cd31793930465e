"""The built-in etcd minority partition on a whole cluster: the etcd leader's replica is cut off at the
bus level, the majority elects another leader and keeps acknowledging writes, the cut-off member
refuses the writes that reach it, and after ``chaos.reset`` nothing acknowledged is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cluster import status
from shared.experiments import load_experiment
from shared.experiments.records import Event
from shared.experiments.report import summary_text
from shared.experiments.result import ExperimentResult
from shared.experiments.runner import run_experiment
from tests.clusters import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SOURCE = Path(__file__).resolve().parents[2] / "experiments" / "etcd-minority-partition.yaml"
PARTITION = "partition "


def failed_checks(result: ExperimentResult) -> str:
    """The checks that failed, then the whole report (timeline, client errors): what a failure needs."""
    failed = [f"{check.name}: {check.detail}" for check in result.checks if not check.ok]
    return "\n".join([*failed, "", summary_text(result)])


def first(result: ExperimentResult, source: str, prefix: str) -> Event:
    found = next((e for e in result.timeline if e.source == source and e.text.startswith(prefix)), None)
    assert found is not None, f"no {source} event {prefix!r} in {[e.text for e in result.timeline]}"
    return found


async def test_etcd_minority_partition_moves_the_leader_to_the_majority_and_loses_nothing(
    cluster: Cluster,
) -> None:
    result = await run_experiment(load_experiment(SOURCE), cluster.paths, source=SOURCE)
    assert result.verdict == "passed", failed_checks(result)
    assert result.audit is not None and result.audit.lost_writes == 0 and result.audit.linearizable
    assert result.audit.acknowledged_writes > 0

    # "partition cp-1 | cp-2, cp-3": the leader alone, then everyone else.
    split = first(result, "action", PARTITION)
    alone, majority = (group.split(", ") for group in split.text.removeprefix(PARTITION).split(" | "))
    assert len(alone) == 1 and len(majority) == 2
    healed = first(result, "action", "chaos reset")
    leaders = [
        e.text.removeprefix("etcd leader ")
        for e in result.timeline
        if e.source == "etcd" and e.text.startswith("etcd leader ") and split.at <= e.at <= healed.at
    ]
    assert set(leaders) & set(majority), f"no leader elected on the majority side: {leaders}"
    assert result.figures is not None and result.figures.operations.get("write", 0) > 0
    processes = status(cluster.paths)
    assert processes is not None and all(p.running for p in processes)
