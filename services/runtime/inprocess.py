"""The runtime as a direct call: :class:`InProcessRuntime` serves :class:`RuntimeClient` from a core.

Hollow nodes (hundreds of kubelets in one process) each hold one of these, so a node costs a few
dictionaries rather than a process and a NATS service. The NATS service wraps the same class, so both
paths behave alike. Calls that take time (a pull, a graceful stop) wait on the clock until the core says
they are done; every other call returns at once.
"""

from __future__ import annotations

from services.runtime.api import (
    ContainerConfig,
    ContainerStats,
    ContainerStatus,
    LogLine,
    PodSandboxConfig,
    PodSandboxStatus,
    ProbeKind,
    ProbeReply,
    PullImageReply,
    VersionReply,
)
from services.runtime.core import RuntimeCore
from services.runtime.network import PodNetwork
from shared.clock import Clock


class InProcessRuntime:
    """A :class:`~services.runtime.api.RuntimeClient` calling ``core`` with ``clock``'s monotonic time.

    The core's timeline must be ``clock``'s (``RuntimeCore(node, timeline=Timeline.of(clock))``), so that
    the Unix times in its replies are this clock's wall-clock times.
    """

    def __init__(self, core: RuntimeCore, clock: Clock, network: PodNetwork | None = None) -> None:
        self.core = core
        self.clock = clock
        self.network = network
        """Where started containers serve and send traffic; None = no pod network (unit tests)."""

    async def _wait_until(self, deadline: float) -> None:
        # A loop, because a sleep may wake a hair before its deadline and the core must agree it is done.
        while (remaining := deadline - self.clock.monotonic()) > 0:
            await self.clock.sleep(remaining)

    def _now(self) -> float:
        return self.clock.monotonic()

    async def version(self) -> VersionReply:
        return self.core.version()

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        return self.core.run_pod_sandbox(config, self._now())

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        self.core.stop_pod_sandbox(pod_sandbox_id, self._now())

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        if self.network is not None:
            for container in self.core.list_containers(self._now(), pod_sandbox_id):
                await self.network.detach(container.id)
        self.core.remove_pod_sandbox(pod_sandbox_id, self._now())

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return self.core.list_pod_sandboxes()

    async def pull_image(self, image: str) -> PullImageReply:
        result = self.core.pull_image(image, self._now())
        await self._wait_until(result.done_at)
        return result.reply

    async def create_container(self, pod_sandbox_id: str, config: ContainerConfig) -> str:
        return self.core.create_container(pod_sandbox_id, config, self._now())

    async def start_container(self, container_id: str) -> None:
        self.core.start_container(container_id, self._now())
        if self.network is not None:
            await self.network.attach(container_id)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        await self._wait_until(self.core.stop_container(container_id, timeout, self._now()))

    async def kill_container(self, container_id: str) -> None:
        self.core.stop_container(container_id, 0.0, self._now())

    async def remove_container(self, container_id: str) -> None:
        if self.network is not None:
            await self.network.detach(container_id)
        self.core.remove_container(container_id, self._now())

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self.core.container_status(container_id, self._now())

    async def list_containers(self, pod_sandbox_id: str = "") -> list[ContainerStatus]:
        return self.core.list_containers(self._now(), pod_sandbox_id)

    async def container_stats(self) -> list[ContainerStats]:
        return self.core.container_stats(self._now())

    async def container_logs(
        self, container_id: str, tail_lines: int | None = None, since: int | None = None
    ) -> list[LogLine]:
        return self.core.container_logs(container_id, self._now(), tail_lines, since)

    async def probe(self, container_id: str, kind: ProbeKind) -> ProbeReply:
        return self.core.probe(container_id, kind, self._now())
