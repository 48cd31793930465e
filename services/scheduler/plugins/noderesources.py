"""NodeResourcesFit: a pod fits a node whose allocatable minus the requests of its pods (bound or assumed)
covers the pod's requests; nodes are scored by ``LeastAllocated`` (default) or ``MostAllocated``.

Scores, per resource with weight ``w`` (default cpu 1, memory 1), averaged by weight, integer arithmetic
as in Kubernetes — ``LeastAllocated``: ``(allocatable − requested) × 100 / allocatable``;
``MostAllocated``: ``requested × 100 / allocatable``, where ``requested`` includes the pod being placed
and counts a pod without cpu/memory requests as 100m / 200Mi. Worked example, LeastAllocated: a 4-cpu,
8Gi node with 1 cpu and 2Gi requested, placing a 1-cpu 2Gi pod: cpu (4000−2000)·100/4000 = 50, memory 50,
score 50.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from services.scheduler.framework import (
    MAX_NODE_SCORE,
    SUCCESS,
    ClusterEvent,
    CycleState,
    Status,
    unschedulable,
)
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from shared.models import RESOURCE_CPU, RESOURCE_MEMORY

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
STRATEGIES = (LEAST_ALLOCATED, MOST_ALLOCATED)
TOO_MANY_PODS = "Too many pods"


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    weight: int = 1


DEFAULT_RESOURCES = (ResourceSpec(RESOURCE_CPU), ResourceSpec(RESOURCE_MEMORY))


def insufficient(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Why ``pod`` does not fit ``node`` (``Insufficient cpu``, ``Too many pods`` …); [] if it fits."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    want, free, used = pod.requests, node.allocatable, node.requested
    if want.milli_cpu > 0 and want.milli_cpu > free.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if want.memory > 0 and want.memory > free.memory - used.memory:
        reasons.append("Insufficient memory")
    if (
        want.ephemeral_storage > 0
        and want.ephemeral_storage > free.ephemeral_storage - used.ephemeral_storage
    ):
        reasons.append("Insufficient ephemeral-storage")
    for name, amount in want.scalar.items():
        if amount > 0 and amount > free.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def fits_plainly(pod: PodInfo, node: NodeInfo) -> bool:
    """The common case of :func:`insufficient` without building a list: no extended resources asked for
    and everything fits. False means "look closer" (``insufficient`` then finds the reasons, if any)."""
    want, free, used = pod.requests, node.allocatable, node.requested
    return (
        not want.scalar
        and len(node.pods) < free.allowed_pods
        and want.milli_cpu <= free.milli_cpu - used.milli_cpu
        and want.memory <= free.memory - used.memory
        and want.ephemeral_storage <= free.ephemeral_storage - used.ephemeral_storage
    )


def requested_and_allocatable(pod: PodInfo, node: NodeInfo, name: str, non_zero: bool) -> tuple[int, int]:
    """(requested including ``pod``, allocatable) of one resource on ``node``; scoring counts pods without
    cpu/memory requests at the defaults when ``non_zero``."""
    if name == RESOURCE_CPU:
        if non_zero:
            return node.non_zero_milli_cpu + pod.non_zero_milli_cpu, node.allocatable.milli_cpu
        return node.requested.milli_cpu + pod.requests.milli_cpu, node.allocatable.milli_cpu
    if name == RESOURCE_MEMORY:
        if non_zero:
            return node.non_zero_memory + pod.non_zero_memory, node.allocatable.memory
        return node.requested.memory + pod.requests.memory, node.allocatable.memory
    return node.requested.get(name) + pod.requests.get(name), node.allocatable.get(name)


def least_requested(requested: int, allocatable: int) -> int:
    if allocatable == 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_requested(requested: int, allocatable: int) -> int:
    if allocatable == 0:
        return 0
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def weighted_score(
    pod: PodInfo, node: NodeInfo, resources: Sequence[ResourceSpec], per_resource: Callable[[int, int], int]
) -> int:
    total = weights = 0
    for spec in resources:
        if spec.name not in (RESOURCE_CPU, RESOURCE_MEMORY) and pod.requests.get(spec.name) == 0:
            continue  # an extended resource the pod does not ask for does not count (Kubernetes)
        requested, allocatable = requested_and_allocatable(pod, node, spec.name, non_zero=True)
        if allocatable == 0:
            continue
        total += per_resource(requested, allocatable) * spec.weight
        weights += spec.weight
    return total // weights if weights else 0


class NodeResourcesFit:
    NAME: ClassVar[str] = "NodeResourcesFit"

    def __init__(
        self, strategy: str = LEAST_ALLOCATED, resources: Sequence[ResourceSpec] = DEFAULT_RESOURCES
    ):
        if strategy not in STRATEGIES:
            raise ValueError(f"scoring strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self.resources = tuple(resources)
        self._per_resource = least_requested if strategy == LEAST_ALLOCATED else most_requested
        # (is cpu, weight) per resource when only cpu and memory are scored — the default — so that
        # ``score`` reads the node's ints directly instead of dispatching on resource names per node.
        self._cpu_memory: tuple[tuple[bool, int], ...] | None = None
        if all(spec.name in (RESOURCE_CPU, RESOURCE_MEMORY) for spec in self.resources):
            self._cpu_memory = tuple((spec.name == RESOURCE_CPU, spec.weight) for spec in self.resources)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if fits_plainly(pod, node):
            return SUCCESS
        reasons = insufficient(pod, node)
        return unschedulable(*reasons) if reasons else SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self._cpu_memory is None:
            return weighted_score(pod, node, self.resources, self._per_resource)
        # The same sum as ``weighted_score`` for cpu and memory only, with the non-zero requests.
        per_resource, allocatable = self._per_resource, node.allocatable
        total = weights = 0
        for is_cpu, weight in self._cpu_memory:
            if is_cpu:
                requested, available = node.non_zero_milli_cpu + pod.non_zero_milli_cpu, allocatable.milli_cpu
            else:
                requested, available = node.non_zero_memory + pod.non_zero_memory, allocatable.memory
            if available == 0:
                continue
            total += per_resource(requested, available) * weight
            weights += weight
        return total // weights if weights else 0

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_ALLOCATABLE, ClusterEvent.POD_DELETE})
