"""Kubernetes' table columns for every resource kubenats serves, as ``kubectl get`` prints them.

``table_for(plural)`` gives the columns (priority 1 = shown only with ``-o wide``) and a function from an
object to its cells, at a given ``now``. The cell logic follows kube-apiserver's printers
(``pkg/printers/internalversion/printers.go``): a pod's STATUS is its most telling container reason, a
node's STATUS adds ``SchedulingDisabled`` when cordoned, ages read as ``HumanDuration`` (``5m10s``, ``3h``,
``2d4h``). The CLI prints these; a server-side ``Table`` can be built from them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Object = dict[str, Any]
Cells = list[Any]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    priority: int = 0
    description: str = ""
    format: str = ""


@dataclass(frozen=True, slots=True)
class TableSpec:
    columns: tuple[Column, ...]
    cells: Callable[[Object, datetime], Cells]


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``: short, with two units while the first one is small."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        years = days // 365
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{days // 365}y"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(obj: Object, now: datetime, field: str = "creationTimestamp") -> str:
    created = parse_time(obj.get("metadata", {}).get(field))
    return "<unknown>" if created is None else human_duration((now - created).total_seconds())


def since(value: str | None, now: datetime) -> str:
    moment = parse_time(value)
    return "<unknown>" if moment is None else human_duration((now - moment).total_seconds())


def _name(obj: Object) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _none(values: list[str]) -> str:
    return ",".join(v for v in values if v) or "<none>"


def _selector(selector: dict[str, Any] | None) -> str:
    if not selector:
        return "<none>"
    labels = selector.get("matchLabels", selector) if "matchLabels" in selector else selector
    parts = [f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str)]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(expression.get("values") or [])
        parts.append(f"{expression.get('key')} {expression.get('operator', '').lower()} ({values})")
    return ",".join(parts) or "<none>"


def _containers(spec: Object) -> tuple[str, str]:
    containers = spec.get("template", {}).get("spec", {}).get("containers") or []
    return _none([c.get("name", "") for c in containers]), _none([c.get("image", "") for c in containers])


# --- pods -----------------------------------------------------------------------------------------


def pod_status(pod: Object) -> str:
    """The STATUS column: kubectl's printPod reasoning, most telling reason first."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    init_statuses = status.get("initContainerStatuses") or []
    for i, container in enumerate(init_statuses):
        state = container.get("state", {})
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(pod.get('spec', {}).get('initContainers') or [])}"
        break
    else:
        reason = _container_reason(status, reason)
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return str(reason)


def _container_reason(status: Object, reason: str) -> str:
    has_running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state", {})
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            signal = terminated.get("signal")
            reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode')}"
        elif state.get("running") and container.get("ready"):
            has_running = True
    if reason == "Completed" and has_running:
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        reason = "Running" if ready else "NotReady"
    return reason


def _pod_cells(pod: Object, now: datetime) -> Cells:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    restarts_text = str(restarts)
    last = [
        c.get("lastState", {}).get("terminated", {}).get("finishedAt")
        for c in statuses
        if c.get("lastState", {}).get("terminated")
    ]
    finished = [t for t in last if t]
    if restarts and finished:
        restarts_text = f"{restarts} ({since(max(finished), now)} ago)"
    gates = spec.get("readinessGates") or []
    return [
        _name(pod),
        f"{ready}/{len(spec.get('containers') or [])}",
        pod_status(pod),
        restarts_text,
        age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"{len(gates)}" if gates else "<none>",
    ]


# --- nodes ----------------------------------------------------------------------------------------


