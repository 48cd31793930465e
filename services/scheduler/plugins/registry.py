"""The plugin registry: every plugin's name mapped to a factory, and Kubernetes' default profile.

A factory takes the plugin's ``args`` (from the configuration's ``pluginConfig``, already validated) and
a :class:`Handle` to what plugins may use from the scheduler (the API client, for the binder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from services.scheduler.plugins.balancedallocation import NodeResourcesBalancedAllocation
from services.scheduler.plugins.defaultbinder import DefaultBinder
from services.scheduler.plugins.nodeaffinity import NodeAffinity
from services.scheduler.plugins.nodename import NodeName
from services.scheduler.plugins.noderesources import (
    DEFAULT_RESOURCES,
    LEAST_ALLOCATED,
    NodeResourcesFit,
    ResourceSpec,
)
from services.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from services.scheduler.plugins.tainttoleration import TaintToleration
from services.scheduler.plugins.topologyspread import PodTopologySpread
from shared.apiclient import ApiClient


@dataclass(frozen=True)
class Handle:
    """What the scheduler lends its plugins."""

    client: ApiClient | None = None


Factory = Callable[[Mapping[str, Any], Handle], object]


def _resources(args: Mapping[str, Any]) -> tuple[ResourceSpec, ...]:
    given = args.get("resources")
    if not given:
        return DEFAULT_RESOURCES
    return tuple(ResourceSpec(str(r["name"]), int(r.get("weight", 1))) for r in given)


def _fit(args: Mapping[str, Any], handle: Handle) -> object:
    strategy = args.get("scoringStrategy") or {}
    return NodeResourcesFit(str(strategy.get("type") or LEAST_ALLOCATED), _resources(strategy))


REGISTRY: dict[str, Factory] = {
    NodeUnschedulable.NAME: lambda args, handle: NodeUnschedulable(),
    NodeName.NAME: lambda args, handle: NodeName(),
    TaintToleration.NAME: lambda args, handle: TaintToleration(),
    NodeAffinity.NAME: lambda args, handle: NodeAffinity(),
    NodeResourcesFit.NAME: _fit,
    PodTopologySpread.NAME: lambda args, handle: PodTopologySpread(),
    NodeResourcesBalancedAllocation.NAME: lambda args, handle: NodeResourcesBalancedAllocation(
        _resources(args)
    ),
    DefaultBinder.NAME: lambda args, handle: DefaultBinder(handle.client),
}

# Kubernetes' default plugins (``pkg/scheduler/apis/config/v1/default_plugins.go``) that kubenats has, in
# their order: filters run in this order and a node's first rejection is the one reported.
DEFAULT_FILTERS: tuple[str, ...] = (
    NodeUnschedulable.NAME,
    NodeName.NAME,
    TaintToleration.NAME,
    NodeAffinity.NAME,
    NodeResourcesFit.NAME,
    PodTopologySpread.NAME,
)
DEFAULT_SCORE_WEIGHTS: dict[str, int] = {
    TaintToleration.NAME: 3,
    NodeAffinity.NAME: 2,
    NodeResourcesFit.NAME: 1,
    PodTopologySpread.NAME: 2,
    NodeResourcesBalancedAllocation.NAME: 1,
}
DEFAULT_BINDERS: tuple[str, ...] = (DefaultBinder.NAME,)
