"""Pure rules of node health: which taints a node's Ready condition calls for, and when a pod on a
tainted node is to be evicted.

* Ready ``False`` → ``node.kubernetes.io/not-ready`` with effects NoSchedule and NoExecute; Ready
  ``Unknown`` (or no Ready at all) → ``node.kubernetes.io/unreachable``, both effects; Ready ``True`` → none.
* A pod that does not tolerate every NoExecute taint of its node is evicted at once. One that does is
  evicted when the shortest ``tolerationSeconds`` among the tolerations it uses for them runs out, counted
  from when the taint was added; tolerations without seconds tolerate forever. (Kubernetes counts from
  when its taint manager first saw the pod on the tainted node; counting from ``timeAdded`` gives the same
  answer in the common case and survives a controller-manager failover, whose new leader has seen nothing.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.models.timestamps import parse_time

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"
HEALTH_TAINTS = (NOT_READY, UNREACHABLE)
HEALTH_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)


def wanted_health_taint(ready_status: str | None) -> str | None:
    """The health taint key for a Ready condition status (None when the node is Ready)."""
    if ready_status == "True":
        return None
    return NOT_READY if ready_status == "False" else UNREACHABLE


def no_execute_taints(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Kubernetes' ``ToleratesTaint``: effect and key agree where set, then the operator decides."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_time(
    tolerations: Sequence[Mapping[str, Any]], taints: Sequence[Mapping[str, Any]], now: datetime
) -> datetime | None:
    """When a pod with ``tolerations`` on a node with NoExecute ``taints`` is to be evicted; None: never."""
    earliest: datetime | None = None
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return now
        bounded = [int(t["tolerationSeconds"]) for t in matching if t.get("tolerationSeconds") is not None]
        if not bounded:
            continue
        added = parse_time(taint["timeAdded"]) if taint.get("timeAdded") else now
        due = added + timedelta(seconds=max(min(bounded), 0))
        earliest = due if earliest is None else min(earliest, due)
    return earliest


def _is_health_taint(taint: Mapping[str, Any]) -> bool:
    return taint.get("key") in HEALTH_TAINTS and taint.get("effect") in HEALTH_EFFECTS


def with_health_taint(
    taints: Sequence[Mapping[str, Any]], wanted: str | None, stamp: str
) -> list[dict[str, Any]] | None:
    """The node's taints with exactly the ``wanted`` health taint, in both effects; None when already so.

    NoSchedule keeps new pods off the node (Kubernetes' TaintNodesByCondition): the default tolerations
    cover only NoExecute, so without it the scheduler would place replacements on the lost node itself.
    A health taint that stays keeps its ``timeAdded``, which the eviction clock counts from.
    """
    current = {(t.get("key"), t.get("effect")): t for t in taints if _is_health_taint(t)}
    want = {(wanted, effect) for effect in HEALTH_EFFECTS} if wanted else set()
    if set(current) == want:
        return None
    kept = [dict(t) for t in taints if not _is_health_taint(t)]
    for key, effect in sorted(want, key=lambda pair: HEALTH_EFFECTS.index(pair[1])):
        kept.append(dict(current.get((key, effect)) or {"key": key, "effect": effect, "timeAdded": stamp}))
    return kept


class TokenBucket:
    """``qps`` tokens a second, ``burst`` at most; the first take succeeds at once (Kubernetes' limiter)."""

    def __init__(self, qps: float, burst: int, now: float) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def take(self, now: float) -> bool:
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
