"""``PodInfo`` and ``NodeInfo``: the scheduler's pre-digested view of a pod and of a node with its pods.

A pod is parsed once when it enters the scheduler; its requests, tolerations and constraints are kept in
plain Python values, so that the filter and score plugins, which run for every pod on hundreds of nodes,
never touch pydantic or ``Quantity`` arithmetic. A :class:`NodeInfo` keeps the sum of the requests of the
pods on the node — bound ones and *assumed* ones (decided, binding in flight) alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.models import (
    RESOURCE_CPU,
    RESOURCE_EPHEMERAL_STORAGE,
    RESOURCE_MEMORY,
    RESOURCE_PODS,
    Node,
    NodeSelector,
    Pod,
    PreferredSchedulingTerm,
    Quantity,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    pod_priority,
    pod_requests,
)

# Kubernetes' scoring counts a pod without requests as if it asked for this much (``schedutil``'s
# DefaultMilliCPURequest and DefaultMemoryRequest), so that such pods still spread.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@dataclass(slots=True)
class Resource:
    """Amounts in the units the scheduler compares: milli-CPU, bytes, and whole units for the rest."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Mapping[str, Quantity]) -> Resource:
        out = cls()
        for name, amount in resources.items():
            if name == RESOURCE_CPU:
                out.milli_cpu = amount.milli_value()
            elif name == RESOURCE_MEMORY:
                out.memory = amount.value()
            elif name == RESOURCE_EPHEMERAL_STORAGE:
                out.ephemeral_storage = amount.value()
            elif name == RESOURCE_PODS:
                out.allowed_pods = amount.value()
            else:
                out.scalar[name] = amount.value()
        return out

    def get(self, name: str) -> int:
        if name == RESOURCE_CPU:
            return self.milli_cpu
        if name == RESOURCE_MEMORY:
            return self.memory
        if name == RESOURCE_EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == RESOURCE_PODS:
            return self.allowed_pods
        return self.scalar.get(name, 0)

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + sign * amount


@dataclass(slots=True)
class PodInfo:
    """One pod as the scheduler sees it. ``obj`` is the API object (shared with the informer: read-only)."""

    key: str
    """``namespace/name``."""
    uid: str
    namespace: str
    name: str
    obj: dict[str, Any]
    pod: Pod
    priority: int
    created: datetime | None
    labels: dict[str, str]
    requests: Resource
    non_zero_milli_cpu: int
    non_zero_memory: int
    node_name: str
    node_selector: dict[str, str]
    required_affinity: NodeSelector | None
    preferred_affinity: list[PreferredSchedulingTerm]
    tolerations: list[Toleration]
    spread_constraints: list[TopologySpreadConstraint]
    scheduler_name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> PodInfo:
        pod = Pod.model_validate(obj)
        meta, spec = pod.metadata, pod.spec
        requests = Resource.from_list(pod_requests(pod))
        affinity = spec.affinity.node_affinity if spec.affinity and spec.affinity.node_affinity else None
        return cls(
            key=f"{meta.namespace}/{meta.name}",
            uid=meta.uid,
            namespace=meta.namespace,
            name=meta.name,
            obj=obj,
            pod=pod,
            priority=pod_priority(pod),
            created=meta.creation_timestamp,
            labels=dict(meta.labels),
            requests=requests,
            non_zero_milli_cpu=requests.milli_cpu or DEFAULT_MILLI_CPU_REQUEST,
            non_zero_memory=requests.memory or DEFAULT_MEMORY_REQUEST,
            node_name=spec.node_name,
            node_selector=dict(spec.node_selector),
            required_affinity=affinity.required_during_scheduling_ignored_during_execution
            if affinity
            else None,
            preferred_affinity=list(affinity.preferred_during_scheduling_ignored_during_execution)
            if affinity
            else [],
            tolerations=list(spec.tolerations),
            spread_constraints=list(spec.topology_spread_constraints),
            scheduler_name=spec.scheduler_name or "default-scheduler",
        )


class NodeInfo:
    """A node and the pods on it (bound or assumed), with their summed requests."""

    __slots__ = (
        "allocatable",
        "generation",
        "labels",
        "name",
        "node",
        "non_zero_memory",
        "non_zero_milli_cpu",
        "pods",
        "requested",
        "taints",
        "unschedulable",
    )

    def __init__(self, node: Node) -> None:
        self.name = node.metadata.name
        self.node = node
        self.labels: dict[str, str] = dict(node.metadata.labels)
        self.taints: tuple[Taint, ...] = tuple(node.spec.taints)
        self.unschedulable = node.spec.unschedulable
        self.allocatable = Resource.from_list(node.status.allocatable)
        self.requested = Resource()
        self.non_zero_milli_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.generation = 0

    @classmethod
    def of(cls, obj: dict[str, Any]) -> NodeInfo:
        return cls(Node.model_validate(obj))

    def set_node(self, node: Node) -> None:
        """Take a newer version of the node, keeping its pods."""
        fresh = NodeInfo(node)
        self.node, self.labels, self.taints = fresh.node, fresh.labels, fresh.taints
        self.unschedulable, self.allocatable = fresh.unschedulable, fresh.allocatable
        self.generation += 1

    def add_pod(self, pod: PodInfo) -> None:
        if pod.key in self.pods:
            self.remove_pod(pod.key)
        self.pods[pod.key] = pod
        self._account(pod, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        self.requested.add(pod.requests, sign)
        self.non_zero_milli_cpu += sign * pod.non_zero_milli_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        self.generation += 1

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, requested_mcpu={self.requested.milli_cpu})"
