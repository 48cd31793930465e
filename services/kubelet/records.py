"""What the kubelet remembers of each pod it runs: its sandbox, IP and, per container, attempts and back-off.

Records live in memory only. After a kubelet restart they are rebuilt from the runtime (sandboxes and
containers carry the pod uid and container name) and from the pod's last status in the API (restart
counts), so a restart of the kubelet neither restarts containers nor resets their restart counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.kubelet.backoff import BackOff, BackOffPolicy
from services.kubelet.podstatus import ContainerView
from services.kubelet.probes import ContainerProbes
from services.runtime import api as cri
from shared.models import Container, Pod


@dataclass(slots=True)
class ContainerRecord:
    spec: Container
    backoff: BackOff
    init: bool = False
    container_id: str = ""
    current: cri.ContainerStatus | None = None
    last_exit: cri.ContainerStatus | None = None
    restart_count: int = 0
    ran_before: bool = False
    """The API says this container ran before the kubelet (re)started: its next start is a restart."""
    image_ref: str = ""
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    retry_at: float | None = None
    """When a failed pull or create may be tried again (monotonic)."""
    probes: ContainerProbes = field(default_factory=ContainerProbes)

    @property
    def name(self) -> str:
        return self.spec.name

    def view(self) -> ContainerView:
        return ContainerView(
            name=self.spec.name,
            image=self.spec.image,
            current=self.current,
            last_exit=self.last_exit,
            restart_count=self.restart_count,
            image_ref=self.image_ref,
            waiting_reason=self.waiting_reason,
            waiting_message=self.waiting_message,
            ready=self.probes.ready,
            started=self.probes.started,
        )

    def forget_current(self) -> None:
        """The current attempt is gone (removed, or lost with the runtime): the next start is a restart."""
        if self.current is not None and self.current.started_at is not None:
            self.ran_before = True
        self.container_id, self.current = "", None
        self.probes = ContainerProbes()


@dataclass(slots=True)
class PodRecord:
    uid: str
    namespace: str
    name: str
    init: list[ContainerRecord]
    main: list[ContainerRecord]
    start_time: datetime
    admitted: bool | None = None
    sandbox_id: str = ""
    ip: str = ""
    terminal: bool = False
    """The pod reached Succeeded or Failed: nothing is (re)started any more."""
    deleting: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def containers(self) -> list[ContainerRecord]:
        return [*self.init, *self.main]

    def running(self) -> list[ContainerRecord]:
        return [c for c in self.containers() if c.current is not None and c.current.state != "EXITED"]


def _prior_restarts(pod: Pod) -> dict[str, tuple[int, bool]]:
    """Per container name: its restart count in the API, and whether it had started by then."""
    found: dict[str, tuple[int, bool]] = {}
    for status in [*pod.status.init_container_statuses, *pod.status.container_statuses]:
        ran = status.state.running is not None or status.state.terminated is not None
        found[status.name] = (status.restart_count, ran or status.last_state.terminated is not None)
    return found


def new_record(pod: Pod, policy: BackOffPolicy, now: datetime) -> PodRecord:
    prior = _prior_restarts(pod)

    def record(spec: Container, init: bool) -> ContainerRecord:
        count, ran = prior.get(spec.name, (0, False))
        return ContainerRecord(spec, BackOff(policy), init=init, restart_count=count, ran_before=ran)

    return PodRecord(
        uid=pod.metadata.uid,
        namespace=pod.metadata.namespace,
        name=pod.metadata.name,
        init=[record(c, True) for c in pod.spec.init_containers],
        main=[record(c, False) for c in pod.spec.containers],
        start_time=pod.status.start_time or now,
    )
