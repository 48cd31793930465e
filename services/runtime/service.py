"""The runtime's NATS adapter: every CRI-shaped call on ``node.<node>.cri.<call>``, served from one core.

Thin by design: the bus validates the request against its model, the handler calls the in-process
runtime (which reads the clock and waits for pulls and stops), and errors travel as ``Status`` replies.
Each request is its own task (``MicroService``), so a pull or a graceful stop in progress holds up
nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client
from pydantic import BaseModel

from services.runtime.api import (
    CALLS,
    ContainerIdRequest,
    ContainerLogsReply,
    ContainerLogsRequest,
    ContainerStatsReply,
    CreateContainerReply,
    CreateContainerRequest,
    Empty,
    ListContainersReply,
    ListContainersRequest,
    ListPodSandboxesReply,
    PodSandboxIdRequest,
    ProbeRequest,
    PullImageRequest,
    RunPodSandboxReply,
    RunPodSandboxRequest,
    StopContainerRequest,
)
from services.runtime.core import RUNTIME_VERSION
from services.runtime.inprocess import InProcessRuntime
from shared.bus import MicroService, RequestContext
from shared.subjects import node_cri

SERVICE_NAME = "runtime"

Handler = Callable[[Any, RequestContext], Awaitable[BaseModel | None]]


class RuntimeService:
    """Serves ``runtime`` (one node's container runtime) over NATS."""

    def __init__(self, nc: Client, runtime: InProcessRuntime) -> None:
        self.runtime = runtime
        self.node = runtime.core.node
        self.service = MicroService(
            nc,
            SERVICE_NAME,
            RUNTIME_VERSION,
            description="simulated container runtime (CRI-shaped)",
            metadata={"node": self.node},
        )
        for call, (model, handler) in self._endpoints().items():
            self.service.add_endpoint(call, node_cri(self.node, call), model, handler)

    async def start(self) -> None:
        await self.service.start()

    async def stop(self, grace: float = 5.0) -> None:
        await self.service.stop(grace)

    def _endpoints(self) -> dict[str, tuple[type[BaseModel], Handler]]:
        endpoints: dict[str, tuple[type[BaseModel], Handler]] = {
            "version": (Empty, self._version),
            "run_pod_sandbox": (RunPodSandboxRequest, self._run_pod_sandbox),
            "stop_pod_sandbox": (PodSandboxIdRequest, self._stop_pod_sandbox),
            "remove_pod_sandbox": (PodSandboxIdRequest, self._remove_pod_sandbox),
            "list_pod_sandboxes": (Empty, self._list_pod_sandboxes),
            "pull_image": (PullImageRequest, self._pull_image),
            "create_container": (CreateContainerRequest, self._create_container),
            "start_container": (ContainerIdRequest, self._start_container),
            "stop_container": (StopContainerRequest, self._stop_container),
            "remove_container": (ContainerIdRequest, self._remove_container),
            "container_status": (ContainerIdRequest, self._container_status),
            "list_containers": (ListContainersRequest, self._list_containers),
            "container_stats": (Empty, self._container_stats),
            "container_logs": (ContainerLogsRequest, self._container_logs),
            "probe": (ProbeRequest, self._probe),
        }
        assert tuple(endpoints) == CALLS, "every call of the contract is served, in its order"
        return endpoints

    async def _version(self, request: Empty, context: RequestContext) -> BaseModel:
        return await self.runtime.version()

    async def _run_pod_sandbox(self, request: RunPodSandboxRequest, context: RequestContext) -> BaseModel:
        return RunPodSandboxReply(pod_sandbox_id=await self.runtime.run_pod_sandbox(request.config))

    async def _stop_pod_sandbox(self, request: PodSandboxIdRequest, context: RequestContext) -> None:
        await self.runtime.stop_pod_sandbox(request.pod_sandbox_id)

    async def _remove_pod_sandbox(self, request: PodSandboxIdRequest, context: RequestContext) -> None:
        await self.runtime.remove_pod_sandbox(request.pod_sandbox_id)

    async def _list_pod_sandboxes(self, request: Empty, context: RequestContext) -> BaseModel:
        return ListPodSandboxesReply(items=await self.runtime.list_pod_sandboxes())

    async def _pull_image(self, request: PullImageRequest, context: RequestContext) -> BaseModel:
        return await self.runtime.pull_image(request.image)

    async def _create_container(self, request: CreateContainerRequest, context: RequestContext) -> BaseModel:
        container_id = await self.runtime.create_container(request.pod_sandbox_id, request.config)
        return CreateContainerReply(container_id=container_id)

    async def _start_container(self, request: ContainerIdRequest, context: RequestContext) -> None:
        await self.runtime.start_container(request.container_id)

    async def _stop_container(self, request: StopContainerRequest, context: RequestContext) -> None:
        await self.runtime.stop_container(request.container_id, request.timeout)

    async def _remove_container(self, request: ContainerIdRequest, context: RequestContext) -> None:
        await self.runtime.remove_container(request.container_id)

    async def _container_status(self, request: ContainerIdRequest, context: RequestContext) -> BaseModel:
        return await self.runtime.container_status(request.container_id)

    async def _list_containers(self, request: ListContainersRequest, context: RequestContext) -> BaseModel:
        return ListContainersReply(items=await self.runtime.list_containers(request.pod_sandbox_id))

    async def _container_stats(self, request: Empty, context: RequestContext) -> BaseModel:
        return ContainerStatsReply(items=await self.runtime.container_stats())

    async def _container_logs(self, request: ContainerLogsRequest, context: RequestContext) -> BaseModel:
        lines = await self.runtime.container_logs(request.container_id, request.tail_lines, request.since)
        return ContainerLogsReply(lines=lines)

    async def _probe(self, request: ProbeRequest, context: RequestContext) -> BaseModel:
        return await self.runtime.probe(request.container_id, request.kind)
