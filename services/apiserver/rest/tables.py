"""Server-side Tables (``meta.k8s.io/v1``): objects, lists and watch events as the rows kubectl prints.

A client asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``. Every table carries all
columns, ``-o wide`` ones included at priority 1 (kubectl hides those unless asked), and each row carries
the object as ``PartialObjectMetadata`` (``includeObject=Metadata``, the default), in full (``Object``) or
not at all (``None``): kubectl reads the namespace and labels from it. A pod's row carries the
``Completed`` condition once it has Succeeded or Failed, as kube-apiserver's printer sets it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.apiserver.rest.printers import (
    AGE,
    DEPLOYMENT_COLUMNS,
    NAME,
    NODE_COLUMNS,
    POD_COLUMNS,
    REPLICASET_COLUMNS,
    Cells,
    Obj,
    deployment_cells,
    name_of,
    node_cells,
    pod_cells,
    pod_row_conditions,
    replicaset_cells,
)
from services.apiserver.rest.printers_cluster import (
    ENDPOINT_SLICE_COLUMNS,
    EVENT_COLUMNS,
    LEASE_COLUMNS,
    NAMESPACE_COLUMNS,
    SERVICE_COLUMNS,
    endpoint_slice_cells,
    event_cells,
    lease_cells,
    namespace_cells,
    service_cells,
)

Printer = tuple[list[Obj], Callable[[Obj, datetime], Cells]]


def _aged(cells: Callable[[Obj, str], Cells]) -> Callable[[Obj, datetime], Cells]:
    return lambda obj, now: cells(obj, age_of(obj, now))


def _event_row(event: Obj, now: datetime) -> Cells:
    last = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
    first = event.get("firstTimestamp") or event.get("eventTime") or last
    return event_cells(event, _since(last, now), _since(first, now))


def _default_row(obj: Obj, now: datetime) -> Cells:
    return [name_of(obj), age_of(obj, now)]


PRINTERS: dict[str, Printer] = {
    "pods": (POD_COLUMNS, _aged(pod_cells)),
    "nodes": (NODE_COLUMNS, _aged(node_cells)),
    "deployments": (DEPLOYMENT_COLUMNS, _aged(deployment_cells)),
    "replicasets": (REPLICASET_COLUMNS, _aged(replicaset_cells)),
    "services": (SERVICE_COLUMNS, _aged(service_cells)),
    "endpointslices": (ENDPOINT_SLICE_COLUMNS, _aged(endpoint_slice_cells)),
    "namespaces": (NAMESPACE_COLUMNS, _aged(namespace_cells)),
    "leases": (LEASE_COLUMNS, _aged(lease_cells)),
    "events": (EVENT_COLUMNS, _event_row),
}
_DEFAULT: Printer = ([NAME, AGE], _default_row)


def human_duration(seconds: float) -> str:
    """A duration the way kubectl shows ages: ``45s``, ``3m12s``, ``2h5m``, ``3d4h``, ``2y10d``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def _since(timestamp: Any, now: datetime) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return human_duration((now - moment).total_seconds())


def age_of(obj: Obj, now: datetime) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _row(resource: str, obj: Obj, now: datetime, include_object: str) -> Obj:
    cells = PRINTERS.get(resource, _DEFAULT)[1](obj, now)
    row: Obj = {"cells": cells}
    if resource == "pods" and (conditions := pod_row_conditions(obj)):
        row["conditions"] = conditions  # omitted when empty, as Kubernetes' TableRow omits it
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    return row


def table(
    resource: str,
    objects: list[Obj],
    now: datetime,
    *,
    list_meta: Obj | None = None,
    include_object: str = "Metadata",
    headers: bool = True,
) -> Obj:
    """A Table of ``objects`` of ``resource``; ``headers=False`` leaves the columns out (watch events after
    the first, which kubectl prints under the header it already has)."""
    columns = PRINTERS.get(resource, _DEFAULT)[0]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
        "columnDefinitions": columns if headers else [],
        "rows": [_row(resource, obj, now, include_object) for obj in objects],
    }


def as_table(resource: str, reply: Obj, now: datetime, include_object: str = "Metadata") -> Obj:
    """A list or single object as a Table; a ``Status`` or a subresource's object is returned as it is."""
    kind = str(reply.get("kind") or "")
    if kind == "Status" or kind in ("Scale", "Table"):
        return reply
    if kind.endswith("List") and isinstance(reply.get("items"), list):
        return table(
            resource, reply["items"], now, list_meta=reply.get("metadata"), include_object=include_object
        )
    meta = {"resourceVersion": (reply.get("metadata") or {}).get("resourceVersion", "")}
    return table(resource, [reply], now, list_meta=meta, include_object=include_object)


def event_as_table(resource: str, event: Obj, now: datetime, first: bool, include_object: str) -> Obj:
    """A watch event whose object is a one-row Table (an ERROR's Status stays as it is; a BOOKMARK's
    object becomes a row-less Table at its resourceVersion)."""
    obj = event.get("object") or {}
    if event.get("type") == "ERROR":
        return event
    if event.get("type") == "BOOKMARK":
        meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
        return {"type": "BOOKMARK", "object": table(resource, [], now, list_meta=meta, headers=first)}
    meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
    converted = table(resource, [obj], now, list_meta=meta, include_object=include_object, headers=first)
    return {"type": event.get("type"), "object": converted}
