"""A Deployment's status and its ``Available`` and ``Progressing`` conditions, as ``kubectl rollout status``
reads them (pure functions; ``now`` is an argument).

``Available`` is True while at least ``replicas - maxUnavailable`` pods are available. ``Progressing``
says where the rollout is: ``NewReplicaSetCreated`` / ``FoundNewReplicaSet`` when it starts,
``ReplicaSetUpdated`` each time it makes progress (its ``lastUpdateTime`` is the progress clock),
``NewReplicaSetAvailable`` when complete, and ``ProgressDeadlineExceeded`` (status False) once no progress
was made for ``progressDeadlineSeconds``. A paused Deployment shows ``DeploymentPaused`` (Unknown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.controller_manager import deployment_util as du
from services.controller_manager.objects import meta, name_of, rfc3339
from shared.models.timestamps import parse_time

Object = Mapping[str, Any]

AVAILABLE = "Available"
PROGRESSING = "Progressing"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"


def get_condition(status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for entry in status.get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return None


def new_condition(kind: str, state: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    stamp = rfc3339(now)
    return {
        "type": kind,
        "status": state,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """Kubernetes' ``SetDeploymentCondition``: same status and reason → unchanged; same status → keep the
    transition time."""
    current = get_condition(status, cond["type"])
    if (
        current is not None
        and current["status"] == cond["status"]
        and current.get("reason") == cond["reason"]
    ):
        return
    if current is not None and current["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime", cond["lastTransitionTime"])}
    remove_condition(status, cond["type"])
    status["conditions"] = [*status.get("conditions", []), cond]


def remove_condition(status: dict[str, Any], kind: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != kind]


def calculate(d: Object, all_rs: Sequence[Object], new_rs: Object | None, now: datetime) -> dict[str, Any]:
    """The counts and the ``Available`` condition (Kubernetes' ``calculateStatus``)."""
    available = du.total_status(all_rs, "availableReplicas")
    previous = du.status(d)
    status: dict[str, Any] = {
        "observedGeneration": int(meta(d).get("generation") or 0),
        "replicas": du.total_status(all_rs, "replicas"),
        "updatedReplicas": du.total_status([new_rs], "replicas") if new_rs is not None else 0,
        "readyReplicas": du.total_status(all_rs, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(du.total_spec_replicas(all_rs) - available, 0),
        "conditions": [dict(c) for c in previous.get("conditions") or []],
    }
    if previous.get("collisionCount") is not None:
        status["collisionCount"] = previous["collisionCount"]
    if available >= du.replicas(d) - du.max_unavailable(d):
        cond = new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = new_condition(
            AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now
        )
    set_condition(status, cond)
    return status


def complete(d: Object, status: Mapping[str, Any]) -> bool:
    """Every replica updated and available, and the latest generation observed."""
    want = du.replicas(d)
    return (
        status.get("updatedReplicas") == want
        and status.get("replicas") == want
        and status.get("availableReplicas") == want
        and int(status.get("observedGeneration") or 0) >= int(meta(d).get("generation") or 0)
    )


def progressing(d: Object, status: Mapping[str, Any]) -> bool:
    """The new status shows progress over the stored one (Kubernetes' ``DeploymentProgressing``)."""
    old = du.status(d)
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(status.get("replicas") or 0) - int(status.get("updatedReplicas") or 0)
    return (
        int(status.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0)
        or new_old < old_old
        or int(status.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0)
        or int(status.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0)
    )


def deadline(d: Object) -> int | None:
    value = du.spec(d).get("progressDeadlineSeconds", 600)
    return None if value is None else int(value)


def timed_out(d: Object, status: Mapping[str, Any], now: datetime) -> bool:
    seconds = deadline(d)
    cond = get_condition(status, PROGRESSING)
    if seconds is None or cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = cond.get("lastUpdateTime")
    return since is not None and parse_time(since) + timedelta(seconds=seconds) < now


def rollout_status(
    d: Object, all_rs: Sequence[Object], new_rs: Object | None, now: datetime
) -> dict[str, Any]:
    """The full status with ``Progressing`` updated (Kubernetes' ``syncRolloutStatus``)."""
    status = calculate(d, all_rs, new_rs, now)
    if deadline(d) is None:
        remove_condition(status, PROGRESSING)
        return status
    current = get_condition(status, PROGRESSING)
    already_complete = (
        status["replicas"] == status["updatedReplicas"]
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if already_complete or new_rs is None:
        return status
    rs_name = name_of(new_rs)
    if complete(d, status):
        message = f'ReplicaSet "{rs_name}" has successfully progressed.'
        set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message, now))
    elif progressing(d, status):
        cond = new_condition(PROGRESSING, "True", RS_UPDATED, f'ReplicaSet "{rs_name}" is progressing.', now)
        if current is not None:
            if current["status"] == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
            remove_condition(status, PROGRESSING)
        set_condition(status, cond)
    elif timed_out(d, status, now):
        message = f'ReplicaSet "{rs_name}" has timed out progressing.'
        set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, message, now))
    return status


def requeue_after(d: Object, status: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds until a stalled rollout would pass its deadline (so it is looked at then), or None."""
    seconds = deadline(d)
    cond = get_condition(status, PROGRESSING)
    if seconds is None or cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    since = cond.get("lastUpdateTime")
    if since is None:
        return None
    left = (parse_time(since) + timedelta(seconds=seconds) - now).total_seconds()
    return max(left, 0.0) + 1.0


def same_status(d: Object, status: Mapping[str, Any]) -> bool:
    return dict(du.status(d)) == dict(status)
