"""The container runtime's contract: CRI-shaped messages and the client protocol the kubelet calls.

The shapes follow Kubernetes' CRI (``k8s.io/cri-api`` ``RuntimeService`` and ``ImageService``), cut to
what a simulated runtime can honour. Each call is one request model and one reply model; over NATS a
call ``<call>`` travels on ``node.<node>.cri.<call>`` (:func:`shared.subjects.node_cri`) with the request
model as its body, and in-process (hollow nodes) the same models go through a direct call. The kubelet
sees only :class:`RuntimeClient`, so it cannot tell the two apart.

Times are Unix nanoseconds, as in CRI (containerd's ``created_at``, ``started_at``, ``finished_at``), so
they mean the same on every machine: a kubelet reads them with :func:`to_datetime` and compares them with
its own wall clock, never with its monotonic one. (The core runs on a monotonic clock; ``timeline.py``
stamps its replies.) Durations are seconds; memory is in bytes and CPU in millicores, as the kubelet's
accounting uses them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from pydantic import BaseModel, ConfigDict, Field

CALLS: Final = (
    "version",
    "run_pod_sandbox",
    "stop_pod_sandbox",
    "remove_pod_sandbox",
    "list_pod_sandboxes",
    "pull_image",
    "create_container",
    "start_container",
    "stop_container",
    "remove_container",
    "container_status",
    "list_containers",
    "container_stats",
    "container_logs",
    "probe",
)
"""Every call a runtime serves; the last token of its subject."""

EXIT_CODE_SIGKILL: Final = 137
"""128 + SIGKILL: a container killed (OOM, stop past its grace period, chaos kill)."""

NANOS_PER_SECOND: Final = 1_000_000_000

UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(unix_nanos: int) -> datetime:
    """A time from a reply as a timezone-aware UTC datetime (to the microsecond)."""
    return UNIX_EPOCH + timedelta(microseconds=unix_nanos // 1000)


def to_seconds(unix_nanos: int) -> float:
    """A time from a reply in Unix seconds."""
    return unix_nanos / NANOS_PER_SECOND


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerState(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    UNKNOWN = "UNKNOWN"


class PodSandboxState(StrEnum):
    READY = "READY"
    NOTREADY = "NOTREADY"


class PodSandboxConfig(Message):
    """The pod a sandbox is for; ``annotations`` carry the ``sim.kubenats.io/…`` behaviour keys."""

    name: str
    namespace: str
    uid: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    ip: str = Field(default="", description="the pod IP the kubelet allocated from the node's podCIDR")


class ContainerResources(Message):
    cpu_request_millis: int = 0
    cpu_limit_millis: int = 0
    """0 = no limit."""
    memory_request_bytes: int = 0
    memory_limit_bytes: int = 0
    """0 = no limit (the container can then never be OOM-killed by its own limit)."""


class ContainerConfig(Message):
    name: str
    image: str
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    resources: ContainerResources = Field(default_factory=ContainerResources)
    attempt: int = Field(default=0, description="how many times this container was started before")
    ports: list[int] = Field(
        default_factory=list, description="container ports it serves on, at the pod's IP (pod.<ip>.<port>)"
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="the pod's annotations (behaviour keys may name the container)"
    )


class ContainerStatus(Message):
    id: str
    pod_sandbox_id: str
    name: str
    image: str
    attempt: int
    state: ContainerState
    created_at: int = Field(description="Unix nanoseconds")
    started_at: int | None = Field(default=None, description="Unix nanoseconds; None until started")
    finished_at: int | None = Field(default=None, description="Unix nanoseconds; None until exited")
    exit_code: int | None = None
    reason: str = Field(default="", description="on exit: Completed, Error or OOMKilled")
    message: str = ""


class PodSandboxStatus(Message):
    id: str
    config: PodSandboxConfig
    state: PodSandboxState
    created_at: int = Field(description="Unix nanoseconds")


class ContainerStats(Message):
    id: str
    name: str
    pod_sandbox_id: str
    timestamp: int = Field(description="Unix nanoseconds of the sample")
    cpu_millis: float = Field(description="CPU use now, in millicores")
    cpu_seconds_total: float = Field(description="CPU time used since start, for rates")
    memory_bytes: int = Field(description="working set now")


# --- requests and replies -------------------------------------------------------------------------


class Empty(Message):
    pass


class VersionReply(Message):
    runtime_name: str = "kubenats-sim"
    runtime_version: str
    node: str


class RunPodSandboxRequest(Message):
    config: PodSandboxConfig


class PodSandboxIdRequest(Message):
    pod_sandbox_id: str


class RunPodSandboxReply(Message):
    pod_sandbox_id: str


class ListPodSandboxesReply(Message):
    items: list[PodSandboxStatus]


class PullImageRequest(Message):
    image: str


class PullImageReply(Message):
    image_ref: str
    pulled: bool = Field(description="False when the image was already present")
    size: int = Field(description="the image's size in bytes (CRI's ImageStatus ``size``)")


class CreateContainerRequest(Message):
    pod_sandbox_id: str
    config: ContainerConfig


class ContainerIdRequest(Message):
    container_id: str


class CreateContainerReply(Message):
    container_id: str


class StopContainerRequest(Message):
    container_id: str
    timeout: float = Field(default=0.0, ge=0, description="grace period; after it the container is killed")


class ListContainersRequest(Message):
    pod_sandbox_id: str = Field(default="", description="'' = every sandbox")


class ListContainersReply(Message):
    items: list[ContainerStatus]


class ContainerStatsReply(Message):
    items: list[ContainerStats]


class ContainerLogsRequest(Message):
    container_id: str
    tail_lines: int | None = Field(default=None, ge=0)
    since: int | None = Field(default=None, description="only lines written at or after (Unix nanoseconds)")


class LogLine(Message):
    timestamp: int = Field(description="Unix nanoseconds")
    stream: str = "stdout"
    line: str


class ContainerLogsReply(Message):
    lines: list[LogLine]


class ProbeKind(StrEnum):
    STARTUP = "startup"
    LIVENESS = "liveness"
    READINESS = "readiness"


class ProbeRequest(Message):
    """Run one of the container's probes. A simulated container has no address to dial, so the runtime
    answers from the container's behaviour (its start-up time, ``sim.kubenats.io/…`` probe keys); the
    kubelet keeps the probe's schedule, thresholds and consequences as the real one does."""

    container_id: str
    kind: ProbeKind


