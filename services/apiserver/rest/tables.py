"""Server-side Tables (``meta.k8s.io/v1``): objects, lists and watch events as the rows kubectl prints.

A client asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``. Every table carries all
columns, ``-o wide`` ones included at priority 1 (kubectl hides those unless asked), and each row carries
the object as ``PartialObjectMetadata`` (``includeObject=Metadata``, the default), in full (``Object``) or
not at all (``None``): kubectl reads the namespace and labels from it. A pod's row carries the
``Completed`` condition once it has Succeeded or Failed, as kube-apiserver's printer sets it.
"""

from __future__ import annotations

from datetime import datetime

from shared.tables import Object, table_for
from shared.tables.columns import dig

_POD_COMPLETED = {
    "Succeeded": "The pod has completed successfully.",
    "Failed": "The pod failed.",
}


def pod_row_conditions(pod: Object) -> list[Object]:
    """The row conditions kube-apiserver's pod printer sets: ``Completed`` once the pod has Succeeded or
    Failed (clients may use it to tell finished pods apart; kubectl 1.37 prints them all the same)."""
    phase = dig(pod, "status", "phase")
    if phase not in _POD_COMPLETED:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": _POD_COMPLETED[phase]}]


def _row(resource: str, obj: Object, now: datetime, include_object: str) -> Object:
    cells = table_for(resource).cells(obj, now)
    row: Object = {"cells": cells}
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
    objects: list[Object],
    now: datetime,
    *,
    list_meta: Object | None = None,
    include_object: str = "Metadata",
    headers: bool = True,
) -> Object:
    """A Table of ``objects`` of ``resource``; ``headers=False`` leaves the columns out (watch events after
    the first, which kubectl prints under the header it already has)."""
    columns = [column.definition() for column in table_for(resource).columns]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
        "columnDefinitions": columns if headers else [],
        "rows": [_row(resource, obj, now, include_object) for obj in objects],
    }


def as_table(resource: str, reply: Object, now: datetime, include_object: str = "Metadata") -> Object:
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


def event_as_table(resource: str, event: Object, now: datetime, first: bool, include_object: str) -> Object:
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
