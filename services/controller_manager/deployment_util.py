"""Pure helpers of the Deployment controller: template hash, revisions, and the rollout arithmetic.

They follow Kubernetes' ``pkg/controller/deployment/util``: ``maxSurge`` rounds up and ``maxUnavailable``
rounds down (and if both come to 0, one pod may be unavailable); a rolling update scales the new
ReplicaSet up to ``replicas + maxSurge`` pods in total, and old ReplicaSets down while at least
``replicas - maxUnavailable`` pods stay available — unhealthy old pods first. Every function takes
ReplicaSets and Deployments as wire-form dicts and returns numbers or plans; none writes anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from services.controller_manager.objects import annotations_of, created_at, name_of
from shared.models import scaled_value_from_int_or_percent

Object = Mapping[str, Any]
R = TypeVar("R", bound=Mapping[str, Any])

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- template hash and identity ------------------------------------------------------------------------


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(value: str) -> str:
    """Kubernetes' ``rand.SafeEncodeString``: no vowels, no look-alikes, so a hash never spells a word."""
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in value)


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """The ``pod-template-hash`` of a template: FNV-32a of its canonical JSON (and the collision count)."""
    canonical = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":"))
    if collision_count:
        canonical += str(collision_count)
    return safe_encode(str(fnv32a(canonical.encode())))


