"""Pod status from container states: phase, conditions and containerStatuses, as the kubelet reports them.

Pure: the pod worker describes each container as a :class:`ContainerView` (the runtime's view of its
current attempt, its last exit, its restart count, probe results, and why it waits if it does), and
:func:`compute_status` turns that into the pod's ``status`` with Kubernetes' rules (``getPhase`` and
``generateAPIPodStatus`` in ``pkg/kubelet/kubelet_pods.go``):

- a container counts as *waiting* until it ran once, *stopped* when it exited or waits to restart after
  an exit, *running* otherwise; any waiting container keeps the pod ``Pending``, a running one makes it
  ``Running``; when all stopped, ``restartPolicy: Always`` (or OnFailure with a failure) stays Running,
  all exit 0 is ``Succeeded``, else ``Failed``;
- a terminal phase never changes back;
- a condition keeps its ``lastTransitionTime`` while its status stays the same.

Container times come from the runtime as Unix nanoseconds and are reported as they are: they mean the
same on the runtime's machine and on the kubelet's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.runtime import api as cri
from shared.models import (
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    Pod,
    PodCondition,
    PodIP,
    PodStatus,
    find_condition,
)

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL_PHASES = frozenset({SUCCEEDED, FAILED})
CONTAINER_ID_SCHEME = "sim://"
OWN_CONDITIONS = ("Initialized", "Ready", "ContainersReady")


@dataclass(slots=True)
class ContainerView:
    """What the kubelet knows of one container of a pod."""

    name: str
    image: str
    current: cri.ContainerStatus | None = None
    """The runtime's status of the current attempt; None before it was created."""
    last_exit: cri.ContainerStatus | None = None
    """The final status of the attempt before ``current`` (or of ``current`` if it waits to restart)."""
    restart_count: int = 0
    image_ref: str = ""
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    ready: bool = False
    started: bool = False

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.state == cri.ContainerState.RUNNING

    @property
    def exited(self) -> bool:
        return self.current is not None and self.current.state == cri.ContainerState.EXITED

    @property
    def succeeded(self) -> bool:
        return self.exited and self.current is not None and self.current.exit_code == 0


def _time(unix_nanos: int | None) -> datetime | None:
    return cri.to_datetime(unix_nanos) if unix_nanos is not None else None


def _terminated(status: cri.ContainerStatus) -> ContainerStateTerminated:
    return ContainerStateTerminated(
        exit_code=status.exit_code if status.exit_code is not None else 0,
        reason=status.reason or ("Completed" if status.exit_code == 0 else "Error"),
        message=status.message,
        started_at=_time(status.started_at),
        finished_at=_time(status.finished_at),
        container_id=CONTAINER_ID_SCHEME + status.id,
    )


def container_status(view: ContainerView) -> ContainerStatus:
    """One entry of ``containerStatuses``."""
    current = view.current
    state = ContainerState()
    if current is not None and current.state == cri.ContainerState.RUNNING:
        started = current.started_at if current.started_at is not None else current.created_at
        state.running = ContainerStateRunning(started_at=cri.to_datetime(started))
    elif current is not None and current.state == cri.ContainerState.EXITED and not view.waiting_reason:
        state.terminated = _terminated(current)
    else:
        state.waiting = ContainerStateWaiting(reason=view.waiting_reason or "ContainerCreating")
        if view.waiting_message:
            state.waiting.message = view.waiting_message
    last = ContainerState()
    if view.last_exit is not None:
        last.terminated = _terminated(view.last_exit)
    status = ContainerStatus(
        name=view.name,
        state=state,
        last_state=last,
        ready=view.ready and view.running,
        restart_count=view.restart_count,
        image=view.image,
        image_id=view.image_ref,
        started=view.started and view.running,
    )
    if current is not None:
        status.container_id = CONTAINER_ID_SCHEME + current.id
    return status


def init_done(init: Sequence[ContainerView]) -> bool:
    """Every init container has exited 0 (sidecars are not modelled: init containers run to completion)."""
    return all(view.succeeded for view in init)


def init_failed(init: Sequence[ContainerView], restart_policy: str) -> bool:
    """An init container failed and will not be retried: the pod fails."""
    return restart_policy == "Never" and any(v.exited and not v.succeeded for v in init)


