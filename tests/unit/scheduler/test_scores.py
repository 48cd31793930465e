"""Score plugins and normalisation: raw scores per node, then Kubernetes' 0–100 scaling."""

from __future__ import annotations

import pytest

from services.scheduler.framework import CycleState, NodeScore
from services.scheduler.plugins.balancedallocation import NodeResourcesBalancedAllocation, balanced_score
from services.scheduler.plugins.helper import default_normalize_score
from services.scheduler.plugins.nodeaffinity import NodeAffinity
from services.scheduler.plugins.noderesources import (
    MOST_ALLOCATED,
    NodeResourcesFit,
    ResourceSpec,
    least_requested,
    most_requested,
)
from services.scheduler.plugins.tainttoleration import TaintToleration
from shared.models import Affinity, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm
from shared.models import NodeAffinity as NodeAffinitySpec
from tests.builders import make_pod

from .helpers import node, node_info, pod_info


@pytest.mark.parametrize(
    ("requested", "allocatable", "least", "most"),
    [
        (0, 4000, 100, 0),
        (1000, 4000, 75, 25),
        (2000, 4000, 50, 50),
        (4000, 4000, 0, 100),
        (5000, 4000, 0, 100),
        (1, 0, 0, 0),
    ],
)
def test_least_and_most_requested_per_resource(
    requested: int, allocatable: int, least: int, most: int
) -> None:
    assert least_requested(requested, allocatable) == least
    assert most_requested(requested, allocatable) == most


@pytest.mark.parametrize(
    ("strategy", "resources", "expected"),
    [
        # 4 cpu / 8Gi node with 1 cpu + 2Gi used; the pod asks 1 cpu + 2Gi → 50 % of each used.
        ("LeastAllocated", None, 50),
        ("MostAllocated", None, 50),
        # cpu 2/4 used → 50, memory 4/8 → 50 either way; weights do not change an even split.
        ("LeastAllocated", (ResourceSpec("cpu", 3), ResourceSpec("memory", 1)), 50),
    ],
)
def test_node_resources_fit_score_with_each_strategy(
    strategy: str, resources: tuple[ResourceSpec, ...] | None, expected: int
) -> None:
    plugin = NodeResourcesFit(strategy, resources) if resources else NodeResourcesFit(strategy)
    target = node_info(node("n", cpu=4, memory="8Gi"), make_pod().name("old").requests(cpu="1", memory="2Gi"))
    pod = pod_info(make_pod().name("p").requests(cpu="1", memory="2Gi"))
    assert plugin.score(CycleState(), pod, target) == expected


def test_least_allocated_prefers_the_emptier_node_and_most_allocated_the_fuller() -> None:
    pod = pod_info(make_pod().name("p").requests(cpu="1", memory="1Gi"))
    big, small = node_info(node("big", cpu=16, memory="32Gi")), node_info(node("small", cpu=2, memory="4Gi"))
    least, most = NodeResourcesFit(), NodeResourcesFit(MOST_ALLOCATED)
    assert least.score(CycleState(), pod, big) > least.score(CycleState(), pod, small)
    assert most.score(CycleState(), pod, big) < most.score(CycleState(), pod, small)


def test_pods_without_requests_count_as_100m_and_200mi_when_scoring() -> None:
    empty = node_info(node("n", cpu=1, memory="1000Mi"))
    pod = pod_info(make_pod().name("p"))
    # cpu (1000 − 100)·100/1000 = 90, memory (1000 − 200)·100/1000 = 80 → 85
    assert NodeResourcesFit().score(CycleState(), pod, empty) == 85


@pytest.mark.parametrize(
    ("fractions", "expected"),
    [((0.5, 0.5), 100), ((0.5, 0.1), 80), ((1.0, 0.0), 50), ((2.0, 0.0), 50), ((0.3,), 100)],
)
def test_balanced_allocation_penalises_uneven_use(fractions: tuple[float, ...], expected: int) -> None:
    assert balanced_score(fractions) == expected


def test_balanced_allocation_scores_a_node_from_requests_including_the_pod() -> None:
    target = node_info(node("n", cpu=4, memory="8Gi"), make_pod().name("old").requests(cpu="1", memory="0"))
    pod = pod_info(make_pod().name("p").requests(cpu="1", memory="800Mi"))
    # cpu 2/4 = 0.5, memory 800Mi/8Gi ≈ 0.0977 → σ ≈ 0.201 → 79
    assert NodeResourcesBalancedAllocation().score(CycleState(), pod, target) == 79


@pytest.mark.parametrize(
    ("raw", "reverse", "expected"),
    [
        ([0, 2, 4], False, [0, 50, 100]),
        ([0, 2, 4], True, [100, 50, 0]),
        ([0, 0], False, [0, 0]),
        ([0, 0], True, [100, 100]),
        ([3, 1], False, [100, 33]),
    ],
)
def test_default_normalize_score(raw: list[int], reverse: bool, expected: list[int]) -> None:
    scores = [NodeScore(f"n{i}", s) for i, s in enumerate(raw)]
    assert [s.score for s in default_normalize_score(scores, reverse=reverse)] == expected


def test_taint_toleration_scores_fewer_untolerated_prefer_no_schedule_taints_higher() -> None:
    plugin, state = TaintToleration(), CycleState()
    pod = pod_info(make_pod().name("p").toleration("tolerated", effect="PreferNoSchedule", operator="Exists"))
    nodes = [
        node_info(node("clean")),
        node_info(node("one").taint("a", effect="PreferNoSchedule")),
        node_info(node("two").taint("a", effect="PreferNoSchedule").taint("b", effect="PreferNoSchedule")),
        node_info(node("ok").taint("tolerated", effect="PreferNoSchedule")),
    ]
    plugin.pre_score(state, pod, nodes)
    raw = [NodeScore(n.name, plugin.score(state, pod, n)) for n in nodes]
    assert [s.score for s in raw] == [0, 1, 2, 0]
    assert [s.score for s in plugin.normalize_score(state, pod, raw)] == [100, 50, 0, 100]


def test_preferred_node_affinity_adds_weights_of_matching_terms() -> None:
    def term(weight: int, key: str, value: str) -> PreferredSchedulingTerm:
        requirement = NodeSelectorRequirement(key=key, operator="In", values=[value])
        return PreferredSchedulingTerm(
            weight=weight, preference=NodeSelectorTerm(match_expressions=[requirement])
        )

    builder = make_pod().name("p")
    builder.obj().spec.affinity = Affinity(
        node_affinity=NodeAffinitySpec(
            preferred_during_scheduling_ignored_during_execution=[
                term(80, "disk", "ssd"),
                term(20, "zone", "a"),
            ]
        )
    )
    pod, plugin, state = pod_info(builder), NodeAffinity(), CycleState()
    nodes = [
        node_info(node("both").label("disk", "ssd").label("zone", "a")),
        node_info(node("ssd").label("disk", "ssd")),
        node_info(node("none")),
    ]
    assert plugin.pre_score(state, pod, nodes).ok
    raw = [NodeScore(n.name, plugin.score(state, pod, n)) for n in nodes]
    assert [s.score for s in raw] == [100, 80, 0]
    assert [s.score for s in plugin.normalize_score(state, pod, raw)] == [100, 80, 0]
