"""Which pods a ReplicaSet deletes first when it scales down: Kubernetes' ``ActivePodsWithRanks`` order.

Earlier in the order means deleted sooner:

1. not yet scheduled before scheduled;
2. ``Pending`` before ``Unknown`` before ``Running``;
3. not ready before ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` before higher;
5. pods sharing their node with more of the controller's related pods before those with fewer
   ("doubled up", the rank);
6. ready for a shorter time before ready longer;
7. more container restarts before fewer;
8. created later before created earlier;

and the pod's name breaks remaining ties so the choice is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from services.controller_manager.objects import (
    annotations_of,
    created_at,
    is_pod_active,
    is_pod_ready,
    name_of,
    node_of,
    phase_of,
    ready_since,
    restart_count,
)

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    try:
        return int(annotations_of(pod).get(DELETION_COST_ANNOTATION, "0"))
    except ValueError:
        return 0


def _timestamp(moment: datetime | None, missing: float) -> float:
    return missing if moment is None else moment.timestamp()


def deletion_key(pod: Mapping[str, Any], rank: int) -> tuple[Any, ...]:
    """The sort key of one pod; sort ascending and delete from the front."""
    ready = is_pod_ready(pod)
    since = ready_since(pod) if ready else None
    return (
        1 if node_of(pod) else 0,
        _PHASE_RANK.get(phase_of(pod), 1),
        1 if ready else 0,
        _deletion_cost(pod),
        -rank,
        # Ready longer sorts later; a ready pod without a transition time counts as ready the shortest.
        -_timestamp(since, float("inf")) if ready else 0.0,
        -restart_count(pod),
        # Newer first; a pod without a creation time sorts before every dated one.
        -_timestamp(created_at(pod), float("inf")),
        name_of(pod),
    )


def same_node_ranks(pods: Sequence[Mapping[str, Any]], related: Sequence[Mapping[str, Any]]) -> list[int]:
    """For each pod, how many active ``related`` pods run on its node (0 for unscheduled pods)."""
    on_node = Counter(node_of(pod) for pod in related if is_pod_active(pod) and node_of(pod))
    return [on_node[node_of(pod)] if node_of(pod) else 0 for pod in pods]


P = TypeVar("P", bound=Mapping[str, Any])


def pods_to_delete(pods: Sequence[P], related: Sequence[Mapping[str, Any]], count: int) -> list[P]:
    """The ``count`` pods of ``pods`` to delete first (``related``: all pods of the same owner, for ranks)."""
    if count <= 0:
        return []
    ranks = same_node_ranks(pods, related)
    ranked = sorted(zip(pods, ranks, strict=True), key=lambda pair: deletion_key(pair[0], pair[1]))
    return [pod for pod, _ in ranked[:count]]
