"""The scheduling framework's contracts: ``Status``, ``CycleState``, the extension points and cluster events.

Shaped after Kubernetes' ``pkg/scheduler/framework/interface.go``. A plugin is a small class with a
``NAME`` that implements only the extension points it needs; the runtime's ``Framework`` calls
them in this order for one pod (a *scheduling cycle*):

``pre_filter`` (once) → ``filter`` (per node, until a plugin says no) → ``pre_score`` (once, feasible
nodes) → ``score`` (per feasible node) → ``normalize_score`` (once, to 0–100) → ``reserve`` (the chosen
node) → ``bind`` (in the background, through the API server).

Everything but ``bind`` is synchronous and must not await: a cycle runs on one consistent view of the
cluster, which nothing else changes while it runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from services.scheduler.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    """What a plugin says about a pod (and a node): Kubernetes' ``framework.Code``."""

    SUCCESS = 0
    ERROR = 1
    """Something went wrong inside the plugin; the pod is retried with back-off."""
    UNSCHEDULABLE = 2
    """The pod does not fit this node now, but could if other pods went away (preemption might help)."""
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The node can never take this pod as it is (labels, taints, name): removing pods would not help."""
    WAIT = 4
    SKIP = 5
    """From ``pre_filter``/``pre_score``: this plugin has nothing to check for this pod; skip it."""


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's answer. ``reasons`` are the phrases of the ``FailedScheduling`` message."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    """The plugin that failed the pod, filled in by the framework."""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def rejected(self) -> bool:
        """Unschedulable, resolvable or not."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return Status(self.code, self.reasons, plugin)


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(message: str) -> Status:
    return Status(Code.ERROR, (message,))


class CycleState:
    """Data one plugin computes for one scheduling cycle (in ``pre_filter``) and reads later in it.

    Keys are plugin-chosen strings, conventionally the plugin's name plus a suffix. The state lives for
    one cycle of one pod; it is never shared between pods.
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value a plugin wrote; KeyError if it did not (a plugin bug, reported as an Error status)."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)


class NodeScore(NamedTuple):
    """One node's score. A named tuple rather than a frozen dataclass: the cycle builds one per feasible
    node and normalising plugin, and a tuple is several times cheaper to create."""

    name: str
    score: int


# --- cluster events: what could make an unschedulable pod schedulable -----------------------------------


class ClusterEvent(enum.Enum):
    """A change in the cluster that may help pods that did not fit; plugins say which ones matter to them
    (Kubernetes' ``EnqueueExtensions``), and the queue moves only the pods such an event could help."""

    NODE_ADD = "NodeAdd"
    NODE_ALLOCATABLE = "NodeAllocatableChange"
    NODE_LABEL = "NodeLabelChange"
    NODE_TAINT = "NodeTaintChange"
    NODE_SCHEDULABLE = "NodeSpecUnschedulableChange"
    POD_DELETE = "AssignedPodDelete"
    """A pod bound to a node went away (deleted, finished, or its bind failed)."""
    POD_ADD = "AssignedPodAdd"
    POD_LABEL = "AssignedPodLabelChange"


ALL_EVENTS = frozenset(ClusterEvent)


def node_update_events(old: NodeInfo | None, new: NodeInfo) -> frozenset[ClusterEvent]:
    """The events a node change amounts to (none if nothing the scheduler looks at changed)."""
    if old is None:
        return frozenset({ClusterEvent.NODE_ADD})
    events = set()
    if old.allocatable != new.allocatable:
        events.add(ClusterEvent.NODE_ALLOCATABLE)
    if old.labels != new.labels:
        events.add(ClusterEvent.NODE_LABEL)
    if old.taints != new.taints:
        events.add(ClusterEvent.NODE_TAINT)
    if old.unschedulable != new.unschedulable:
        events.add(ClusterEvent.NODE_SCHEDULABLE)
    return frozenset(events)


# --- the extension points ------------------------------------------------------------------------------


class Plugin(Protocol):
    NAME: ClassVar[str]


@runtime_checkable
class PreFilterPlugin(Protocol):
    NAME: ClassVar[str]

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        """Check the pod once and compute what ``filter`` needs; ``SKIP`` turns this plugin's filter off
        for the cycle, a rejection fails the pod on every node."""
        ...


@runtime_checkable
class FilterPlugin(Protocol):
    NAME: ClassVar[str]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Whether ``node`` can run ``pod``; a rejection's reasons go into the FailedScheduling message."""
        ...


@runtime_checkable
class PreScorePlugin(Protocol):
    NAME: ClassVar[str]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        """Prepare scoring over the feasible ``nodes``; ``SKIP`` leaves this plugin out of the cycle."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    NAME: ClassVar[str]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """A raw score for ``node``; plugins without ``normalize_score`` must return 0–100."""
        ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    NAME: ClassVar[str]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> list[NodeScore]:
        """Map the raw scores of all feasible nodes to 0–100: one score per node, in the order given."""
        ...


@runtime_checkable
class ReservePlugin(Protocol):
    NAME: ClassVar[str]

    def reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status:
        """Claim what the pod needs on ``node`` before binding; undone by ``unreserve`` if binding fails."""
        ...

    def unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None: ...


@runtime_checkable
class BindPlugin(Protocol):
    NAME: ClassVar[str]

    async def bind(self, pod: PodInfo, node: str) -> Status:
        """Make the decision durable (the API server's ``pods/binding``); ``SKIP`` passes to the next."""
        ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    def events_to_register(self) -> frozenset[ClusterEvent]:
        """The events after which a pod this plugin rejected may fit."""
        ...


@dataclass
class Diagnosis:
    """Why a pod fits nowhere: each rejected node's status, and the plugins that rejected it."""

    node_statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_status: Status | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)

    def plugins(self) -> Iterable[str]:
        return sorted(self.unschedulable_plugins)
