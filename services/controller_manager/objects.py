"""Read-only helpers over API objects in wire form (dicts), as the controllers see them in informer caches.

Controllers work on the dicts the informers hold rather than parsing every object into its model on each
reconcile: a 1,000-pod ReplicaSet is reconciled often, and these helpers read only the fields they need.
Nothing here mutates its argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.models import ResourceType, resource_for_plural
from shared.models.timestamps import format_time, parse_time

Object = dict[str, Any]


def _served(group: str, plural: str) -> ResourceType:
    found = resource_for_plural(group, "v1", plural)
    if found is None:
        raise LookupError(f"{plural} is not served")
    return found


PODS = _served("", "pods")
NODES = _served("", "nodes")
NAMESPACES = _served("", "namespaces")
SERVICES = _served("", "services")
EVENTS = _served("", "events")
DEPLOYMENTS = _served("apps", "deployments")
REPLICASETS = _served("apps", "replicasets")
LEASES = _served("coordination.k8s.io", "leases")
ENDPOINTSLICES = _served("discovery.k8s.io", "endpointslices")


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def created_at(obj: Mapping[str, Any]) -> datetime | None:
    stamp = meta(obj).get("creationTimestamp")
    return parse_time(stamp) if stamp else None


def owner_refs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(meta(obj).get("ownerReferences") or [])


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference with ``controller: true``, if any."""
    return next((ref for ref in owner_refs(obj) if ref.get("controller")), None)


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True) -> Object:
    """A reference to ``owner`` (controller, blocking its foreground deletion), as a dependent carries it."""
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def rfc3339(moment: datetime) -> str:
    return format_time(moment)


# --- label selectors -------------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics; a None selector matches nothing, an empty one everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator = requirement.get("key", ""), requirement.get("operator", "")
        values = requirement.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def map_selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service's plain ``selector`` map; an empty one selects nothing (Services without selectors)."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


# --- pods ------------------------------------------------------------------------------------------------


def phase_of(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def node_of(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return entry  # type: ignore[no-any-return]
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    ready = condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> datetime | None:
    """When the pod's Ready condition last turned True (None if not ready or unknown)."""
    ready = condition(pod, "Ready")
    if ready is None or ready.get("status") != "True" or not ready.get("lastTransitionTime"):
        return None
    return parse_time(ready["lastTransitionTime"])


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``minReadySeconds`` (Kubernetes' ``IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = ready_since(pod)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """Not finished and not being deleted: a pod that counts towards a ReplicaSet's replicas."""
    return phase_of(pod) not in ("Succeeded", "Failed") and not is_deleting(pod)


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    return phase_of(pod) in ("Succeeded", "Failed")


def restart_count(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(status.get("restartCount") or 0) for status in statuses)
