"""Probe schedules and thresholds; node conditions and the Node a kubelet registers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.kubelet.nodeconfig import NodeConfig
from services.kubelet.nodestatus import NodeHealth, adopt, conditions_changed, node_conditions, node_object
from services.kubelet.probes import ContainerProbes
from services.runtime.api import ProbeKind
from shared.models import Container, Probe, Quantity, Taint

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def probes(**kinds: Probe) -> ContainerProbes:
    container = Container(name="app", **{f"{kind}_probe": probe for kind, probe in kinds.items()})
    return ContainerProbes.for_container(container, started_at=100.0)


def test_liveness_kills_after_failure_threshold_failures_in_a_row() -> None:
    p = probes(liveness=Probe(initial_delay_seconds=5, period_seconds=2, failure_threshold=3))
    assert p.due(104.9) == [] and p.due(105.0) == [ProbeKind.LIVENESS]
    assert p.record(ProbeKind.LIVENESS, False, 105) is False
    assert p.record(ProbeKind.LIVENESS, True, 107) is False  # a success resets the count
    assert p.record(ProbeKind.LIVENESS, False, 109) is False
    assert p.record(ProbeKind.LIVENESS, False, 111) is False
    assert p.record(ProbeKind.LIVENESS, False, 113) is True
    assert p.next_due() == 115


def test_readiness_gates_ready_and_needs_success_threshold() -> None:
    p = probes(readiness=Probe(period_seconds=1, success_threshold=2))
    assert not p.ready
    p.record(ProbeKind.READINESS, True, 100)
    assert not p.ready
    p.record(ProbeKind.READINESS, True, 101)
    assert p.ready
    for t in (102, 103, 104):
        p.record(ProbeKind.READINESS, False, t)
    assert not p.ready


def test_liveness_and_readiness_wait_for_the_startup_probe() -> None:
    p = probes(startup=Probe(period_seconds=1), liveness=Probe(), readiness=Probe())
    assert not p.started and not p.ready
    assert p.due(100) == [ProbeKind.STARTUP]
    p.record(ProbeKind.STARTUP, True, 100)
    assert p.started and p.due(100) == [ProbeKind.LIVENESS, ProbeKind.READINESS]


def test_a_container_without_probes_is_started_and_ready() -> None:
    p = probes()
    assert p.started and p.ready and p.next_due() is None


def test_runtime_down_makes_the_node_not_ready_with_a_reason() -> None:
    conditions = node_conditions([], NodeHealth(runtime_ok=False, runtime_message="no responders"), T0)
    ready = next(c for c in conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "KubeletNotReady")
    assert ready.message == "container runtime is down: no responders"
    assert [c.type for c in conditions] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]


def test_only_status_changes_count_not_heartbeats() -> None:
    first = node_conditions([], NodeHealth(runtime_ok=True), T0)
    later = node_conditions(first, NodeHealth(runtime_ok=True), T0 + timedelta(seconds=10))
    assert not conditions_changed(first, later)
    assert later[-1].last_transition_time == T0 and later[-1].last_heartbeat_time == T0 + timedelta(
        seconds=10
    )
    down = node_conditions(
        later, NodeHealth(runtime_ok=False, runtime_message="x"), T0 + timedelta(seconds=20)
    )
    assert conditions_changed(later, down)


def test_low_available_memory_is_memory_pressure() -> None:
    conditions = node_conditions([], NodeHealth(runtime_ok=True, memory_available=10), T0)
    assert conditions[0].status == "True" and conditions[0].reason == "KubeletHasInsufficientMemory"


CONFIG = NodeConfig(
    "worker-7", Quantity("4"), Quantity("8Gi"), 110, taints=(Taint(key="k", value="v", effect="NoSchedule"),)
)


def test_node_object_has_labels_taints_and_pod_cidr() -> None:
    node = node_object(CONFIG)
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "worker-7"
    assert node["spec"]["podCIDR"] == "10.244.7.0/24"
    assert node["spec"]["taints"] == [{"key": "k", "value": "v", "effect": "NoSchedule"}]


def test_adopting_an_existing_node_adds_labels_and_keeps_its_taints() -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "worker-7", "labels": {"extra": "yes"}},
        "spec": {"taints": [{"key": "admin", "effect": "NoExecute"}]},
    }
    updated = adopt(existing, CONFIG)
    assert updated is not None
    assert updated["metadata"]["labels"]["extra"] == "yes"
    assert updated["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert updated["spec"]["taints"] == [{"key": "admin", "effect": "NoExecute"}]
    assert adopt(updated, CONFIG) is None
