"""TaintToleration: a node's NoSchedule/NoExecute taints keep out pods that do not tolerate them; its
PreferNoSchedule taints make it score lower for pods that do not tolerate them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from services.scheduler.framework import (
    SUCCESS,
    ClusterEvent,
    CycleState,
    NodeScore,
    Status,
    unresolvable,
)
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from services.scheduler.plugins.helper import default_normalize_score, untolerated_taint
from shared.models import (
    TAINT_EFFECT_NO_EXECUTE,
    TAINT_EFFECT_NO_SCHEDULE,
    TAINT_EFFECT_PREFER_NO_SCHEDULE,
    Toleration,
)

FILTER_EFFECTS = frozenset({TAINT_EFFECT_NO_SCHEDULE, TAINT_EFFECT_NO_EXECUTE})
PREFER_EFFECTS = frozenset({TAINT_EFFECT_PREFER_NO_SCHEDULE})
STATE_KEY = "TaintToleration/preferTolerations"


def reason(key: str, value: str) -> str:
    """Kubernetes' words: ``node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }``."""
    return f"node(s) had untolerated taint {{{key}: {value}}}"


def intolerable_prefer_taints(node: NodeInfo, tolerations: list[Toleration]) -> int:
    """How many PreferNoSchedule taints of the node none of ``tolerations`` tolerates."""
    return sum(
        1
        for taint in node.taints
        if taint.effect == TAINT_EFFECT_PREFER_NO_SCHEDULE
        and not any(t.tolerates(taint) for t in tolerations)
    )


class TaintToleration:
    NAME: ClassVar[str] = "TaintToleration"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.taints:
            return SUCCESS
        taint = untolerated_taint(node.taints, pod.tolerations, FILTER_EFFECTS)
        return SUCCESS if taint is None else unresolvable(reason(taint.key, taint.value))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        # As Kubernetes: only tolerations with an empty or PreferNoSchedule effect count when scoring.
        prefer = [t for t in pod.tolerations if t.effect in ("", TAINT_EFFECT_PREFER_NO_SCHEDULE)]
        state.write(STATE_KEY, prefer)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.taints:
            return 0
        return intolerable_prefer_taints(node, state.read(STATE_KEY))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> list[NodeScore]:
        return default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_TAINT})
