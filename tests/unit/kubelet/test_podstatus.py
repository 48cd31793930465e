"""Pod phase, conditions and container statuses computed from container states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.kubelet.podstatus import ContainerView, PodNetwork, compute_status, container_status, pod_phase
from services.runtime.api import ContainerState, ContainerStatus
from shared.models import PodCondition
from tests.builders import make_pod

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def unix(t: float) -> int:
    """``t`` seconds after T0, in the Unix nanoseconds the runtime reports."""
    return round((T0 + timedelta(seconds=t)).timestamp() * 10**9)


def cri(
    state: ContainerState, exit_code: int | None = None, reason: str = "", cid: str = "c1"
) -> ContainerStatus:
    exited = state == ContainerState.EXITED
    return ContainerStatus(
        id=cid,
        pod_sandbox_id="s1",
        name="app",
        image="nginx",
        attempt=0,
        state=state,
        created_at=unix(1),
        started_at=unix(2),
        finished_at=unix(5) if exited else None,
        exit_code=exit_code,
        reason=reason,
    )


RUNNING = cri(ContainerState.RUNNING)
EXIT_0 = cri(ContainerState.EXITED, 0, "Completed")
EXIT_1 = cri(ContainerState.EXITED, 1, "Error")


def view(
    current: ContainerStatus | None, last: ContainerStatus | None = None, waiting: str = ""
) -> ContainerView:
    if current is None and not waiting:
        waiting = "ContainerCreating"
    return ContainerView(
        "app", "nginx", current=current, last_exit=last, waiting_reason=waiting, ready=True, started=True
    )


@pytest.mark.parametrize(
    ("policy", "views", "phase"),
    [
        ("Always", [view(None)], "Pending"),
        ("Always", [view(RUNNING)], "Running"),
        ("Always", [view(RUNNING), view(None)], "Pending"),
        ("Always", [view(EXIT_1, EXIT_1, "CrashLoopBackOff")], "Running"),
        ("Always", [view(EXIT_0)], "Running"),
        ("OnFailure", [view(EXIT_0)], "Succeeded"),
        ("OnFailure", [view(EXIT_1, EXIT_1, "CrashLoopBackOff")], "Running"),
        ("Never", [view(EXIT_1)], "Failed"),
        ("Never", [view(EXIT_0), view(EXIT_0)], "Succeeded"),
        ("Never", [view(EXIT_0), view(RUNNING)], "Running"),
    ],
)
def test_phase_follows_kubernetes_rules(policy: str, views: list[ContainerView], phase: str) -> None:
    assert pod_phase(policy, [], views) == phase


def test_init_containers_hold_the_pod_pending_until_they_succeed() -> None:
    assert pod_phase("Always", [view(RUNNING)], [view(None)]) == "Pending"
    assert pod_phase("Always", [view(EXIT_0)], [view(RUNNING)]) == "Running"
    assert pod_phase("Never", [view(EXIT_1)], [view(None)]) == "Failed"


@pytest.mark.parametrize(
    ("v", "state_key", "detail"),
    [
        (view(None), "waiting", {"reason": "ContainerCreating"}),
        (view(RUNNING), "running", {"startedAt": "2026-01-01T00:00:02Z"}),
        (
            view(EXIT_1),
            "terminated",
            {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": "2026-01-01T00:00:02Z",
                "finishedAt": "2026-01-01T00:00:05Z",
            },
        ),
        (
            view(cri(ContainerState.EXITED, 137, "OOMKilled")),
            "terminated",
            {"exitCode": 137, "reason": "OOMKilled"},
        ),
        (view(EXIT_1, EXIT_1, "CrashLoopBackOff"), "waiting", {"reason": "CrashLoopBackOff"}),
    ],
)
def test_container_state_is_reported(v: ContainerView, state_key: str, detail: dict[str, object]) -> None:
    status = container_status(v).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert list(k for k, val in status["state"].items() if val) == [state_key]
    assert detail.items() <= status["state"][state_key].items()


def test_crash_looping_container_shows_its_last_exit_and_restart_count() -> None:
    v = view(EXIT_1, EXIT_1, "CrashLoopBackOff")
    v.restart_count = 4
    status = container_status(v)
    assert status.restart_count == 4
    assert status.last_state.terminated is not None and status.last_state.terminated.exit_code == 1
    assert status.container_id == "sim://c1"
    assert status.ready is False


def _status(views: list[ContainerView], previous: list[PodCondition] | None = None, phase: str = ""):  # type: ignore[no-untyped-def]
    pod = make_pod().name("p").obj()
    pod.status.conditions = previous or []
    pod.status.phase = phase
    return compute_status(pod, [], views, PodNetwork("10.244.1.2", "172.18.0.2"), T0, T0 + timedelta(60))


def test_running_ready_pod_has_all_conditions_true_with_ip() -> None:
    status = _status([view(RUNNING)])
    assert status.phase == "Running" and status.pod_ip == "10.244.1.2" and status.host_ip == "172.18.0.2"
    assert {c.type: c.status for c in status.conditions} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }


def test_unready_container_names_itself_in_the_condition() -> None:
    v = view(RUNNING)
    v.ready = False
    ready = next(c for c in _status([v]).conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "False",
        "ContainersNotReady",
        "containers with unready status: [app]",
    )


def test_transition_time_is_kept_while_the_status_stays() -> None:
    earlier = T0 - timedelta(hours=1)
    previous = [PodCondition(type="Ready", status="True", last_transition_time=earlier)]
    status = _status([view(RUNNING)], previous)
    ready = next(c for c in status.conditions if c.type == "Ready")
    initialized = next(c for c in status.conditions if c.type == "Initialized")
    assert ready.last_transition_time == earlier
    assert initialized.last_transition_time == T0 + timedelta(60)


def test_a_terminal_phase_never_changes_back() -> None:
    assert _status([view(RUNNING)], phase="Failed").phase == "Failed"
