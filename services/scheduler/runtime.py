"""The framework runtime: runs a profile's plugins over the nodes for one pod and picks the node.

One call of :meth:`Framework.schedule` is one scheduling cycle (Kubernetes' ``schedulePod``): pre-filter,
filter the nodes — starting where the previous cycle stopped, and stopping once enough feasible nodes are
found (``percentageOfNodesToScore``) — then score, normalise, weight, sum and take the best node, ties
broken at random with the injected generator. A pod that fits nowhere raises :class:`FitError`, whose
message has Kubernetes' shape.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.scheduler.config import ResolvedPlugins, SchedulerConfiguration, resolve
from services.scheduler.framework import (
    ALL_EVENTS,
    SUCCESS,
    BindPlugin,
    ClusterEvent,
    Code,
    CycleState,
    Diagnosis,
    EnqueueExtensions,
    FilterPlugin,
    NodeScore,
    NormalizeScorePlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ReservePlugin,
    ScorePlugin,
    Status,
    error,
)
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from services.scheduler.plugins.registry import REGISTRY, Handle

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5
NO_NODES = "no nodes available to schedule pods"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def nodes_to_find(all_nodes: int, percentage: int) -> int:
    """How many feasible nodes to look for before scoring (Kubernetes' ``numFeasibleNodesToFind``):
    all of them below 100 nodes; else ``percentage`` of them (0: 50 % minus 1 % per 125 nodes, at least
    5 %), but never fewer than 100. Worked example: 1,000 nodes, adaptive → 42 % → 420."""
    if all_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return all_nodes
    if percentage == 0:
        percentage = max(50 - all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    return max(all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class FitError(Exception):
    """No node can take the pod. ``str()`` is the ``FailedScheduling`` message."""

    def __init__(self, pod: PodInfo, all_nodes: int, diagnosis: Diagnosis) -> None:
        self.pod = pod
        self.all_nodes = all_nodes
        self.diagnosis = diagnosis
        super().__init__(fit_error_message(all_nodes, diagnosis))


def _histogram(phrases: Sequence[Sequence[str]]) -> str:
    """``"2 Insufficient cpu, 3 node(s) were unschedulable"``: each phrase counted once per node."""
    counts: Counter[str] = Counter()
    for reasons in phrases:
        counts.update(reasons)
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))


def fit_error_message(all_nodes: int, diagnosis: Diagnosis) -> str:
    """``0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {k: v}.
    preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is
    not helpful for scheduling.`` — reasons counted over nodes and sorted as strings, as Kubernetes does.

    kubenats does not preempt, so the preemption part says what Kubernetes' DefaultPreemption says when it
    finds no victims: a node rejected for good (unresolvable) is "not helpful", any other finds none."""
    if all_nodes == 0:
        return NO_NODES
    head = f"0/{all_nodes} nodes are available:"
    statuses = list(diagnosis.node_statuses.values())
    if diagnosis.pre_filter_status is not None:
        message = f"{head} {diagnosis.pre_filter_status.message()}."
    else:
        message = f"{head} {_histogram([s.reasons for s in statuses])}."
    preemption = [
        (NOT_HELPFUL,) if s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE else (NO_VICTIMS,) for s in statuses
    ]
    return f"{message} preemption: {head} {_histogram(preemption)}."


@dataclass(frozen=True)
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


class Framework:
    """A profile's plugins, by extension point, and the cycle that runs them."""

    def __init__(
        self,
        plugins: Sequence[object],
        filters: Sequence[str],
        scores: Sequence[tuple[str, int]],
        binders: Sequence[str],
        *,
        percentage_of_nodes_to_score: int = 0,
        rng: random.Random | None = None,
        scheduler_name: str = "default-scheduler",
    ) -> None:
        by_name: dict[str, Any] = {type(p).NAME: p for p in plugins}  # type: ignore[attr-defined]
        self.plugins = by_name
        self.filters: list[FilterPlugin] = [by_name[n] for n in filters]
        self.pre_filters = [p for p in self.filters if isinstance(p, PreFilterPlugin)]
        self.scores: list[tuple[ScorePlugin, int]] = [(by_name[n], w) for n, w in scores]
        self.pre_scores = [p for p, _ in self.scores if isinstance(p, PreScorePlugin)]
        # Whether each scorer normalises, decided once here rather than by a protocol check per cycle.
        self._scorers = [(p, w, isinstance(p, NormalizeScorePlugin)) for p, w in self.scores]
        self.binders: list[BindPlugin] = [by_name[n] for n in binders]
        used = sorted({*filters, *(n for n, _ in scores)})
        self.reserves: list[ReservePlugin] = [
            by_name[n] for n in used if isinstance(by_name[n], ReservePlugin)
        ]
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.scheduler_name = scheduler_name
        self.next_start = 0

    @classmethod
    def from_config(
        cls, config: SchedulerConfiguration, handle: Handle, rng: random.Random | None = None
    ) -> Framework:
        resolved: ResolvedPlugins = resolve(config)
        names = {*resolved.filter, *(n for n, _ in resolved.score), *resolved.bind}
        plugins = [REGISTRY[name](resolved.args.get(name, {}), handle) for name in sorted(names)]
        return cls(
            plugins,
            resolved.filter,
            resolved.score,
            resolved.bind,
            percentage_of_nodes_to_score=config.percentage_of_nodes_to_score,
            rng=rng,
            scheduler_name=config.profile.scheduler_name,
        )

    def events_for(self, plugin_names: set[str]) -> frozenset[ClusterEvent]:
        """The events that may help a pod the named plugins rejected (all events if unknown)."""
        events: set[ClusterEvent] = set()
        for name in plugin_names:
            plugin = self.plugins.get(name)
            if not isinstance(plugin, EnqueueExtensions):
                return ALL_EVENTS
            events |= plugin.events_to_register()
        return frozenset(events) if events else ALL_EVENTS

    # --- one scheduling cycle ------------------------------------------------------------------------

    def schedule(
        self, pod: PodInfo, nodes: Sequence[NodeInfo], state: CycleState | None = None
    ) -> ScheduleResult:
        state = state or CycleState()
        if not nodes:
            raise FitError(pod, 0, Diagnosis())
        feasible, diagnosis = self.find_feasible(state, pod, nodes)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_statuses)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self.prioritize(state, pod, feasible)
        return ScheduleResult(self.select_host(totals), evaluated, len(feasible))

    def run_pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        for plugin in self.pre_filters:
            status = plugin.pre_filter(state, pod, nodes)
            if status.code is Code.SKIP:
                state.skip_filter.add(plugin.NAME)
            elif not status.ok:
                return status.with_plugin(plugin.NAME)
        return SUCCESS

    def run_filter(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, filters: Sequence[FilterPlugin]
    ) -> Status:
        for plugin in filters:
            try:
                status = plugin.filter(state, pod, node)
            except Exception as failure:  # a plugin bug fails this pod's cycle, not the scheduler
                return error(f"{plugin.NAME}: {failure!r}").with_plugin(plugin.NAME)
            # Hot path (every filter on every node): plugins answer with the shared SUCCESS, so an identity
            # test settles most calls before the ``ok`` property is looked at.
            if status is not SUCCESS and status.code is not Code.SUCCESS:
                return status.with_plugin(plugin.NAME)
        return SUCCESS

    def find_feasible(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        status = self.run_pre_filter(state, pod, nodes)
        if not status.ok:
            if status.code is Code.ERROR:
                raise RuntimeError(status.message())
            diagnosis.pre_filter_status = status
            diagnosis.node_statuses = {node.name: status for node in nodes}
            diagnosis.unschedulable_plugins.add(status.plugin)
            return [], diagnosis
        filters = [p for p in self.filters if p.NAME not in state.skip_filter]
        wanted = nodes_to_find(len(nodes), self.percentage)
        feasible: list[NodeInfo] = []
        count, start, processed = len(nodes), self.next_start % len(nodes), 0
        for offset in range(count):
            node = nodes[(start + offset) % count]
            processed += 1
            status = self.run_filter(state, pod, node, filters)
            if status is SUCCESS:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            elif status.code is Code.ERROR:
                raise RuntimeError(status.message())
            else:
                diagnosis.node_statuses[node.name] = status
                diagnosis.unschedulable_plugins.add(status.plugin)
        # The next pod starts where this one stopped, so every node gets its turn (Kubernetes does this).
        self.next_start = (start + processed) % count
        return feasible, diagnosis

    def prioritize(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[NodeScore]:
        """Each node's weighted sum of the normalised scores of every score plugin."""
        for plugin in self.pre_scores:
            if plugin.pre_score(state, pod, nodes).code is Code.SKIP:
                state.skip_score.add(plugin.NAME)
        # Scores are kept as plain ints in node order: NodeScore objects are built only for the plugins
        # that normalise (their contract takes them) and once for the totals, not per plugin and node.
        totals = [0] * len(nodes)
        for scorer, weight, normalizes in self._scorers:
            if scorer.NAME in state.skip_score:
                continue
            score = scorer.score
            raw = [score(state, pod, node) for node in nodes]
            if normalizes:
                named = [NodeScore(node.name, value) for node, value in zip(nodes, raw, strict=True)]
                normalized = scorer.normalize_score(state, pod, named)  # type: ignore[attr-defined]
                raw = [s.score for s in normalized]
            for i, value in enumerate(raw):
                totals[i] += value * weight
        return [NodeScore(node.name, total) for node, total in zip(nodes, totals, strict=True)]

    def select_host(self, scores: Sequence[NodeScore]) -> str:
        """The highest total; among equals each is equally likely (reservoir sampling, as Kubernetes)."""
        best, ties, chosen = scores[0].score, 1, scores[0].name
        for s in scores[1:]:
            if s.score > best:
                best, ties, chosen = s.score, 1, s.name
            elif s.score == best:
                ties += 1
                if self.rng.randrange(ties) == 0:
                    chosen = s.name
        return chosen

    # --- after the decision ----------------------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status:
        for plugin in self.reserves:
            status = plugin.reserve(state, pod, node)
            if not status.ok:
                self.run_unreserve(state, pod, node)
                return status.with_plugin(plugin.NAME)
        return SUCCESS

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in reversed(self.reserves):
            plugin.unreserve(state, pod, node)

    async def run_bind(self, pod: PodInfo, node: str) -> Status:
        for plugin in self.binders:
            status = await plugin.bind(pod, node)
            if status.code is not Code.SKIP:
                return status.with_plugin(plugin.NAME)
        return error("no bind plugin bound the pod")


def describe(framework: Framework) -> dict[str, Any]:
    """The plugins per extension point, for the start-up log line."""
    return {
        "filters": ",".join(p.NAME for p in framework.filters),
        "scores": ",".join(f"{p.NAME}:{w}" for p, w in framework.scores),
        "percentage": framework.percentage,
    }
