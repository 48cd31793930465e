"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes only pods that tolerate the
``node.kubernetes.io/unschedulable:NoSchedule`` taint."""

from __future__ import annotations

from typing import ClassVar

from services.scheduler.framework import SUCCESS, ClusterEvent, CycleState, Status, unresolvable
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from shared.models import TAINT_EFFECT_NO_SCHEDULE, Taint

REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = Taint(key="node.kubernetes.io/unschedulable", effect=TAINT_EFFECT_NO_SCHEDULE)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not node.unschedulable or any(t.tolerates(UNSCHEDULABLE_TAINT) for t in pod.tolerations)


class NodeUnschedulable:
    NAME: ClassVar[str] = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod, node) else unresolvable(REASON)

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_SCHEDULABLE})