def without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` without the ``pod-template-hash`` label."""
    copy = json.loads(json.dumps(template))
    labels = (copy.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            copy["metadata"].pop("labels")
    return dict(copy)


def same_template(rs_template: Mapping[str, Any], deployment_template: Mapping[str, Any]) -> bool:
    """Kubernetes' ``EqualIgnoreHash``: equal once the hash label is taken out of both."""
    return without_hash(rs_template) == without_hash(deployment_template)


def spec(obj: Object) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def status(obj: Object) -> Mapping[str, Any]:
    return obj.get("status") or {}


def replicas(obj: Object) -> int:
    return int(spec(obj).get("replicas", 1))


def revision(rs: Object) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(replica_sets: Sequence[Object]) -> int:
    return max((revision(rs) for rs in replica_sets), default=0)


def by_creation(replica_sets: Sequence[R]) -> list[R]:
    """Oldest first; the name breaks ties (Kubernetes' ``ReplicaSetsByCreationTimestamp``)."""
    return sorted(replica_sets, key=lambda rs: (_created(rs), name_of(rs)))


def _created(obj: Object) -> float:
    moment = created_at(obj)
    return moment.timestamp() if moment is not None else 0.0


def find_new(deployment: Object, replica_sets: Sequence[R]) -> R | None:
    """The oldest ReplicaSet whose template is the Deployment's (the oldest wins if several match)."""
    template = spec(deployment).get("template") or {}
    for rs in by_creation(replica_sets):
        if same_template(spec(rs).get("template") or {}, template):
            return rs
    return None


# --- rollout arithmetic --------------------------------------------------------------------------------


def is_rolling(deployment: Object) -> bool:
    return bool((spec(deployment).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate")


def fenceposts(max_surge: int | str, max_unavailable: int | str, desired: int) -> tuple[int, int]:
    """(surge, unavailable) as pod counts: surge rounds up, unavailable down, never both 0."""
    surge = scaled_value_from_int_or_percent(max_surge, desired, round_up=True)
    unavailable = scaled_value_from_int_or_percent(max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(deployment: Object) -> Mapping[str, Any]:
    return (spec(deployment).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(deployment: Object) -> int:
    if not is_rolling(deployment):
        return 0
    rolling = _rolling(deployment)
    surge, _ = fenceposts(
        rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"), replicas(deployment)
    )
    return surge


def max_unavailable(deployment: Object) -> int:
    desired = replicas(deployment)
    if not is_rolling(deployment) or desired == 0:
        return 0
    rolling = _rolling(deployment)
    _, unavailable = fenceposts(rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"), desired)
    return min(unavailable, desired)


def total_spec_replicas(replica_sets: Sequence[Object]) -> int:
    return sum(replicas(rs) for rs in replica_sets)


def total_status(replica_sets: Sequence[Object], field: str) -> int:
    return sum(int(status(rs).get(field) or 0) for rs in replica_sets)


def settled_available(rs: Object) -> int:
    """The pods of ``rs`` that stay available once its controller has caught up with ``spec.replicas``.

    A ReplicaSet's status lags its spec: right after a scale-down it still counts the pods about to go —
    even with ``observedGeneration`` up to date, since the ReplicaSet controller reports the pods it saw
    before deleting some. Counting those would let the next reconcile scale down again and drop below
    ``replicas - maxUnavailable``. The ReplicaSet controller deletes not-ready pods first, so at most
    ``spec.replicas`` of the available ones remain.
    """
    return min(int(status(rs).get("availableReplicas") or 0), replicas(rs))


def total_settled_available(replica_sets: Sequence[Object]) -> int:
    return sum(settled_available(rs) for rs in replica_sets)


def new_rs_replicas(deployment: Object, all_rs: Sequence[Object], new_rs: Object | None) -> int:
    """How many replicas the new ReplicaSet should have now (Kubernetes' ``NewRSNewReplicas``)."""
    desired = replicas(deployment)
    if not is_rolling(deployment):
        return desired
    current_new = replicas(new_rs) if new_rs is not None else 0
    total = total_spec_replicas(all_rs)
    allowed = desired + max_surge(deployment)
    if total >= allowed:
        return current_new
    return current_new + min(allowed - total, desired - current_new)


def unhealthy_cleanup(old_rs: Sequence[R], max_cleanup: int) -> list[tuple[R, int]]:
    """Scale-downs of old ReplicaSets' unavailable pods, oldest ReplicaSet first, at most ``max_cleanup``."""
    plan: list[tuple[R, int]] = []
    done = 0
    for rs in by_creation(old_rs):
        if done >= max_cleanup:
            break
        have, available = replicas(rs), int(status(rs).get("availableReplicas") or 0)
        if have == 0 or have <= available:
            continue
        count = min(max_cleanup - done, have - available)
        plan.append((rs, have - count))
        done += count
    return plan


def old_scale_down(deployment: Object, all_rs: Sequence[Object], old_rs: Sequence[R]) -> list[tuple[R, int]]:
    """Scale-downs of old ReplicaSets that keep ``replicas - maxUnavailable`` pods available."""
    min_available = replicas(deployment) - max_unavailable(deployment)
    available = total_settled_available(all_rs)
    if available <= min_available:
        return []
    budget, done = available - min_available, 0
    plan: list[tuple[R, int]] = []
    for rs in by_creation(old_rs):
        if done >= budget:
            break
        have = replicas(rs)
        if have == 0:
            continue
        count = min(have, budget - done)
        plan.append((rs, have - count))
        done += count
    return plan


def max_scaled_down(deployment: Object, all_rs: Sequence[Object], new_rs: Object | None) -> int:
    """How many old pods may go at once without dropping below ``replicas - maxUnavailable``."""
    min_available = replicas(deployment) - max_unavailable(deployment)
    new_unavailable = 0
    if new_rs is not None:
        new_unavailable = replicas(new_rs) - settled_available(new_rs)
    return total_spec_replicas(all_rs) - min_available - new_unavailable


def proportional_scale(deployment: Object, active: Sequence[Object]) -> dict[str, int]:
    """New sizes of the active ReplicaSets after the Deployment was resized mid-rollout.

    The pods to add (or remove) are spread in proportion to each ReplicaSet's share, as Kubernetes does
    from the ``max-replicas`` annotation; the rounding leftover goes to the largest (newest) one.
    """
    desired = replicas(deployment)
    allowed = desired + max_surge(deployment) if desired > 0 else 0
    current = total_spec_replicas(active)
    to_add = allowed - current
    # Growing: the largest (then newest) first; shrinking: the largest (then oldest) first.
    sign = -1 if to_add > 0 else 1
    ordered = sorted(active, key=lambda rs: (-replicas(rs), sign * _created(rs)))
    sizes = {name_of(rs): replicas(rs) for rs in ordered}
    added = 0
    for rs in ordered:
        if to_add == 0 or added == to_add or replicas(rs) == 0:
            continue
        fraction = _fraction(rs, deployment, allowed, current)
        step = min(fraction, to_add - added) if to_add > 0 else max(fraction, to_add - added)
        sizes[name_of(rs)] += step
        added += step
    if ordered and to_add != added:
        first = name_of(ordered[0])
        sizes[first] = max(sizes[first] + to_add - added, 0)
    return sizes


def _fraction(rs: Object, deployment: Object, allowed: int, current: int) -> int:
    if replicas(deployment) == 0:
        return -replicas(rs)
    try:
        annotated = int(annotations_of(rs).get(MAX_REPLICAS, ""))
    except ValueError:
        annotated = current
    if annotated <= 0:
        return 0
    scaled = replicas(rs) * allowed / annotated
    return int(scaled + 0.5) - replicas(rs) if scaled >= 0 else -int(-scaled + 0.5) - replicas(rs)