def node_status(node: Object) -> str:
    conditions = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions") or []}
    ready = conditions.get("Ready")
    # As kubectl's printer: a Ready condition that is not True (False or Unknown) reads NotReady.
    text = "Unknown" if ready is None else ("Ready" if ready == "True" else "NotReady")
    if node.get("spec", {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def node_roles(node: Object) -> str:
    labels = node.get("metadata", {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    role = labels.get("kubernetes.io/role")
    if role:
        roles.append(role)
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(node: Object, kind: str) -> str:
    for address in node.get("status", {}).get("addresses") or []:
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return "<none>"


def _node_cells(node: Object, now: datetime) -> Cells:
    info = node.get("status", {}).get("nodeInfo", {})
    return [
        _name(node),
        node_status(node),
        node_roles(node),
        age(node, now),
        info.get("kubeletVersion", ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


# --- workloads --------------------------------------------------------------------------------------


def _deployment_cells(obj: Object, now: datetime) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    containers, images = _containers(spec)
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(obj, now),
        containers,
        images,
        _selector(spec.get("selector")),
    ]


def _replicaset_cells(obj: Object, now: datetime) -> Cells:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    containers, images = _containers(spec)
    return [
        _name(obj),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(obj, now),
        containers,
        images,
        _selector(spec.get("selector")),
    ]


# --- networking ------------------------------------------------------------------------------------


def _service_ports(spec: Object) -> str:
    ports = []
    for port in spec.get("ports") or []:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _service_cells(obj: Object, now: datetime) -> Cells:
    spec = obj.get("spec", {})
    ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    external = [i.get("ip") or i.get("hostname") or "" for i in ingress] + list(spec.get("externalIPs") or [])
    if spec.get("type") == "ExternalName":
        external = [spec.get("externalName", "")]
    default_external = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    return [
        _name(obj),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        ",".join(e for e in external if e) or default_external,
        _service_ports(spec),
        age(obj, now),
        _selector(spec.get("selector")),
    ]


def _endpointslice_cells(obj: Object, now: datetime) -> Cells:
    ports = [str(p.get("port")) for p in obj.get("ports") or [] if p.get("port") is not None]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [
        _name(obj),
        obj.get("addressType", ""),
        ",".join(ports) or "<unset>",
        shown or "<unset>",
        age(obj, now),
    ]


# --- everything else --------------------------------------------------------------------------------


def _namespace_cells(obj: Object, now: datetime) -> Cells:
    return [_name(obj), obj.get("status", {}).get("phase", "Active"), age(obj, now)]


def _lease_cells(obj: Object, now: datetime) -> Cells:
    return [_name(obj), obj.get("spec", {}).get("holderIdentity") or "", age(obj, now)]


def _event_cells(obj: Object, now: datetime) -> Cells:
    involved = obj.get("involvedObject", {})
    last = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("metadata", {}).get("creationTimestamp")
    )
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    source = obj.get("source", {})
    return [
        since(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v),
        since(first, now),
        obj.get("count", 1),
        _name(obj),
    ]


def _generic_cells(obj: Object, now: datetime) -> Cells:
    return [_name(obj), age(obj, now)]


def _columns(names: str, wide: str = "") -> tuple[Column, ...]:
    normal = [Column(n.strip(), format="name" if n.strip() == "Name" else "") for n in names.split(",")]
    extra = [Column(n.strip(), priority=1) for n in wide.split(",") if n.strip()]
    return (*normal, *extra)


TABLES: dict[str, TableSpec] = {
    "pods": TableSpec(
        _columns("Name,Ready,Status,Restarts,Age", "IP,Node,Nominated Node,Readiness Gates"), _pod_cells
    ),
    "nodes": TableSpec(
        _columns(
            "Name,Status,Roles,Age,Version",
            "Internal-IP,External-IP,OS-Image,Kernel-Version,Container-Runtime",
        ),
        _node_cells,
    ),
    "deployments": TableSpec(
        _columns("Name,Ready,Up-to-date,Available,Age", "Containers,Images,Selector"), _deployment_cells
    ),
    "replicasets": TableSpec(
        _columns("Name,Desired,Current,Ready,Age", "Containers,Images,Selector"), _replicaset_cells
    ),
    "services": TableSpec(
        _columns("Name,Type,Cluster-IP,External-IP,Port(s),Age", "Selector"), _service_cells
    ),
    "endpointslices": TableSpec(_columns("Name,AddressType,Ports,Endpoints,Age"), _endpointslice_cells),
    "namespaces": TableSpec(_columns("Name,Status,Age"), _namespace_cells),
    "leases": TableSpec(_columns("Name,Holder,Age"), _lease_cells),
    "events": TableSpec(
        _columns("Last Seen,Type,Reason,Object,Message", "Subobject,Source,First Seen,Count,Name"),
        _event_cells,
    ),
}
GENERIC = TableSpec(_columns("Name,Age"), _generic_cells)


def table_for(plural: str) -> TableSpec:
    return TABLES.get(plural, GENERIC)


def utcnow() -> datetime:
    return datetime.now(UTC)
