"""Node and pod resource usage against allocatable: the reply of ``node.<node>.stats`` (request/reply).

A scaled-down Summary API (Kubernetes' ``/stats/summary``): the node's CPU in millicores and memory in
bytes — used by all containers, requested by admitted pods, allocatable, capacity — and each pod's usage
with its containers'. Request body: ``{}``. Reply: :class:`NodeStats` as JSON (camelCase)::

    {"node": "worker-1", "time": "2026-01-01T00:00:00.000000Z",
     "cpu": {"usage": 35, "requested": 600, "allocatable": 3900, "capacity": 4000},
     "memory": {"usage": 67108864, "requested": 268435456, "allocatable": ..., "capacity": ...},
     "pods": {"usage": 2, "requested": 2, "allocatable": 110, "capacity": 110},
     "podStats": [{"namespace": "default", "name": "web", "uid": "…", "cpu": 35, "memory": 67108864,
                   "containers": [{"name": "web", "cpu": 35, "memory": 67108864}]}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.runtime.api import ContainerStats
from shared.models import RESOURCE_CPU, RESOURCE_MEMORY, RESOURCE_PODS, MicroTime, Quantity


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)


class StatsRequest(_Model):
    model_config = ConfigDict(extra="forbid")


class ResourceUsage(_Model):
    """One resource on the node: CPU in millicores, memory in bytes, pods in pods."""

    usage: float = 0
    requested: int = 0
    allocatable: int = 0
    capacity: int = 0


class ContainerUsage(_Model):
    name: str
    cpu: float = Field(description="millicores now")
    memory: int = Field(description="working set, bytes")


class PodUsage(_Model):
    namespace: str
    name: str
    uid: str
    cpu: float = 0
    memory: int = 0
    containers: list[ContainerUsage] = Field(default_factory=list)


class NodeStats(_Model):
    node: str
    time: MicroTime
    cpu: ResourceUsage
    memory: ResourceUsage
    pods: ResourceUsage
    pod_stats: list[PodUsage] = Field(default_factory=list)


def _units(name: str, quantity: Quantity | None) -> int:
    if quantity is None:
        return 0
    return quantity.milli_value() if name == RESOURCE_CPU else quantity.value()


def node_stats(
    node: str,
    now: datetime,
    capacity: Mapping[str, Quantity],
    allocatable: Mapping[str, Quantity],
    requested: Mapping[str, int],
    pods: Iterable[tuple[str, str, str, str]],
    containers: Iterable[ContainerStats],
) -> NodeStats:
    """``pods`` are ``(sandbox id, namespace, name, uid)`` of the admitted pods; ``requested`` their summed
    requests in the same units (see :func:`services.kubelet.admission.used_resources`)."""
    by_sandbox: dict[str, PodUsage] = {}
    for sandbox, namespace, name, uid in pods:
        by_sandbox[sandbox] = PodUsage(namespace=namespace, name=name, uid=uid)
    cpu_total, memory_total = 0.0, 0
    for stat in containers:
        cpu_total += stat.cpu_millis
        memory_total += stat.memory_bytes
        pod = by_sandbox.get(stat.pod_sandbox_id)
        if pod is not None:
            pod.cpu += stat.cpu_millis
            pod.memory += stat.memory_bytes
            pod.containers.append(
                ContainerUsage(name=stat.name, cpu=stat.cpu_millis, memory=stat.memory_bytes)
            )

    def resource(name: str, usage: float) -> ResourceUsage:
        return ResourceUsage(
            usage=usage,
            requested=requested.get(name, 0),
            allocatable=_units(name, allocatable.get(name)),
            capacity=_units(name, capacity.get(name)),
        )

    return NodeStats(
        node=node,
        time=now,
        cpu=resource(RESOURCE_CPU, round(cpu_total, 3)),
        memory=resource(RESOURCE_MEMORY, memory_total),
        pods=resource(RESOURCE_PODS, len(by_sandbox)),
        pod_stats=sorted(by_sandbox.values(), key=lambda p: (p.namespace, p.name)),
    )
