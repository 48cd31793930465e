"""NodeAffinity: ``nodeSelector`` and required node affinity filter nodes by label; preferred node
affinity adds the weights of the terms a node matches to its score."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
from shared.models import NodeSelectorRequirement, NodeSelectorTerm

REASON = "node(s) didn't match Pod's node affinity/selector"
FILTER_KEY = "NodeAffinity/required"
SCORE_KEY = "NodeAffinity/preferred"


def matches_required(pod: PodInfo, node: NodeInfo) -> bool:
    """``nodeSelector`` (every label equal) and required affinity (any term) both hold for ``node``."""
    labels = node.labels
    if any(labels.get(key) != value for key, value in pod.node_selector.items()):
        return False
    required = pod.required_affinity
    return required is None or required.matches(labels, node.name)


LabelTest = Callable[[Mapping[str, str]], bool]
TermTest = Callable[[Mapping[str, str], str], bool]


def requirement_test(requirement: NodeSelectorRequirement) -> LabelTest:
    """``requirement.matches`` as a closure over plain values, for the common operators; Gt, Lt (rare)
    and unknown operators are left to the model's own method."""
    key, values, operator = requirement.key, frozenset(requirement.values), requirement.operator
    if operator == "In":
        return lambda labels: key in labels and labels[key] in values
    if operator == "NotIn":
        return lambda labels: key not in labels or labels[key] not in values
    if operator == "Exists":
        return lambda labels: key in labels
    if operator == "DoesNotExist":
        return lambda labels: key not in labels
    return requirement.matches


def term_test(term: NodeSelectorTerm) -> TermTest:
    """``term.matches(labels, node_name)`` with its requirements compiled (an empty term matches nothing)."""
    if not term.match_expressions and not term.match_fields:
        return lambda labels, name: False
    expressions = tuple(requirement_test(r) for r in term.match_expressions)
    fields = tuple(requirement_test(r) for r in term.match_fields)

    def test(labels: Mapping[str, str], name: str) -> bool:
        if not all(t(labels) for t in expressions):
            return False
        return not fields or all(t({"metadata.name": name}) for t in fields)

    return test


class RequiredMatcher:
    """:func:`matches_required` for one pod, compiled once per cycle: the filter and topology spread's
    domain counting run it on every node, and walking the pydantic selector models there was a large
    share of a cycle's time."""

    __slots__ = ("selector", "terms")

    def __init__(self, pod: PodInfo) -> None:
        self.selector = tuple(pod.node_selector.items())
        required = pod.required_affinity
        self.terms = None if required is None else tuple(term_test(t) for t in required.node_selector_terms)

    def __call__(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.selector:
            if labels.get(key) != value:
                return False
        return self.terms is None or any(test(labels, node.name) for test in self.terms)


def preferred_score(pod: PodInfo, node: NodeInfo) -> int:
    """The sum of the weights of the preferred terms ``node`` matches."""
    return sum(
        term.weight for term in pod.preferred_affinity if term.preference.matches(node.labels, node.name)
    )


class NodeAffinity:
    NAME: ClassVar[str] = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not pod.node_selector and pod.required_affinity is None:
            return SKIP
        state.write(FILTER_KEY, RequiredMatcher(pod))
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        matcher: RequiredMatcher | None = state.get(FILTER_KEY)
        if matcher is None:  # called without pre_filter (as a plugin may be): compile now
            matcher = RequiredMatcher(pod)
        return SUCCESS if matcher(node) else unresolvable(REASON)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not pod.preferred_affinity:
            return SKIP
        state.write(SCORE_KEY, [(t.weight, term_test(t.preference)) for t in pod.preferred_affinity])
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms: list[tuple[int, TermTest]] | None = state.get(SCORE_KEY)
        if terms is None:
            return preferred_score(pod, node)
        labels, name = node.labels, node.name
        return sum(weight for weight, test in terms if test(labels, name))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> list[NodeScore]:
        return default_normalize_score(scores, reverse=False)

    def events_to_register(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_LABEL})
