"""NodeAffinity: ``nodeSelector`` and required node affinity filter nodes by label; preferred node
affinity adds the weights of the terms a node matches to its score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from services.scheduler.framework import (
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleState,
    NodeScore,
    Status,
    unresolvable,
)
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from services.scheduler.plugins.helper import default_normalize_score

REASON = "node(s) didn't match Pod's node affinity/selector"


def matches_required(pod: PodInfo, node: NodeInfo) -> bool:
    """``nodeSelector`` (every label equal) and required affinity (any term) both hold for ``node``."""
    labels = node.labels
    if any(labels.get(key) != value for key, value in pod.node_selector.items()):
        return False
    required = pod.required_affinity
    return required is None or required.matches(labels, node.name)


def preferred_score(pod: PodInfo, node: NodeInfo) -> int:
    """The sum of the weights of the preferred terms ``node`` matches."""
    return sum(
        term.weight for term in pod.preferred_affinity if term.preference.matches(node.labels, node.name)
    )


class NodeAffinity:
    NAME: ClassVar[str] = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.node_selector or pod.required_affinity is not None else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if matches_required(pod, node) else unresolvable(REASON)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.preferred_affinity else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return preferred_score(pod, node)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> list[NodeScore]:
        return default_normalize_score(scores, reverse=False)

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_LABEL})
