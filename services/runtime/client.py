"""The runtime over NATS: :class:`NatsRuntimeClient` serves :class:`RuntimeClient` by requests to a node.

A ``Status`` reply comes back as the :class:`~shared.errors.ApiError` the runtime raised. When the runtime
does not answer, the bus's own errors say so: ``ApiError(503)`` when nothing serves the subject (the
process is down) and ``ApiError(504)`` when no reply came in time (it hangs) — the kubelet's cue to
report the node NotReady. Calls that take time wait longer: a pull up to ``pull_timeout``, a stop up to
its grace period plus ``timeout``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from nats.aio.client import Client
from pydantic import BaseModel

from services.runtime.api import (
    ContainerConfig,
    ContainerIdRequest,
    ContainerLogsReply,
    ContainerLogsRequest,
    ContainerStats,
    ContainerStatsReply,
    ContainerStatus,
    CreateContainerReply,
    CreateContainerRequest,
    ListContainersReply,
    ListContainersRequest,
    ListPodSandboxesReply,
    LogLine,
    PodSandboxConfig,
    PodSandboxIdRequest,
    PodSandboxStatus,
    ProbeKind,
    ProbeReply,
    ProbeRequest,
    PullImageReply,
    PullImageRequest,
    RunPodSandboxReply,
    RunPodSandboxRequest,
    StopContainerRequest,
    VersionReply,
)
from shared import bus
from shared.subjects import node_cri

ReplyT = TypeVar("ReplyT", bound=BaseModel)

DEFAULT_TIMEOUT = 5.0
DEFAULT_PULL_TIMEOUT = 300.0


class NatsRuntimeClient:
    """A :class:`~services.runtime.api.RuntimeClient` for the runtime of ``node``."""

    def __init__(
        self,
        nc: Client,
        node: str,
        timeout: float = DEFAULT_TIMEOUT,
        pull_timeout: float = DEFAULT_PULL_TIMEOUT,
    ) -> None:
        self.nc = nc
        self.node = node
        self.timeout = timeout
        self.pull_timeout = pull_timeout

    async def _call(self, call: str, request: BaseModel | None, timeout: float | None = None) -> Any:
        return await bus.request(self.nc, node_cri(self.node, call), request, timeout=timeout or self.timeout)

    async def _call_for(
        self, reply: type[ReplyT], call: str, request: BaseModel | None, timeout: float | None = None
    ) -> ReplyT:
        return reply.model_validate(await self._call(call, request, timeout))

    async def version(self) -> VersionReply:
        return await self._call_for(VersionReply, "version", None)

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        reply = await self._call_for(
            RunPodSandboxReply, "run_pod_sandbox", RunPodSandboxRequest(config=config)
        )
        return reply.pod_sandbox_id

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        await self._call("stop_pod_sandbox", PodSandboxIdRequest(pod_sandbox_id=pod_sandbox_id))

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        await self._call("remove_pod_sandbox", PodSandboxIdRequest(pod_sandbox_id=pod_sandbox_id))

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return (await self._call_for(ListPodSandboxesReply, "list_pod_sandboxes", None)).items

    async def pull_image(self, image: str) -> PullImageReply:
        return await self._call_for(
            PullImageReply, "pull_image", PullImageRequest(image=image), self.pull_timeout
        )

    async def create_container(self, pod_sandbox_id: str, config: ContainerConfig) -> str:
        request = CreateContainerRequest(pod_sandbox_id=pod_sandbox_id, config=config)
        return (await self._call_for(CreateContainerReply, "create_container", request)).container_id

    async def start_container(self, container_id: str) -> None:
        await self._call("start_container", ContainerIdRequest(container_id=container_id))

    async def stop_container(self, container_id: str, timeout: float) -> None:
        request = StopContainerRequest(container_id=container_id, timeout=timeout)
        await self._call("stop_container", request, timeout + self.timeout)

    async def kill_container(self, container_id: str) -> None:
        await self.stop_container(container_id, 0.0)

    async def remove_container(self, container_id: str) -> None:
        await self._call("remove_container", ContainerIdRequest(container_id=container_id))

    async def container_status(self, container_id: str) -> ContainerStatus:
        return await self._call_for(
            ContainerStatus, "container_status", ContainerIdRequest(container_id=container_id)
        )

    async def list_containers(self, pod_sandbox_id: str = "") -> list[ContainerStatus]:
        request = ListContainersRequest(pod_sandbox_id=pod_sandbox_id)
        return (await self._call_for(ListContainersReply, "list_containers", request)).items

    async def container_stats(self) -> list[ContainerStats]:
        return (await self._call_for(ContainerStatsReply, "container_stats", None)).items

    async def container_logs(
        self, container_id: str, tail_lines: int | None = None, since: int | None = None
    ) -> list[LogLine]:
        request = ContainerLogsRequest(container_id=container_id, tail_lines=tail_lines, since=since)
        return (await self._call_for(ContainerLogsReply, "container_logs", request)).lines

    async def probe(self, container_id: str, kind: ProbeKind) -> ProbeReply:
        return await self._call_for(ProbeReply, "probe", ProbeRequest(container_id=container_id, kind=kind))
