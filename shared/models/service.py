"""Service (core/v1): a stable virtual address in front of the pods its ``selector`` matches.

``targetPort`` is a number or the name of a container port; ``ServicePort.resolve_target_port`` maps it onto
a given pod's container ports as the endpoints controller does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.intstr import IntOrString
from shared.models.meta import KubeObject
from shared.models.pod import Pod

__all__ = ["Service", "ServicePort", "ServiceSpec", "ServiceStatus"]


class ServicePort(KubeModel):
    port: int
    name: str = ""
    protocol: str = "TCP"
    app_protocol: str | None = None
    target_port: IntOrString | None = None
    node_port: int | None = None

    def resolve_target_port(self, pod: Pod) -> int | None:
        """The pod port this service port sends to: a number as is, a name looked up among the pod's
        containers (None if no container has a port of that name and protocol), ``port`` when unset."""
        if self.target_port is None:
            return self.port
        if isinstance(self.target_port, int):
            return self.target_port
        for container in pod.spec.containers:
            for container_port in container.ports:
                if container_port.name == self.target_port and container_port.protocol == self.protocol:
                    return container_port.container_port
        return None


class ServiceSpec(KubeModel):
    """``type`` is ClusterIP, NodePort, LoadBalancer or ExternalName; ``clusterIP: None`` is headless."""

    type: str = "ClusterIP"
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[ServicePort] = Field(default_factory=list)
    cluster_ip: str = Field(default="", alias="clusterIP")
    cluster_ips: list[str] = Field(default_factory=list, alias="clusterIPs")
    external_ips: list[str] = Field(default_factory=list, alias="externalIPs")
    load_balancer_ip: str = Field(default="", alias="loadBalancerIP")
    session_affinity: str = "None"
    session_affinity_config: dict[str, Any] | None = None
    external_name: str = ""
    external_traffic_policy: str = ""
    internal_traffic_policy: str | None = None
    ip_families: list[str] = Field(default_factory=list)
    ip_family_policy: str | None = None
    publish_not_ready_addresses: bool = False

    def is_headless(self) -> bool:
        return self.cluster_ip == "None"


class ServiceStatus(KubeModel):
    """``loadBalancer`` and ``conditions`` are kept as opaque JSON."""

    load_balancer: dict[str, Any] = Field(default_factory=dict)
    conditions: list[dict[str, Any]] = Field(default_factory=list)


class Service(KubeObject):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Service"] = "Service"
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus = Field(default_factory=ServiceStatus)
