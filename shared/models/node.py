"""Node (core/v1): a worker's spec (taints, unschedulable, pod CIDR) and status (capacity, conditions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.meta import KubeObject, find_condition
from shared.models.resources import ResourceList
from shared.models.taints import Taint
from shared.models.timestamps import Time

__all__ = [
    "Node",
    "NodeAddress",
    "NodeCondition",
    "NodeSpec",
    "NodeStatus",
    "NodeSystemInfo",
    "is_node_ready",
]


class NodeSpec(KubeModel):
    pod_cidr: str = Field(default="", alias="podCIDR")
    pod_cidrs: list[str] = Field(default_factory=list, alias="podCIDRs")
    provider_id: str = Field(default="", alias="providerID")
    unschedulable: bool = False
    taints: list[Taint] = Field(default_factory=list)
    external_id: str = Field(default="", alias="externalID")


class NodeCondition(KubeModel):
    """``Ready``, ``MemoryPressure``, ``DiskPressure``, ``PIDPressure``, ``NetworkUnavailable``."""

    type: str
    status: str
    last_heartbeat_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str = ""
    message: str = ""


class NodeAddress(KubeModel):
    """``InternalIP``, ``ExternalIP``, ``Hostname`` …"""

    type: str
    address: str


class NodeSystemInfo(KubeModel):
    machine_id: str = Field(default="", alias="machineID")
    system_uuid: str = Field(default="", alias="systemUUID")
    boot_id: str = Field(default="", alias="bootID")
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""
    kubelet_version: str = ""
    kube_proxy_version: str = ""
    operating_system: str = ""
    architecture: str = ""


class NodeStatus(KubeModel):
    capacity: ResourceList = Field(default_factory=dict)
    allocatable: ResourceList = Field(default_factory=dict)
    phase: str = ""
    conditions: list[NodeCondition] = Field(default_factory=list)
    addresses: list[NodeAddress] = Field(default_factory=list)
    daemon_endpoints: dict[str, Any] | None = None
    node_info: NodeSystemInfo | None = None
    images: list[dict[str, Any]] = Field(default_factory=list)


class Node(KubeObject):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Node"] = "Node"
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)


def is_node_ready(node: Node) -> bool:
    """Whether the node's ``Ready`` condition is ``True``."""
    ready = find_condition(node.status.conditions, "Ready")
    return ready is not None and ready.status == "True"
