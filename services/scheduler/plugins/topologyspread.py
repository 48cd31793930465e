"""PodTopologySpread: keep pods matching a selector evenly spread over topology domains (hostname, zone…).

``whenUnsatisfiable: DoNotSchedule`` constraints filter: placing the pod in a domain must not make that
domain's count of matching pods exceed the smallest domain's count by more than ``maxSkew``. Worked
example, maxSkew 1 over hostname, matching pods per node {a: 2, b: 1, c: 1}: a new matching pod fits b
or c (2 − 1 = 1) but not a (3 − 1 = 2). ``ScheduleAnyway`` constraints only score: fewer matching pods in
the node's domain is better. Only nodes that pass the pod's node selector/affinity and carry every
constraint's topology key count as domains (``nodeAffinityPolicy: Honor``, ``nodeTaintsPolicy: Ignore``,
the defaults). Kubernetes' cluster-level default constraints are not applied.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from services.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleState,
    NodeScore,
    Status,
    unresolvable,
    unschedulable,
)
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from services.scheduler.plugins.nodeaffinity import RequiredMatcher
from shared.models import LabelSelector, TopologySpreadConstraint

REASON = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HOSTNAME = "kubernetes.io/hostname"
FILTER_KEY = "PodTopologySpread/filter"
SCORE_KEY = "PodTopologySpread/score"


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int


@dataclass
class SpreadCounts:
    """Per constraint: matching pods per domain value, over the nodes that count."""

    constraints: list[Constraint]
    counts: list[Counter[str]]

    def minimum(self, i: int) -> int:
        counts, constraint = self.counts[i], self.constraints[i]
        if len(counts) < constraint.min_domains:
            return 0  # too few domains: the missing ones count as empty (minDomains)
        return min(counts.values(), default=0)


@dataclass(frozen=True)
class FilterState:
    """What ``filter`` reads for every node, worked out once per pod in ``pre_filter`` (as Kubernetes'
    ``preFilterState`` does): each constraint's smallest domain count and whether the pod itself matches
    its selector. Recomputing the minimum per node made the filter quadratic in the number of nodes."""

    spread: SpreadCounts
    minimums: list[int]
    self_matches: list[int]


def constraints_of(pod: PodInfo, when: str) -> list[Constraint]:
    return [
        Constraint(c.max_skew, c.topology_key, c.label_selector or LabelSelector(), c.min_domains or 1)
        for c in pod.spread_constraints
        if c.when_unsatisfiable == when
    ]


def count_matching(pod: PodInfo, constraints: list[Constraint], nodes: Sequence[NodeInfo]) -> SpreadCounts:
    counts: list[Counter[str]] = [Counter() for _ in constraints]
    keys = [c.topology_key for c in constraints]
    # This walks every node for every pod with constraints: decide once whether the pod's node selector
    # and affinity need checking at all (an unconstrained pod matches every node), and look at a node's
    # pods only if it has any.
    matches = RequiredMatcher(pod) if pod.node_selector or pod.required_affinity is not None else None
    namespace = pod.namespace
    for node in nodes:
        labels = node.labels
        if not all(key in labels for key in keys) or (matches is not None and not matches(node)):
            continue
        same_namespace = (
            [o.labels for o in node.pods.values() if o.namespace == namespace] if node.pods else []
        )
        for i, constraint in enumerate(constraints):
            matching = sum(1 for other in same_namespace if constraint.selector.matches(other))
            # Added even when 0: a domain with no matching pods still counts (it may be the minimum).
            counts[i][labels[keys[i]]] += matching
    return SpreadCounts(constraints, counts)


class PodTopologySpread:
    NAME: ClassVar[str] = "PodTopologySpread"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        constraints = constraints_of(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return SKIP
        spread = count_matching(pod, constraints, nodes)
        minimums = [spread.minimum(i) for i in range(len(constraints))]
        self_matches = [1 if c.selector.matches(pod.labels) else 0 for c in constraints]
        state.write(FILTER_KEY, FilterState(spread, minimums, self_matches))
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        prepared: FilterState = state.read(FILTER_KEY)
        spread = prepared.spread
        for i, constraint in enumerate(spread.constraints):
            domain = node.labels.get(constraint.topology_key)
            if domain is None:
                return unresolvable(MISSING_LABEL)
            skew = spread.counts[i].get(domain, 0) + prepared.self_matches[i] - prepared.minimums[i]
            if skew > constraint.max_skew:
                return unschedulable(REASON)
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        constraints = constraints_of(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return SKIP
        state.write(SCORE_KEY, count_matching(pod, constraints, nodes))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        spread: SpreadCounts = state.read(SCORE_KEY)
        total = 0.0
        for i, constraint in enumerate(spread.constraints):
            domain = node.labels.get(constraint.topology_key)
            if domain is None:
                return -1  # ignored: normalised to 0
            # As Kubernetes: more domains weigh more, so spreading over many hosts dominates over zones.
            weight = math.log(len(spread.counts[i]) + 2)
            total += spread.counts[i].get(domain, 0) * weight + constraint.max_skew - 1
        return round(total)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> list[NodeScore]:
        valid = [s.score for s in scores if s.score >= 0]
        lowest, highest = min(valid, default=0), max(valid, default=0)
        out = []
        for s in scores:
            if s.score < 0:
                out.append(NodeScore(s.name, 0))
            elif highest == 0:
                out.append(NodeScore(s.name, MAX_NODE_SCORE))
            else:
                out.append(NodeScore(s.name, MAX_NODE_SCORE * (highest + lowest - s.score) // highest))
        return out

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset(
            {
                ClusterEvent.NODE_ADD,
                ClusterEvent.NODE_LABEL,
                ClusterEvent.POD_ADD,
                ClusterEvent.POD_DELETE,
                ClusterEvent.POD_LABEL,
            }
        )


__all__ = ["PodTopologySpread", "SpreadCounts", "TopologySpreadConstraint", "count_matching"]
