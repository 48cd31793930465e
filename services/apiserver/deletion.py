"""Deletion in Kubernetes' terms: graceful pod stops, finalizers and the propagation policy's finalizers.

Pure functions over wire-form objects; the registry decides with them whether a delete removes the object
now or marks it (``deletionTimestamp``) and waits for a kubelet or a controller to finish it.
"""

from __future__ import annotations

from datetime import datetime

from services.apiserver.objects import Object, deep, metadata, now_rfc3339

PROPAGATION_FINALIZERS = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}


def with_propagation_finalizer(obj: Object, policy: str | None) -> Object:
    """``obj`` with the finalizer its deletion's propagation policy asks for (``obj`` itself if none).

    Only the first deletion decides: an object already being deleted keeps the policy it was given.
    """
    finalizer = PROPAGATION_FINALIZERS.get(policy or "")
    meta = obj["metadata"]
    if finalizer is None or "deletionTimestamp" in meta or finalizer in (meta.get("finalizers") or []):
        return obj
    marked = deep(obj)
    metadata(marked)["finalizers"] = [*(meta.get("finalizers") or []), finalizer]
    return marked


def mark_for_deletion(resource: str, current: Object, grace: int | None, now: datetime) -> Object | None:
    """The object marked as terminating, or None when it is to be deleted at once.

    A pod bound to a node is deleted gracefully: its kubelet stops the containers within the grace
    period and then deletes it with grace 0. An object with finalizers stays until they are gone.
    """
    meta = current["metadata"]
    finalizers = meta.get("finalizers") or []
    spec_finalizers = current.get("spec", {}).get("finalizers") or [] if resource == "namespaces" else []
    if resource == "pods":
        grace = (
            grace if grace is not None else current.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        )
        bound = bool(current.get("spec", {}).get("nodeName"))
        finished = current.get("status", {}).get("phase") in ("Succeeded", "Failed")
        if grace and bound and not finished:
            if "deletionTimestamp" in meta and int(meta.get("deletionGracePeriodSeconds", 0)) <= grace:
                return current  # already terminating at least this fast
            marked = deep(current)
            metadata(marked)["deletionTimestamp"] = now_rfc3339(now, grace)
            metadata(marked)["deletionGracePeriodSeconds"] = grace
            return marked
    if finalizers or spec_finalizers:
        if "deletionTimestamp" in meta:
            if resource == "pods" and grace == 0 and int(meta.get("deletionGracePeriodSeconds", 0)):
                # The kubelet's final delete: the pod goes as soon as its finalizers are gone.
                marked = deep(current)
                metadata(marked)["deletionGracePeriodSeconds"] = 0
                return marked
            return current
        marked = deep(current)
        metadata(marked)["deletionTimestamp"] = now_rfc3339(now)
        metadata(marked)["deletionGracePeriodSeconds"] = 0
        if resource == "namespaces":
            marked.setdefault("status", {})["phase"] = "Terminating"
        return marked
    return None


def is_finalized(obj: Object) -> bool:
    """Whether a terminating object has nothing left to wait for and can leave the store."""
    meta = obj["metadata"]
    if "deletionTimestamp" not in meta or meta.get("finalizers"):
        return False
    if obj.get("kind") == "Namespace":
        return not (obj.get("spec", {}).get("finalizers") or [])
    return obj.get("kind") != "Pod" or int(meta.get("deletionGracePeriodSeconds", 0)) == 0
