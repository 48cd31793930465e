"""A ReplicaSet's status from the pods it controls, and writing it through the status subresource.

``replicas`` counts the active pods claimed; ``fullyLabeledReplicas`` those whose labels include every
template label; ``readyReplicas`` those Ready; ``availableReplicas`` those Ready for ``minReadySeconds``;
``observedGeneration`` the generation the counts answer. A failed create or delete shows as the
``ReplicaFailure`` condition until a reconcile succeeds again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.controller_manager.objects import (
    REPLICASETS,
    Object,
    condition,
    is_pod_available,
    is_pod_ready,
    labels_of,
    meta,
    name_of,
    namespace_of,
    rfc3339,
)
from shared.apiclient import ApiClient
from shared.errors import ApiError

COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


def calculate(rs: Object, pods: list[Object], failure: Exception | None, now: datetime) -> dict[str, Any]:
    spec = rs.get("spec") or {}
    template_labels: Mapping[str, str] = ((spec.get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    status: dict[str, Any] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(
            1 for pod in pods if all(labels_of(pod).get(k) == v for k, v in template_labels.items())
        ),
        "readyReplicas": sum(1 for pod in pods if is_pod_ready(pod)),
        "availableReplicas": sum(1 for pod in pods if is_pod_available(pod, min_ready, now)),
        "observedGeneration": int(meta(rs).get("generation") or 0),
    }
    conditions = [dict(c) for c in (rs.get("status") or {}).get("conditions") or []]
    conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if failure is not None:
        previous = condition(rs, "ReplicaFailure")
        reason = "FailedDelete" if "delet" in str(failure).lower() else "FailedCreate"
        conditions.append(
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": reason,
                "message": str(failure),
                "lastTransitionTime": (previous or {}).get("lastTransitionTime") or rfc3339(now),
            }
        )
    if conditions:
        status["conditions"] = conditions
    return status


def unchanged(rs: Object, status: Mapping[str, Any]) -> bool:
    current = rs.get("status") or {}
    return all(int(current.get(k) or 0) == status[k] for k in COUNTS) and (
        (current.get("conditions") or []) == (status.get("conditions") or [])
    )


async def write(client: ApiClient, rs: Object, status: dict[str, Any]) -> Object:
    """Write ``status`` unless it is already there; on a conflict, read the ReplicaSet and try once more."""
    if unchanged(rs, status):
        return rs
    body = {**rs, "status": status}
    try:
        return await client.update_status(body)
    except ApiError as error:
        if error.code != 409:
            raise
    fresh = await client.get(REPLICASETS, name_of(rs), namespace_of(rs))
    if unchanged(fresh, status):
        return fresh
    return await client.update_status({**fresh, "status": status})
