"""The simulated container runtime of one node: sandboxes, containers and images, as a pure state machine.

Every operation takes ``now`` (seconds on the host's monotonic clock) and nothing here reads a clock,
sleeps or starts a task: containers change state lazily, when they are looked at (``container.py``).
Replies carry Unix times, stamped through the core's :class:`~services.runtime.timeline.Timeline`.
Calls that take time in a real runtime — pulling an image, stopping a container within its grace
period — return the moment they will be done, and the caller waits for it (``inprocess.py``).

Errors are :class:`~shared.errors.ApiError`: 404 for an unknown id, 409 for a call the state does not
allow (creating in a stopped sandbox, from an image not pulled, starting twice), 422 for behaviour
settings that cannot be honoured (the message names the ``sim.kubenats.io/…`` key), 400 for a bad image
reference.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from services.runtime.api import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    LogLine,
    PodSandboxConfig,
    PodSandboxState,
    PodSandboxStatus,
    ProbeKind,
    ProbeReply,
    PullImageReply,
    VersionReply,
)
from services.runtime.behaviour import BehaviourError
from services.runtime.catalogue import image_profile, parse_reference
from services.runtime.container import Answer, SimContainer
from services.runtime.profiles import behaviour_for
from services.runtime.timeline import Timeline
from shared.errors import ApiError, bad_request, conflict, not_found

RUNTIME_VERSION: Final = "0.1.0"


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    pull_bytes_per_second: float = 100 * 1024 * 1024
    """Download rate of one image pull."""
    pull_latency: float = 0.1
    """Seconds every pull of an absent image takes before its bytes move (registry round trips)."""
    log_lines: int = 1000
    """Lines kept per container; older ones are dropped."""


@dataclass(frozen=True, slots=True)
class PullResult:
    reply: PullImageReply
    done_at: float
    """When the image is present (≤ the call's ``now`` if it already was)."""


@dataclass(slots=True)
class SimSandbox:
    id: str
    config: PodSandboxConfig
    created_at: int
    """Unix nanoseconds."""
    state: PodSandboxState = PodSandboxState.READY
    container_ids: list[str] = field(default_factory=list)

    def status(self) -> PodSandboxStatus:
        return PodSandboxStatus(id=self.id, config=self.config, state=self.state, created_at=self.created_at)


def random_id() -> str:
    return uuid.uuid4().hex


class RuntimeCore:
    """One node's runtime. Not thread-safe; call it from one event loop."""

    def __init__(
        self,
        node: str,
        config: RuntimeConfig | None = None,
        new_id: Callable[[], str] = random_id,
        timeline: Timeline | None = None,
    ) -> None:
        """``timeline`` maps the clock ``now`` is read from to Unix time (``Timeline.of(clock)``); by
        default ``now`` is taken as Unix seconds."""
        self.node = node
        self.config = config or RuntimeConfig()
        self.timeline = timeline or Timeline()
        self._new_id = new_id
        self._sandboxes: dict[str, SimSandbox] = {}
        self._sandbox_by_uid: dict[str, str] = {}
        self._containers: dict[str, SimContainer] = {}
        self._images: dict[str, float] = {}
        """Canonical image reference → when it is (or will be) present."""

    def version(self) -> VersionReply:
        return VersionReply(runtime_version=RUNTIME_VERSION, node=self.node)

    # --- sandboxes -----------------------------------------------------------------------------

    def run_pod_sandbox(self, config: PodSandboxConfig, now: float) -> str:
        existing = self._sandbox_by_uid.get(config.uid)
        if existing is not None:
            self._sandboxes[existing].state = PodSandboxState.READY
            return existing
        sandbox = SimSandbox(self._new_id(), config, self.timeline.unix_nanos(now))
        self._sandboxes[sandbox.id] = sandbox
        self._sandbox_by_uid[config.uid] = sandbox.id
        return sandbox.id

    def stop_pod_sandbox(self, sandbox_id: str, now: float) -> None:
        """Kill every container still running in it and mark it NOTREADY."""
        sandbox = self._sandbox(sandbox_id)
        for container_id in sandbox.container_ids:
            self._containers[container_id].stop(now, 0.0)
        sandbox.state = PodSandboxState.NOTREADY

    def remove_pod_sandbox(self, sandbox_id: str, now: float) -> None:
        sandbox = self._sandboxes.pop(sandbox_id, None)
        if sandbox is None:
            return
        for container_id in sandbox.container_ids:
            self._containers.pop(container_id).stop(now, 0.0)
        self._sandbox_by_uid.pop(sandbox.config.uid, None)

    def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [sandbox.status() for sandbox in self._sandboxes.values()]

    def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self._sandbox(sandbox_id).status()

    def _sandbox(self, sandbox_id: str) -> SimSandbox:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            raise not_found(f"pod sandbox {sandbox_id!r} not found on node {self.node}", id=sandbox_id)
        return sandbox

    # --- images --------------------------------------------------------------------------------

    def pull_image(self, image: str, now: float) -> PullResult:
        """Start pulling ``image`` unless it is present or already coming; a second pull of an image on
        its way finishes with the first."""
        ref = _canonical(image)
        size = image_profile(image).size
        ready_at = self._images.get(ref)
        if ready_at is not None:
            return PullResult(PullImageReply(image_ref=ref, pulled=ready_at > now, size=size), ready_at)
        ready_at = now + self.config.pull_latency + size / self.config.pull_bytes_per_second
        self._images[ref] = ready_at
        return PullResult(PullImageReply(image_ref=ref, pulled=True, size=size), ready_at)

    def image_present(self, image: str, now: float) -> bool:
        ready_at = self._images.get(_canonical(image))
        return ready_at is not None and ready_at <= now

    def remove_image(self, image: str) -> None:
        self._images.pop(_canonical(image), None)

    # --- containers ----------------------------------------------------------------------------

    def create_container(self, sandbox_id: str, config: ContainerConfig, now: float) -> str:
        sandbox = self._sandbox(sandbox_id)
        if sandbox.state is not PodSandboxState.READY:
            raise conflict(f"pod sandbox {sandbox_id!r} is not ready", id=sandbox_id)
        if not self.image_present(config.image, now):
            raise conflict(f"image {config.image!r} is not present on node {self.node}; pull it first")
        for other_id in sandbox.container_ids:
            other = self._containers[other_id].config
            if (other.name, other.attempt) == (config.name, config.attempt):
                raise conflict(f"container name {config.name!r} attempt {config.attempt} is already in use")
        try:
            behaviour = behaviour_for(config)
        except BehaviourError as error:
            raise ApiError(422, f"container {config.name!r}: {error}") from None
        container = SimContainer(
            self._new_id(), sandbox_id, config, behaviour, now, self.config.log_lines, self.timeline
        )
        self._containers[container.id] = container
        sandbox.container_ids.append(container.id)
        return container.id

    def start_container(self, container_id: str, now: float) -> None:
        self._container(container_id).start(now)

    def stop_container(self, container_id: str, timeout: float, now: float) -> float:
        """Ask it to stop within ``timeout`` seconds (0 = kill now); returns when it will have exited."""
        return self._container(container_id).stop(now, max(timeout, 0.0))

    def remove_container(self, container_id: str, now: float) -> None:
        """Kill it if it runs, then forget it; removing an unknown container is not an error (as in CRI)."""
        container = self._containers.pop(container_id, None)
        if container is None:
            return
        container.stop(now, 0.0)
        sandbox = self._sandboxes.get(container.sandbox_id)
        if sandbox is not None:
            sandbox.container_ids.remove(container_id)

    def container_status(self, container_id: str, now: float) -> ContainerStatus:
        return self._container(container_id).status(now)

    def list_containers(self, now: float, sandbox_id: str = "") -> list[ContainerStatus]:
        if sandbox_id:
            sandbox = self._sandboxes.get(sandbox_id)
            ids = sandbox.container_ids if sandbox else []
            return [self._containers[container_id].status(now) for container_id in ids]
        return [container.status(now) for container in self._containers.values()]

    def container_stats(self, now: float) -> list[ContainerStats]:
        """Usage of every running container."""
        return [
            container.stats(now)
            for container in self._containers.values()
            if container.state(now) is ContainerState.RUNNING
        ]

    def container_logs(
        self, container_id: str, now: float, tail_lines: int | None = None, since: int | None = None
    ) -> list[LogLine]:
        """The lines kept, oldest first; ``since`` in Unix nanoseconds, like the lines' timestamps."""
        return self._container(container_id).logs(now, tail_lines, since)

    def answer(self, container_id: str, now: float, draw: float, spread: float) -> Answer:
        """How a container answers a request on its port at ``now`` (see :meth:`SimContainer.answer`)."""
        container = self._containers.get(container_id)
        if container is None:
            return Answer(refused="connection refused: no such container")
        return container.answer(now, draw, spread)

    def serving(self, container_id: str) -> tuple[str, list[int], SimContainer] | None:
        """The pod IP ('' when the kubelet gave none), the ports and the container, while it exists."""
        container = self._containers.get(container_id)
        sandbox = self._sandboxes.get(container.sandbox_id) if container else None
        if container is None or sandbox is None:
            return None
        return sandbox.config.ip, list(container.config.ports), container

    def write_log(self, container_id: str, now: float, line: str) -> None:
        """Add a line to a container's log, as its application would write one."""
        container = self._containers.get(container_id)
        if container is not None:
            container.write_log(now, line)

    def sandbox_of(self, container_id: str) -> PodSandboxConfig | None:
        container = self._containers.get(container_id)
        sandbox = self._sandboxes.get(container.sandbox_id) if container else None
        return sandbox.config if sandbox else None

    def probe(self, container_id: str, kind: ProbeKind, now: float) -> ProbeReply:
        return self._container(container_id).probe(kind, now)

    def _container(self, container_id: str) -> SimContainer:
        container = self._containers.get(container_id)
        if container is None:
            raise not_found(f"container {container_id!r} not found on node {self.node}", id=container_id)
        return container


def _canonical(image: str) -> str:
    try:
        return parse_reference(image).canonical()
    except ValueError as error:
        raise bad_request(f"invalid image reference {image!r}: {error}") from None
