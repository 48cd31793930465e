"""The Node a kubelet registers and the status it keeps current: capacity, conditions, addresses, info.

Pure builders. Condition reasons and messages are Kubernetes' own (``pkg/kubelet/nodestatus/setters.go``):
``KubeletReady`` / ``KubeletNotReady``, ``KubeletHasSufficientMemory`` / ``KubeletHasInsufficientMemory``
and so on. A condition's ``lastTransitionTime`` moves only when its status changes; its
``lastHeartbeatTime`` with every report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.kubelet.nodeconfig import NodeConfig
from shared.models import (
    Node,
    NodeAddress,
    NodeCondition,
    NodeSpec,
    NodeStatus,
    NodeSystemInfo,
    ObjectMeta,
    find_condition,
    to_dict,
)

KUBELET_VERSION = "v1.31.0-kubenats"
KUBELET_PORT = 10250
MEMORY_EVICTION_THRESHOLD = 100 * 1024 * 1024
"""Kubernetes' default hard eviction threshold ``memory.available<100Mi``."""


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """What the conditions are computed from."""

    runtime_ok: bool
    runtime_message: str = ""
    runtime_version: str = ""
    memory_available: int | None = None
    """Allocatable memory minus the working set of every container, bytes; None when unknown."""


def _condition(
    previous: Sequence[NodeCondition], kind: str, ok: bool, reason: str, message: str, now: datetime
) -> NodeCondition:
    status = "True" if ok else "False"
    before = find_condition(previous, kind)
    since = before.last_transition_time if before is not None and before.status == status else None
    return NodeCondition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_heartbeat_time=now,
        last_transition_time=since or now,
    )


def node_conditions(
    previous: Sequence[NodeCondition], health: NodeHealth, now: datetime
) -> list[NodeCondition]:
    low_memory = health.memory_available is not None and health.memory_available < MEMORY_EVICTION_THRESHOLD
    memory = (
        ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
        if low_memory
        else ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")
    )
    ready = (
        ("KubeletReady", "kubelet is posting ready status")
        if health.runtime_ok
        else ("KubeletNotReady", f"container runtime is down: {health.runtime_message}")
    )
    return [
        _condition(previous, "MemoryPressure", low_memory, *memory, now),
        _condition(
            previous, "DiskPressure", False, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now
        ),
        _condition(
            previous,
            "PIDPressure",
            False,
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            now,
        ),
        _condition(previous, "Ready", health.runtime_ok, *ready, now),
    ]


def conditions_changed(old: Sequence[NodeCondition], new: Sequence[NodeCondition]) -> bool:
    """Whether a report would change anything but heartbeat times."""

    def essence(conditions: Sequence[NodeCondition]) -> set[tuple[str, str, str, str]]:
        return {(c.type, c.status, c.reason, c.message) for c in conditions}

    return essence(old) != essence(new)


def node_status(
    config: NodeConfig, previous: Sequence[NodeCondition], health: NodeHealth, now: datetime, boot_id: str
) -> NodeStatus:
    return NodeStatus(
        capacity=config.capacity(),
        allocatable=config.allocatable(),
        conditions=node_conditions(previous, health, now),
        addresses=[
            NodeAddress(type="InternalIP", address=config.internal_ip),
            NodeAddress(type="Hostname", address=config.name),
        ],
        daemon_endpoints={"kubeletEndpoint": {"Port": KUBELET_PORT}},
        node_info=NodeSystemInfo(
            machine_id=config.name,
            system_uuid=config.name,
            boot_id=boot_id,
            kernel_version="6.1.0-kubenats",
            os_image="kubenats simulated node",
            container_runtime_version=f"kubenats-sim://{health.runtime_version or 'unknown'}",
            kubelet_version=KUBELET_VERSION,
            kube_proxy_version=KUBELET_VERSION,
            operating_system="linux",
            architecture="amd64",
        ),
    )


def node_object(config: NodeConfig) -> dict[str, Any]:
    """The Node to create at registration (its status is written separately, through ``nodes/status``)."""
    node = Node(
        metadata=ObjectMeta(name=config.name, labels=config.all_labels()),
        spec=NodeSpec(pod_cidr=config.cidr, pod_cidrs=[config.cidr], taints=list(config.taints)),
    )
    return to_dict(node)


def adopt(existing: dict[str, Any], config: NodeConfig) -> dict[str, Any] | None:
    """The update that makes an existing Node ours (labels the kubelet owns, podCIDR if unset), or None
    when nothing needs to change. Taints already there are kept: an admin or controller may have set them."""
    updated = {
        **existing,
        "metadata": dict(existing.get("metadata") or {}),
        "spec": dict(existing.get("spec") or {}),
    }
    labels = dict(updated["metadata"].get("labels") or {})
    labels.update(config.all_labels())
    updated["metadata"]["labels"] = labels
    spec = updated["spec"]
    if not spec.get("podCIDR"):
        spec["podCIDR"], spec["podCIDRs"] = config.cidr, [config.cidr]
    if not spec.get("taints") and config.taints:
        spec["taints"] = [to_dict(t) for t in config.taints]
    return None if updated == existing else updated
