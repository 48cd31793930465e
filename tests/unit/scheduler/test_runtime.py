"""The framework runtime: node sampling, weighted scores, random tie-breaks, the FailedScheduling message."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from services.scheduler.config import SchedulerConfiguration, parse_config
from services.scheduler.framework import Code, Diagnosis, Status
from services.scheduler.plugins.registry import Handle
from services.scheduler.runtime import FitError, Framework, fit_error_message, nodes_to_find
from tests.builders import make_pod

from .helpers import node, node_info, pod_info


def framework(config: SchedulerConfiguration | None = None, seed: int = 1) -> Framework:
    return Framework.from_config(config or SchedulerConfiguration(), Handle(), random.Random(seed))


@pytest.mark.parametrize(
    ("nodes", "percentage", "expected"),
    [
        (5, 0, 5),
        (99, 10, 99),
        (100, 0, 100),
        (1000, 0, 420),
        (5000, 0, 500),
        (1000, 50, 500),
        (200, 10, 100),
        (1000, 100, 1000),
    ],
)
def test_nodes_to_find_follows_kubernetes_adaptive_percentage(
    nodes: int, percentage: int, expected: int
) -> None:
    assert nodes_to_find(nodes, percentage) == expected


def test_pod_goes_to_the_least_allocated_of_unequal_nodes() -> None:
    nodes = [
        node_info(node("small", cpu=2)),
        node_info(node("big", cpu=16, memory="32Gi")),
        node_info(node("mid", cpu=8)),
    ]
    result = framework().schedule(pod_info(make_pod().name("p").requests(cpu="1", memory="1Gi")), nodes)
    assert (result.node, result.feasible) == ("big", 3)


def test_score_weights_decide_between_plugins() -> None:
    # "tainted" is emptier (NodeResourcesFit prefers it) but has a PreferNoSchedule taint, which
    # TaintToleration (weight 3) penalises more than the fit score (weight 1) rewards.
    nodes = [
        node_info(node("tainted", cpu=8, memory="16Gi").taint("x", effect="PreferNoSchedule")),
        node_info(node("plain", cpu=4, memory="8Gi")),
    ]
    pod = pod_info(make_pod().name("p").requests(cpu="1", memory="1Gi"))
    assert framework().schedule(pod, nodes).node == "plain"
    only_fit = parse_config(
        {"profiles": [{"plugins": {"score": {"disabled": [{"name": "TaintToleration"}]}}}]}
    )
    assert framework(only_fit).schedule(pod, nodes).node == "tainted"


def test_ties_are_broken_randomly_and_reproducibly_with_a_seed() -> None:
    nodes = [node_info(node(f"n{i}")) for i in range(4)]
    pod = pod_info(make_pod().name("p").requests(cpu="1", memory="1Gi"))
    picks = Counter(framework(seed=seed).schedule(pod, nodes).node for seed in range(200))
    assert set(picks) == {"n0", "n1", "n2", "n3"}
    assert min(picks.values()) > 20
    assert [framework(seed=7).schedule(pod, nodes).node for _ in range(3)] == [
        framework(seed=7).schedule(pod, nodes).node
    ] * 3


def test_percentage_of_nodes_to_score_stops_filtering_early_and_rotates_the_start() -> None:
    config = parse_config({"percentageOfNodesToScore": 10})
    fw = framework(config)
    nodes = [node_info(node(f"n{i:03}")) for i in range(300)]
    pod = pod_info(make_pod().name("p").requests(cpu="1", memory="1Gi"))
    first = fw.schedule(pod, nodes)
    assert (first.feasible, first.evaluated) == (100, 100)
    assert fw.next_start == 100
    fw.schedule(pod, nodes)
    assert fw.next_start == 200


def test_fit_error_counts_reasons_per_node_in_kubernetes_words() -> None:
    nodes = [
        *(node_info(node(f"small-{i}", cpu=1)) for i in range(3)),
        *(
            node_info(node(f"cp-{i}", cpu=64).taint("node-role.kubernetes.io/control-plane"))
            for i in range(2)
        ),
    ]
    with pytest.raises(FitError) as failure:
        framework().schedule(pod_info(make_pod().name("p").requests(cpu="2")), nodes)
    assert str(failure.value) == (
        "0/5 nodes are available: 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "3 Insufficient cpu. preemption: 0/5 nodes are available: "
        "2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod."
    )
    assert failure.value.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


def test_fit_error_message_without_nodes_and_after_a_pre_filter_rejection() -> None:
    assert fit_error_message(0, Diagnosis()) == "no nodes available to schedule pods"
    rejected = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("pod is special",), "X")
    diagnosis = Diagnosis(node_statuses={"a": rejected, "b": rejected}, pre_filter_status=rejected)
    assert fit_error_message(2, diagnosis) == (
        "0/2 nodes are available: pod is special. preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )


def test_disabled_filter_no_longer_rejects() -> None:
    cordoned = [node_info(node("n").unschedulable())]
    pod = pod_info(make_pod().name("p"))
    with pytest.raises(FitError):
        framework().schedule(pod, cordoned)
    config = parse_config(
        {"profiles": [{"plugins": {"filter": {"disabled": [{"name": "NodeUnschedulable"}]}}}]}
    )
    assert framework(config).schedule(pod, cordoned).node == "n"
