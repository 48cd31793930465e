"""kubectl's standard columns per resource: what ``kubectl get`` prints, computed on the server.

kubectl no longer knows how to print built-in kinds; it asks the server for a ``meta.k8s.io/v1`` Table and
prints its cells. These are the columns kube-apiserver's printers produce — names, types, and ``-o wide``
columns at priority 1 — with the cells computed the same way (a pod's READY is ready containers over
containers, its STATUS the phase or the reason a container waits, ``Terminating`` once being deleted).
Every function is pure; ``age`` is the caller's humanised ``creationTimestamp``.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
Cells = list[Any]
NONE = "<none>"


def column(
    name: str, kind: str = "string", priority: int = 0, *, description: str = "", fmt: str = ""
) -> Obj:
    return {
        "name": name,
        "type": kind,
        "format": fmt,
        "description": description or name,
        "priority": priority,
    }


NAME = column("Name", fmt="name", description="Name must be unique within a namespace.")
AGE = column("Age", description="The time since the object was created.")


def dig(obj: Obj, *path: str) -> Any:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def name_of(obj: Obj) -> str:
    return str(dig(obj, "metadata", "name") or "")


def or_none(value: Any) -> str:
    return str(value) if value not in (None, "", []) else NONE


# --- pods -------------------------------------------------------------------------------------------------


def _pod_status(pod: Obj) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if (terminated := state.get("terminated")) and terminated.get("exitCode", 0) == 0:
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif (waiting := state.get("waiting")) and waiting.get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:0/{len(dig(pod, 'spec', 'initContainers') or [])}"
        break
    else:
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (waiting := state.get("waiting")) and waiting.get("reason"):
                reason = waiting["reason"]
            elif (terminated := state.get("terminated")) and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated:
                reason = f"ExitCode:{terminated.get('exitCode', 0)}"
    if dig(pod, "metadata", "deletionTimestamp") and status.get("reason") != "NodeLost":
        reason = "Terminating"
    return str(reason)


def pod_cells(pod: Obj, age: str) -> Cells:
    containers = dig(pod, "spec", "containers") or []
    statuses = dig(pod, "status", "containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    gates = dig(pod, "spec", "readinessGates") or []
    if gates:
        conditions = {c.get("type"): c.get("status") for c in dig(pod, "status", "conditions") or []}
        passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_cell = f"{passed}/{len(gates)}"
    else:
        gates_cell = NONE
    return [
        name_of(pod),
        f"{ready}/{len(containers)}",
        _pod_status(pod),
        str(restarts),
        age,
        or_none(dig(pod, "status", "podIP")),
        or_none(dig(pod, "spec", "nodeName")),
        or_none(dig(pod, "status", "nominatedNodeName")),
        gates_cell,
    ]


POD_COLUMNS = [
    NAME,
    column("Ready", description="The number of containers ready, out of all."),
    column("Status", description="The aggregate state of the containers in this pod."),
    column("Restarts", description="The number of times the containers in this pod have been restarted."),
    AGE,
    column("IP", priority=1, description="IP address allocated to the pod."),
    column("Node", priority=1, description="Name of the node the pod is assigned to."),
    column("Nominated Node", priority=1, description="Name of the node nominated by the scheduler."),
    column("Readiness Gates", priority=1, description="Pod readiness gates."),
]


_POD_COMPLETED = {
    "Succeeded": "The pod has completed successfully.",
    "Failed": "The pod failed.",
}


def pod_row_conditions(pod: Obj) -> list[Obj]:
    """The row conditions kube-apiserver's pod printer sets: ``Completed`` once the pod has Succeeded or
    Failed (clients may use it to tell finished pods apart; kubectl 1.37 prints them all the same)."""
    phase = dig(pod, "status", "phase")
    if phase not in _POD_COMPLETED:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": _POD_COMPLETED[phase]}]


# --- nodes ------------------------------------------------------------------------------------------------


def node_cells(node: Obj, age: str) -> Cells:
    conditions = {c.get("type"): c.get("status") for c in dig(node, "status", "conditions") or []}
    ready = conditions.get("Ready")
    states = ["Unknown" if ready is None else ("Ready" if ready == "True" else "NotReady")]
    if dig(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    labels = dig(node, "metadata", "labels") or {}
    roles = sorted(
        {key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/") and "/" in key}
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set())
    )
    addresses = dig(node, "status", "addresses") or []
    info = dig(node, "status", "nodeInfo") or {}

    def address(kind: str) -> str:
        return or_none(next((a.get("address") for a in addresses if a.get("type") == kind), None))

    return [
        name_of(node),
        ",".join(states),
        ",".join(r for r in roles if r) or NONE,
        age,
        str(info.get("kubeletVersion") or ""),
        address("InternalIP"),
        address("ExternalIP"),
        or_none(info.get("osImage")) if info.get("osImage") else "<unknown>",
        or_none(info.get("kernelVersion")) if info.get("kernelVersion") else "<unknown>",
        or_none(info.get("containerRuntimeVersion")) if info.get("containerRuntimeVersion") else "<unknown>",
    ]


NODE_COLUMNS = [
    NAME,
    column("Status", description="The status of the node."),
    column("Roles", description="The roles of the node."),
    AGE,
    column("Version", description="Kubelet Version reported by the node."),
    column("Internal-IP", priority=1, description="List of internal IPs for the node."),
    column("External-IP", priority=1, description="List of external IPs for the node."),
    column("OS-Image", priority=1, description="OS image reported by the node."),
    column("Kernel-Version", priority=1, description="Kernel version reported by the node."),
    column("Container-Runtime", priority=1, description="Container runtime and version."),
]


# --- workloads --------------------------------------------------------------------------------------------


def _template_columns(obj: Obj) -> Cells:
    containers = dig(obj, "spec", "template", "spec", "containers") or []
    selector = dig(obj, "spec", "selector") or {}
    return [
        ",".join(str(c.get("name", "")) for c in containers) or NONE,
        ",".join(str(c.get("image", "")) for c in containers) or NONE,
        _selector_string(selector) or NONE,
    ]


def _selector_string(selector: Obj) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


WORKLOAD_WIDE = [
    column("Containers", priority=1, description="Names of each container in the template."),
    column("Images", priority=1, description="Images referenced by each container in the template."),
    column("Selector", priority=1, description="Label selector for pods."),
]


def deployment_cells(d: Obj, age: str) -> Cells:
    status = d.get("status") or {}
    desired = int(dig(d, "spec", "replicas") if dig(d, "spec", "replicas") is not None else 1)
    return [
        name_of(d),
        f"{int(status.get('readyReplicas') or 0)}/{desired}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        age,
        *_template_columns(d),
    ]


DEPLOYMENT_COLUMNS = [
    NAME,
    column("Ready", description="Number of the pods ready out of those desired."),
    column("Up-to-date", "integer", description="Total number of pods with the desired template."),
    column("Available", "integer", description="Total number of available pods."),
    AGE,
    *WORKLOAD_WIDE,
]


def replicaset_cells(rs: Obj, age: str) -> Cells:
    status = rs.get("status") or {}
    desired = int(dig(rs, "spec", "replicas") if dig(rs, "spec", "replicas") is not None else 1)
    return [
        name_of(rs),
        desired,
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        age,
        *_template_columns(rs),
    ]


REPLICASET_COLUMNS = [
    NAME,
    column("Desired", "integer", description="Number of desired pods."),
    column("Current", "integer", description="Number of actually running pods."),
    column("Ready", "integer", description="Number of ready pods."),
    AGE,
    *WORKLOAD_WIDE,
]