def pod_phase(restart_policy: str, init: Sequence[ContainerView], main: Sequence[ContainerView]) -> str:
    if init_failed(init, restart_policy):
        return FAILED
    if not init_done(init):
        return PENDING
    running = stopped = succeeded = waiting = 0
    for view in main:
        if view.running:
            running += 1
        elif view.exited or view.last_exit is not None:
            stopped += 1
            succeeded += int(view.succeeded)
        else:
            waiting += 1
    if waiting:
        return PENDING
    if running:
        return RUNNING
    if not stopped:
        return PENDING
    if restart_policy == "Always":
        return RUNNING
    if stopped == succeeded:
        return SUCCEEDED
    if restart_policy == "Never":
        return FAILED
    return RUNNING


def _condition(
    previous: Sequence[PodCondition], kind: str, ok: bool, reason: str, message: str, now: datetime
) -> PodCondition:
    status = "True" if ok else "False"
    before = find_condition(previous, kind)
    since = before.last_transition_time if before is not None and before.status == status else None
    condition = PodCondition(type=kind, status=status, last_transition_time=since or now)
    if not ok:
        condition.reason, condition.message = reason, message
    return condition


def pod_conditions(
    pod: Pod, phase: str, init: Sequence[ContainerView], main: Sequence[ContainerView], now: datetime
) -> list[PodCondition]:
    previous = pod.status.conditions
    initialized = init_done(init) or phase in TERMINAL_PHASES
    pending_init = [v.name for v in init if not v.succeeded]
    unready = [v.name for v in main if not (v.ready and v.running)]
    if phase in TERMINAL_PHASES:
        containers_ready, reason, message = False, "PodCompleted", ""
    else:
        containers_ready = not unready
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    gates = [str(gate.get("conditionType", "")) for gate in _readiness_gates(pod)]
    gates_open = all(
        (c := find_condition(previous, gate)) is not None and c.status == "True" for gate in gates
    )
    ready_reason, ready_message = reason, message
    if containers_ready and not gates_open:
        ready_reason, ready_message = (
            "ReadinessGatesNotReady",
            "corresponding condition of pod readiness gate",
        )
    conditions = [
        _condition(
            previous,
            "Initialized",
            initialized,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending_init)}]",
            now,
        ),
        _condition(previous, "Ready", containers_ready and gates_open, ready_reason, ready_message, now),
        _condition(previous, "ContainersReady", containers_ready, reason, message, now),
    ]
    scheduled = find_condition(previous, "PodScheduled")
    conditions.append(scheduled or PodCondition(type="PodScheduled", status="True", last_transition_time=now))
    # Conditions others own (DisruptionTarget, readiness gates) stay as they are.
    conditions += [c for c in previous if c.type not in (*OWN_CONDITIONS, "PodScheduled")]
    return conditions


def _readiness_gates(pod: Pod) -> list[dict[str, str]]:
    gates = (pod.spec.model_extra or {}).get("readinessGates") or []
    return [g for g in gates if isinstance(g, dict)]


@dataclass(frozen=True, slots=True)
class PodNetwork:
    pod_ip: str
    host_ip: str


def compute_status(
    pod: Pod,
    init: Sequence[ContainerView],
    main: Sequence[ContainerView],
    network: PodNetwork,
    start_time: datetime,
    now: datetime,
) -> PodStatus:
    """The pod's whole status; phase, reason and message stay as they were once the pod is terminal."""
    old = pod.status
    phase = pod_phase(pod.spec.restart_policy, init, main)
    if old.phase in TERMINAL_PHASES:
        phase = old.phase
    status = PodStatus(
        phase=phase,
        conditions=pod_conditions(pod, phase, init, main, now),
        host_ip=network.host_ip,
        host_ips=[PodIP(ip=network.host_ip)],
        start_time=old.start_time or start_time,
        container_statuses=[container_status(v) for v in main],
    )
    if network.pod_ip:
        status.pod_ip, status.pod_ips = network.pod_ip, [PodIP(ip=network.pod_ip)]
    if init:
        status.init_container_statuses = [container_status(v) for v in init]
    if old.qos_class:
        status.qos_class = old.qos_class
    if old.phase in TERMINAL_PHASES:
        status.reason, status.message = old.reason, old.message
    return status


def rejected_status(pod: Pod, reason: str, message: str, now: datetime) -> PodStatus:
    """The status of a pod admission refused: Failed, with the reason and Kubernetes' message."""
    status = PodStatus(phase=FAILED, reason=reason, message=message)
    status.conditions = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    if pod.status.qos_class:
        status.qos_class = pod.status.qos_class
    status.start_time = pod.status.start_time or now
    return status
