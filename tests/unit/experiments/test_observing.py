"""What the watcher reports as changes, how targets and Leases are read, and which chaos subject an
action publishes: the pure parts of observing and acting on a cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.etcd.client.api import ClusterStatus, MemberStatus, ResponseHeader
from shared.experiments import ExperimentError
from shared.experiments.action_specs import Chaos
from shared.experiments.actions import chaos_subject
from shared.experiments.audit import classify
from shared.experiments.load import Ack
from shared.experiments.model import Setup
from shared.experiments.probes import deployment_ready, lease_holder, pod_ready_after
from shared.experiments.setup import read_manifests
from shared.experiments.targets import TargetError, etcd_member_program
from shared.experiments.watcher import (
    PodView,
    diff_leader,
    diff_nodes,
    diff_pods,
    diff_processes,
    node_view,
    pod_view,
)

NOW = datetime(2026, 11, 27, 7, 0, 0, tzinfo=UTC)


def status(leader: int, *names: str) -> ClusterStatus:
    members = [
        MemberStatus(id=i, name=n, is_leader=i == leader, term=2, commit=9, applied=9, raft_index=9)
        for i, n in enumerate(names, start=1)
    ]
    return ClusterStatus(ResponseHeader(revision=9), leader, members)


@pytest.mark.parametrize(
    ("before", "after", "changes"),
    [
        (None, "cp-1", []),  # the first observation is no change
        ("cp-1", "cp-1", []),
        ("cp-1", "", [("etcd has no leader", True)]),
        ("", "cp-2", [("etcd leader cp-2", True)]),
    ],
)
def test_a_leader_change_is_a_reaction(
    before: str | None, after: str, changes: list[tuple[str, bool]]
) -> None:
    assert diff_leader(before, after, "etcd") == changes


def node(name: str, ready: bool, *taints: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"taints": [{"key": t, "effect": "NoExecute"} for t in taints]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]},
    }


def test_node_changes_name_readiness_and_taints() -> None:
    before = {"w1": node_view(node("w1", True)), "w2": node_view(node("w2", True))}
    after = {
        "w1": node_view(node("w1", False, "node.kubernetes.io/unreachable")),
        "w3": node_view(node("w3", True)),
    }
    assert diff_nodes(before, after) == [
        ("node w1 NotReady", True),
        ("node w1 tainted node.kubernetes.io/unreachable:NoExecute", True),
        ("node w3 registered", True),
        ("node w2 deleted", True),
    ]
    assert diff_nodes(None, after) == []


def test_pod_changes_are_creations_phase_moves_and_deletions() -> None:
    before = {"default/a": PodView("Running"), "default/b": PodView("Running")}
    after = {"default/a": PodView("Failed"), "default/c": PodView("Pending")}
    assert diff_pods(before, after) == [
        ("pod default/a Failed", True),
        ("pod default/c created (Pending)", True),
        ("pod default/b deleted", True),
    ]


def test_supervisord_restarting_a_process_is_on_the_timeline_but_not_a_reaction() -> None:
    before = {"cp-1-etcd": ("RUNNING", 10), "cp-2-etcd": ("RUNNING", 11)}
    after = {"cp-1-etcd": ("STARTING", 12), "cp-2-etcd": ("RUNNING", 11)}
    assert diff_processes(before, after) == [("cp-1-etcd STARTING (pid 12)", False)]


def test_the_etcd_leader_and_a_follower_resolve_to_their_programs() -> None:
    assert etcd_member_program(status(2, "cp-1", "cp-2", "cp-3"), leader=True) == "cp-2-etcd"
    assert etcd_member_program(status(2, "cp-3", "cp-2", "cp-1"), leader=False) == "cp-1-etcd"
    with pytest.raises(TargetError, match="no leader"):
        etcd_member_program(status(0, "cp-1", "cp-2"), leader=True)
    with pytest.raises(TargetError, match="no etcd follower"):
        etcd_member_program(status(1, "cp-1"), leader=False)


def lease(holder: str, renewed_ago: float, duration: int = 3) -> dict[str, Any]:
    renewed = (NOW - timedelta(seconds=renewed_ago)).isoformat().replace("+00:00", "Z")
    return {"spec": {"holderIdentity": holder, "renewTime": renewed, "leaseDurationSeconds": duration}}


@pytest.mark.parametrize(
    ("found", "holder"),
    [
        (lease("cp-1", 1.0), "cp-1"),
        (lease("cp-1", 3.5), ""),  # not renewed within its duration: its holder is gone
        (lease("", 0.0), ""),
        ({"spec": {}}, ""),
    ],
)
def test_a_lease_is_held_only_while_fresh(found: dict[str, Any], holder: str) -> None:
    assert lease_holder(found, NOW) == holder


def test_a_deployment_is_ready_with_enough_ready_replicas() -> None:
    assert deployment_ready({"status": {"readyReplicas": 3}}, 3) == (True, "3 ready of 3 wanted")
    assert deployment_ready({"status": {}}, 1) == (False, "0 ready of 1 wanted")


@pytest.mark.parametrize(
    ("action", "subject"),
    [
        (Chaos(type="chaos", node="worker-2", action="crash"), "chaos.node.worker-2.crash"),
        (Chaos(type="chaos", pod="web/api-0", action="kill"), "chaos.pod.web.api-0.kill"),
        (Chaos(type="chaos", pod="api.v1"), "chaos.pod.default.api_v1.kill"),
        (Chaos(type="chaos", reset=True), "chaos.reset"),
    ],
)
def test_a_chaos_action_publishes_its_subject(action: Chaos, subject: str) -> None:
    assert chaos_subject(action) == subject


def test_setup_manifests_are_read_relative_to_the_experiment(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "web.yaml").write_text(
        "kind: Service\nmetadata: {name: a}\n---\n---\nkind: Deployment\nmetadata: {name: a}\n"
    )
    objects = read_manifests(Setup(manifests=["m/web.yaml"]), tmp_path)
    assert [o["kind"] for o in objects] == ["Service", "Deployment"]
    with pytest.raises(ExperimentError, match="cannot read manifest"):
        read_manifests(Setup(manifests=["missing.yaml"]), tmp_path)
    (tmp_path / "bad.yaml").write_text("- just a list\n")
    with pytest.raises(ExperimentError, match="not a Kubernetes object"):
        read_manifests(Setup(manifests=["bad.yaml"]), tmp_path)


def test_an_acknowledged_write_is_kept_lost_or_acknowledged_at_a_wrong_revision() -> None:
    history = {"k/0": {"w0-0": 5, "w0-4": 9}, "k/1": {"w1-1": 6}}
    acks = [Ack("k/0", "w0-0", 5), Ack("k/0", "w0-4", 2), Ack("k/1", "w1-3", 8), Ack("k/2", "w0-2", 7)]
    lost, misplaced = classify(acks, history)
    assert lost == [
        "k/1@8: w1-3 is nowhere in the key's history",
        "k/2@7: w0-2 is nowhere in the key's history",
    ]
    assert misplaced == ["k/0: w0-4 acknowledged at revision 2, written at 9"]


def crashing(restarts: int, waiting: str = "", message: str = "") -> dict[str, Any]:
    state = {"waiting": {"reason": waiting, "message": message}} if waiting else {"running": {}}
    return {
        "metadata": {"name": "flaky", "namespace": "default"},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "nginx", "restartCount": restarts, "state": state}],
        },
    }


def test_container_restarts_and_back_off_waits_are_timeline_reactions() -> None:
    running = {"default/flaky": pod_view(crashing(1))}
    backing_off = {
        "default/flaky": pod_view(
            crashing(
                1, "CrashLoopBackOff", "back-off 10s restarting failed container=nginx pod=flaky_default(u)"
            )
        )
    }
    restarted = {"default/flaky": pod_view(crashing(2))}
    assert diff_pods(running, backing_off) == [
        ("pod default/flaky container nginx waiting: CrashLoopBackOff (back-off 10s)", True)
    ]
    assert diff_pods(backing_off, restarted) == [
        ("pod default/flaky container nginx restarted (restart 2)", True)
    ]
    assert diff_pods(restarted, restarted) == []


@pytest.mark.parametrize(
    ("ready", "restarts", "wanted", "passes"),
    [(True, 3, 3, True), (True, 2, 3, False), (False, 3, 3, False), (True, 0, 0, True)],
)
def test_a_pod_probe_wants_it_ready_after_enough_restarts(
    ready: bool, restarts: int, wanted: int, passes: bool
) -> None:
    pod = crashing(restarts)
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    assert pod_ready_after(pod, wanted)[0] is passes
