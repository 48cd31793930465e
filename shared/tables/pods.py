"""kubectl's columns for pods and nodes, with the cells kube-apiserver's printers compute for them.

A pod's STATUS is its most telling reason (an init container's, then the last waiting or terminated
container's, ``Terminating`` once being deleted); RESTARTS adds how long ago the last one was. A node's
STATUS adds ``SchedulingDisabled`` when cordoned; its ROLES come from ``node-role.kubernetes.io/*`` labels.
"""

from __future__ import annotations

from datetime import datetime

from shared.tables.columns import AGE, NAME, NONE, Cells, Column, Object, age, dig, name_of, or_none, since

# --- pods -------------------------------------------------------------------------------------------------


def pod_status(pod: Object) -> str:
    """The STATUS column: kubectl's printPod reasoning, most telling reason first."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    init_containers = dig(pod, "spec", "initContainers") or []
    for i, container in enumerate(status.get("initContainerStatuses") or []):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if terminated is not None:
            reason = "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_containers)}"
        break
    else:
        reason = _container_reason(status, reason)
    if dig(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return str(reason)


def _container_reason(status: Object, reason: str) -> str:
    has_running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated is not None:
            signal = terminated.get("signal")
            reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"
        elif state.get("running") is not None and container.get("ready"):
            has_running = True
    if reason == "Completed" and has_running:
        # A pod whose last container finished while another still runs reads as that one's readiness.
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        reason = "Running" if ready else "NotReady"
    return reason


def _restarts(statuses: list[Object], now: datetime) -> str:
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    finished = [
        t for c in statuses if (t := dig(c, "lastState", "terminated", "finishedAt")) and isinstance(t, str)
    ]
    return f"{restarts} ({since(max(finished), now)} ago)" if restarts and finished else str(restarts)


def _readiness_gates(pod: Object) -> str:
    gates = dig(pod, "spec", "readinessGates") or []
    if not gates:
        return NONE
    conditions = {c.get("type"): c.get("status") for c in dig(pod, "status", "conditions") or []}
    passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{passed}/{len(gates)}"


def pod_cells(pod: Object, now: datetime) -> Cells:
    statuses = dig(pod, "status", "containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    return [
        name_of(pod),
        f"{ready}/{len(dig(pod, 'spec', 'containers') or [])}",
        pod_status(pod),
        _restarts(statuses, now),
        age(pod, now),
        or_none(dig(pod, "status", "podIP")),
        or_none(dig(pod, "spec", "nodeName")),
        or_none(dig(pod, "status", "nominatedNodeName")),
        _readiness_gates(pod),
    ]


POD_COLUMNS = (
    NAME,
    Column("Ready", description="The number of containers ready, out of all."),
    Column("Status", description="The aggregate state of the containers in this pod."),
    Column("Restarts", description="The number of times the containers in this pod have been restarted."),
    AGE,
    Column("IP", priority=1, description="IP address allocated to the pod."),
    Column("Node", priority=1, description="Name of the node the pod is assigned to."),
    Column("Nominated Node", priority=1, description="Name of the node nominated by the scheduler."),
    Column("Readiness Gates", priority=1, description="Pod readiness gates."),
)


# --- nodes ------------------------------------------------------------------------------------------------


def node_status(node: Object) -> str:
    conditions = {c.get("type"): c.get("status") for c in dig(node, "status", "conditions") or []}
    ready = conditions.get("Ready")
    # As kubectl's printer: a Ready condition that is not True (False or Unknown) reads NotReady.
    text = "Unknown" if ready is None else ("Ready" if ready == "True" else "NotReady")
    if dig(node, "spec", "unschedulable"):
        text += ",SchedulingDisabled"
    return text


def node_roles(node: Object) -> str:
    labels = dig(node, "metadata", "labels") or {}
    roles = {key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(r for r in roles if r)) or NONE


def _address(node: Object, kind: str) -> str:
    addresses = dig(node, "status", "addresses") or []
    return or_none(next((a.get("address") for a in addresses if a.get("type") == kind), None))


def node_cells(node: Object, now: datetime) -> Cells:
    info = dig(node, "status", "nodeInfo") or {}
    return [
        name_of(node),
        node_status(node),
        node_roles(node),
        age(node, now),
        str(info.get("kubeletVersion") or ""),
        _address(node, "InternalIP"),
        _address(node, "ExternalIP"),
        str(info.get("osImage") or "<unknown>"),
        str(info.get("kernelVersion") or "<unknown>"),
        str(info.get("containerRuntimeVersion") or "<unknown>"),
    ]


NODE_COLUMNS = (
    NAME,
    Column("Status", description="The status of the node."),
    Column("Roles", description="The roles of the node."),
    AGE,
    Column("Version", description="Kubelet Version reported by the node."),
    Column("Internal-IP", priority=1, description="List of internal IPs for the node."),
    Column("External-IP", priority=1, description="List of external IPs for the node."),
    Column("OS-Image", priority=1, description="OS image reported by the node."),
    Column("Kernel-Version", priority=1, description="Kernel version reported by the node."),
    Column("Container-Runtime", priority=1, description="Container runtime and version."),
)