class ProbeReply(Message):
    success: bool
    message: str = ""


class RuntimeClient(Protocol):
    """What the kubelet calls. Every method raises :class:`shared.errors.ApiError` (404 for an unknown
    sandbox or container id) or a connection error (``asyncio.TimeoutError``, ``OSError``) when the runtime
    does not answer — the kubelet reports the node NotReady then."""

    async def version(self) -> VersionReply: ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        """Create and start a sandbox; returns its id. Idempotent per pod uid: the same uid → the same id."""
        ...

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Kill every container still running in it (exit 137) and mark it NOTREADY."""
        ...

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Remove it and its containers; removing an unknown sandbox is not an error."""
        ...

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    async def pull_image(self, image: str) -> PullImageReply:
        """Returns once the image is present (pull time grows with the image's simulated size); the reply
        names the image and its size, as CRI's PullImage followed by ImageStatus does."""
        ...

    async def create_container(self, pod_sandbox_id: str, config: ContainerConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """Ask it to stop; returns once it has exited (by itself within ``timeout``, else killed, 137)."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def list_containers(self, pod_sandbox_id: str = "") -> list[ContainerStatus]: ...

    async def container_stats(self) -> list[ContainerStats]: ...

    async def container_logs(
        self, container_id: str, tail_lines: int | None = None, since: int | None = None
    ) -> list[LogLine]: ...

    async def probe(self, container_id: str, kind: ProbeKind) -> ProbeReply: ...

    async def kill_container(self, container_id: str) -> None:
        """Kill it at once with SIGKILL (exit 137), as ``chaos.pod.<ns>.<name>.kill`` and a node crash do.

        Not a CRI call: over NATS it travels as ``stop_container`` with ``timeout: 0``."""
        ...
