"""Containers: their spec (image, ports, env, resources, probes) and their reported status.

Probe timing fields read as Kubernetes' defaults when unset (period 10 s, timeout 1 s, success 1,
failure 3), so a kubelet can use them directly; they are written out only when set.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.intstr import IntOrString
from shared.models.resources import ResourceList, ResourceRequirements
from shared.models.timestamps import Time

__all__ = [
    "Container",
    "ContainerPort",
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "EnvVar",
    "ExecAction",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "Probe",
    "TCPSocketAction",
]


class ContainerPort(KubeModel):
    container_port: int
    name: str = ""
    protocol: str = "TCP"
    host_port: int | None = None
    host_ip: str = Field(default="", alias="hostIP")


class EnvVar(KubeModel):
    """An environment variable; ``valueFrom`` (field, secret and config map references) is kept opaque."""

    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = None


class ExecAction(KubeModel):
    command: list[str] = Field(default_factory=list)


class HTTPHeader(KubeModel):
    name: str
    value: str


class HTTPGetAction(KubeModel):
    port: IntOrString
    path: str = ""
    host: str = ""
    scheme: str = "HTTP"
    http_headers: list[HTTPHeader] = Field(default_factory=list)


class TCPSocketAction(KubeModel):
    port: IntOrString
    host: str = ""


class GRPCAction(KubeModel):
    port: int
    service: str | None = None


class Probe(KubeModel):
    """A liveness, readiness or startup probe: one handler plus timing."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int = 0
    timeout_seconds: int = 1
    period_seconds: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None


class Container(KubeModel):
    """A container of a pod (also used for init containers; ``restartPolicy: Always`` marks a sidecar)."""

    name: str
    image: str = ""
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    working_dir: str = ""
    ports: list[ContainerPort] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    restart_policy: str | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    image_pull_policy: str = ""

    def is_restartable_init(self) -> bool:
        """Whether this init container is a sidecar that keeps running beside the app containers."""
        return self.restart_policy == "Always"

    def port_named(self, name: str) -> ContainerPort | None:
        return next((port for port in self.ports if port.name == name), None)


class ContainerStateWaiting(KubeModel):
    reason: str = ""
    message: str = ""


class ContainerStateRunning(KubeModel):
    started_at: Time | None = None


class ContainerStateTerminated(KubeModel):
    exit_code: int
    signal: int | None = None
    reason: str = ""
    message: str = ""
    started_at: Time | None = None
    finished_at: Time | None = None
    container_id: str = Field(default="", alias="containerID")


class ContainerState(KubeModel):
    """Exactly one of ``waiting``, ``running`` or ``terminated`` is set (none means waiting)."""

    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(KubeModel):
    name: str
    state: ContainerState = Field(default_factory=ContainerState)
    last_state: ContainerState = Field(default_factory=ContainerState)
    ready: bool = False
    restart_count: int = 0
    image: str = ""
    image_id: str = Field(default="", alias="imageID")
    container_id: str = Field(default="", alias="containerID")
    started: bool | None = None
    allocated_resources: ResourceList = Field(default_factory=dict)
    resources: ResourceRequirements | None = None
