"""Pod (core/v1): its spec, its status, the pod template other kinds embed, and ``pod_requests``.

``pod_requests`` computes what the scheduler and the kubelet account for a pod, as Kubernetes'
``resourcehelper.PodRequests`` does: the sum of the app containers and the sidecars, raised to the largest
need of any init container while it runs, replaced by pod-level ``spec.resources.requests`` where those are
set (cpu, memory and hugepages only), plus ``spec.overhead``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.models.affinity import Affinity, TopologySpreadConstraint
from shared.models.base import KubeModel
from shared.models.container import Container, ContainerStatus
from shared.models.meta import KubeObject, ObjectMeta, ObjectReference
from shared.models.resources import (
    RESOURCE_CPU,
    RESOURCE_MEMORY,
    ResourceList,
    ResourceRequirements,
    add_resources,
    max_resources,
)
from shared.models.taints import Toleration
from shared.models.timestamps import Time

__all__ = [
    "Binding",
    "Pod",
    "PodCondition",
    "PodIP",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "is_pod_level_resource",
    "pod_priority",
    "pod_requests",
]


class PodSpec(KubeModel):
    """What a pod should run and where. ``volumes``, ``securityContext`` and the rest ride along unmodelled.

    ``containers`` is required by the API server's validation, not by this model.
    """

    containers: list[Container] = Field(default_factory=list)
    init_containers: list[Container] = Field(default_factory=list)
    restart_policy: str = "Always"
    termination_grace_period_seconds: int | None = 30
    active_deadline_seconds: int | None = None
    node_name: str = ""
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: Affinity | None = None
    tolerations: list[Toleration] = Field(default_factory=list)
    topology_spread_constraints: list[TopologySpreadConstraint] = Field(default_factory=list)
    priority: int | None = None
    priority_class_name: str = ""
    preemption_policy: str | None = None
    scheduler_name: str = "default-scheduler"
    service_account_name: str = ""
    host_network: bool = False
    resources: ResourceRequirements | None = None
    overhead: ResourceList = Field(default_factory=dict)
    volumes: list[dict[str, Any]] = Field(default_factory=list)

    def all_containers(self) -> list[Container]:
        return [*self.init_containers, *self.containers]


class PodCondition(KubeModel):
    """``PodScheduled``, ``Initialized``, ``ContainersReady``, ``Ready`` … with status True/False/Unknown."""

    type: str
    status: str
    observed_generation: int | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str = ""
    message: str = ""


class PodIP(KubeModel):
    ip: str


class PodStatus(KubeModel):
    phase: str = ""
    conditions: list[PodCondition] = Field(default_factory=list)
    message: str = ""
    reason: str = ""
    nominated_node_name: str = ""
    host_ip: str = Field(default="", alias="hostIP")
    host_ips: list[PodIP] = Field(default_factory=list, alias="hostIPs")
    pod_ip: str = Field(default="", alias="podIP")
    pod_ips: list[PodIP] = Field(default_factory=list, alias="podIPs")
    start_time: Time | None = None
    init_container_statuses: list[ContainerStatus] = Field(default_factory=list)
    container_statuses: list[ContainerStatus] = Field(default_factory=list)
    qos_class: str = Field(default="", alias="qosClass")
    observed_generation: int | None = None


class Pod(KubeObject):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Pod"] = "Pod"
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)


class PodTemplateSpec(KubeModel):
    """The pod a Deployment or ReplicaSet stamps out."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)


class Binding(KubeObject):
    """The body of ``pods/binding``: assigns the pod named in ``metadata`` to the node named in ``target``."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Binding"] = "Binding"
    target: ObjectReference


def pod_priority(pod: Pod) -> int:
    """The pod's priority, 0 when none was resolved (as the scheduler's ``PodPriority`` helper does)."""
    return pod.spec.priority if pod.spec.priority is not None else 0


def is_pod_level_resource(name: str) -> bool:
    """Resources that pod-level ``spec.resources`` may set: cpu, memory and hugepages-*."""
    return name in (RESOURCE_CPU, RESOURCE_MEMORY) or name.startswith("hugepages-")


def pod_requests(pod: Pod) -> ResourceList:
    """The pod's effective requests. Worked example, with sidecar S (restartPolicy Always) declared before
    init container I: S=100m, I=300m, apps 200m+200m → apps and sidecars 500m; while I runs, S+I = 400m;
    the pod requests max(500m, 400m) = 500m."""
    spec = pod.spec
    reqs: ResourceList = {}
    for container in spec.containers:
        add_resources(reqs, container.resources.requests)

    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in spec.init_containers:
        if container.is_restartable_init():
            add_resources(reqs, container.resources.requests)
            add_resources(sidecars, container.resources.requests)
            max_resources(init_peak, sidecars)
        else:
            running: ResourceList = dict(container.resources.requests)
            add_resources(running, sidecars)
            max_resources(init_peak, running)
    max_resources(reqs, init_peak)

    if spec.resources is not None:
        for name, amount in spec.resources.requests.items():
            if is_pod_level_resource(name):
                reqs[name] = amount

    add_resources(reqs, spec.overhead)
    return reqs
