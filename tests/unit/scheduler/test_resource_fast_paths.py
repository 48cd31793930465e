"""The resource plugins' shortcuts for the common case (cpu and memory only) give exactly the answers of
their general forms: the fit check, the LeastAllocated/MostAllocated score and the balanced score."""

from __future__ import annotations

import itertools

import pytest

from services.scheduler.framework import CycleState
from services.scheduler.plugins.balancedallocation import balanced_score, cpu_memory_score
from services.scheduler.plugins.noderesources import (
    DEFAULT_RESOURCES,
    LEAST_ALLOCATED,
    MOST_ALLOCATED,
    NodeResourcesFit,
    fits_plainly,
    insufficient,
    least_requested,
    most_requested,
    requested_and_allocatable,
    weighted_score,
)
from tests.builders import make_pod

from .helpers import node, node_info, pod_info

NODES = [
    node("empty", cpu=4, memory="8Gi"),
    node("small", cpu=1, memory="1Gi", pods=2),
    node("no-memory", cpu=2, memory="0"),
    node("no-cpu", cpu=0, memory="2Gi"),
]
EXISTING = [(), (make_pod().name("a").requests(cpu="500m", memory="512Mi"),), (make_pod().name("b"),)]
PODS = [
    make_pod().name("p"),
    make_pod().name("p").requests(cpu="250m", memory="256Mi"),
    make_pod().name("p").requests(cpu="3", memory="6Gi"),
    make_pod().name("p").requests(cpu="100m"),
]
CASES = list(itertools.product(range(len(NODES)), range(len(EXISTING)), range(len(PODS))))


@pytest.mark.parametrize(("n", "e", "p"), CASES)
def test_shortcuts_agree_with_the_general_forms(n: int, e: int, p: int) -> None:
    target, pod = node_info(NODES[n], *EXISTING[e]), pod_info(PODS[p])
    if fits_plainly(pod, target):
        assert insufficient(pod, target) == []
    fractions = []
    for spec in DEFAULT_RESOURCES:
        requested, allocatable = requested_and_allocatable(pod, target, spec.name, non_zero=False)
        if allocatable:
            fractions.append(requested / allocatable)
    assert cpu_memory_score(pod, target) == balanced_score(fractions)
    for strategy, per_resource in ((LEAST_ALLOCATED, least_requested), (MOST_ALLOCATED, most_requested)):
        general = weighted_score(pod, target, DEFAULT_RESOURCES, per_resource)
        assert NodeResourcesFit(strategy).score(CycleState(), pod, target) == general
