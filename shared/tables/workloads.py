"""kubectl's columns for deployments and replica sets: replica counts, then the template's containers,
images and label selector at ``-o wide``."""

from __future__ import annotations

from datetime import datetime

from shared.tables.columns import AGE, NAME, NONE, Cells, Column, Object, age, dig, name_of


def selector_string(selector: Object) -> str:
    """A ``LabelSelector`` as kubectl writes one: ``app=web,tier in (a,b),!legacy``."""
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


def _template_cells(obj: Object) -> Cells:
    containers = dig(obj, "spec", "template", "spec", "containers") or []
    return [
        ",".join(str(c.get("name", "")) for c in containers) or NONE,
        ",".join(str(c.get("image", "")) for c in containers) or NONE,
        selector_string(dig(obj, "spec", "selector") or {}) or NONE,
    ]


def _desired(obj: Object) -> int:
    replicas = dig(obj, "spec", "replicas")
    return int(replicas if replicas is not None else 1)


WORKLOAD_WIDE = (
    Column("Containers", priority=1, description="Names of each container in the template."),
    Column("Images", priority=1, description="Images referenced by each container in the template."),
    Column("Selector", priority=1, description="Label selector for pods."),
)


def deployment_cells(d: Object, now: datetime) -> Cells:
    status = d.get("status") or {}
    return [
        name_of(d),
        f"{int(status.get('readyReplicas') or 0)}/{_desired(d)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        age(d, now),
        *_template_cells(d),
    ]


DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", description="Number of the pods ready out of those desired."),
    Column("Up-to-date", "integer", description="Total number of pods with the desired template."),
    Column("Available", "integer", description="Total number of available pods."),
    AGE,
    *WORKLOAD_WIDE,
)


def replicaset_cells(rs: Object, now: datetime) -> Cells:
    status = rs.get("status") or {}
    return [
        name_of(rs),
        _desired(rs),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        age(rs, now),
        *_template_cells(rs),
    ]


REPLICASET_COLUMNS = (
    NAME,
    Column("Desired", "integer", description="Number of desired pods."),
    Column("Current", "integer", description="Number of actually running pods."),
    Column("Ready", "integer", description="Number of ready pods."),
    AGE,
    *WORKLOAD_WIDE,
)
