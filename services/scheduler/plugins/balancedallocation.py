"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal proportion.

Score ``(1 − σ) × 100`` where σ is the standard deviation of the fractions requested/allocatable of each
resource (capped at 1), counting actual requests including the pod's. Worked example: cpu 50 % and memory
10 % used → σ = |0.5 − 0.1| / 2 = 0.2 → score 80.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from services.scheduler.framework import MAX_NODE_SCORE, ClusterEvent, CycleState
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from services.scheduler.plugins.noderesources import (
    DEFAULT_RESOURCES,
    ResourceSpec,
    requested_and_allocatable,
)
from shared.models import RESOURCE_CPU, RESOURCE_MEMORY


def balanced_score(fractions: Sequence[float]) -> int:
    capped = [min(f, 1.0) for f in fractions]
    if len(capped) == 2:
        std = abs(capped[0] - capped[1]) / 2
    elif len(capped) > 2:
        mean = sum(capped) / len(capped)
        std = math.sqrt(sum((f - mean) ** 2 for f in capped) / len(capped))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def cpu_memory_score(pod: PodInfo, node: NodeInfo) -> int:
    """:func:`balanced_score` of the cpu and memory fractions (actual requests, the pod's included), with
    the same float operations but without building lists: this runs for every pod on every feasible node.
    A resource the node has none of is left out, as in ``score``."""
    allocatable, requested, wanted = node.allocatable, node.requested, pod.requests
    cpu = memory = -1.0
    # ``f if f < 1.0 else 1.0`` is ``min(f, 1.0)`` for the finite fractions here, without a builtin call.
    if allocatable.milli_cpu:
        cpu = (requested.milli_cpu + wanted.milli_cpu) / allocatable.milli_cpu
        cpu = cpu if cpu < 1.0 else 1.0
    if allocatable.memory:
        memory = (requested.memory + wanted.memory) / allocatable.memory
        memory = memory if memory < 1.0 else 1.0
    if cpu < 0 or memory < 0:
        return MAX_NODE_SCORE  # one fraction or none: no deviation
    return int((1 - abs(cpu - memory) / 2) * MAX_NODE_SCORE)


class NodeResourcesBalancedAllocation:
    NAME: ClassVar[str] = "NodeResourcesBalancedAllocation"

    def __init__(self, resources: Sequence[ResourceSpec] = DEFAULT_RESOURCES) -> None:
        self.resources = tuple(resources)
        # The default pair (cpu and memory, in any order) is scored on the node's ints directly.
        self._cpu_memory = sorted(spec.name for spec in self.resources) == [RESOURCE_CPU, RESOURCE_MEMORY]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self._cpu_memory:
            return cpu_memory_score(pod, node)
        fractions = []
        for spec in self.resources:
            requested, allocatable = requested_and_allocatable(pod, node, spec.name, non_zero=False)
            if allocatable:
                fractions.append(requested / allocatable)
        return balanced_score(fractions)

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_ALLOCATABLE, ClusterEvent.POD_DELETE})
