"""The scheduler's configuration file, a subset of Kubernetes' ``KubeSchedulerConfiguration`` (v1)::

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 50          # 0 (default): Kubernetes' adaptive percentage
    profiles:
    - schedulerName: default-scheduler
      plugins:
        filter:   {disabled: [{name: NodeUnschedulable}]}
        score:    {enabled: [{name: NodeResourcesFit, weight: 5}], disabled: [{name: "*"}]}
        multiPoint: {disabled: [{name: PodTopologySpread}]}
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated, resources: [{name: cpu, weight: 1}]}}

As in Kubernetes, ``enabled`` plugins are added to the defaults of that extension point (a weight given
for a default score plugin replaces its default weight), ``disabled`` ones removed from them, ``"*"``
removes all defaults, and ``multiPoint`` applies to every extension point a plugin implements. A plugin
enabled for ``filter`` also runs its ``pre_filter``, one enabled for ``score`` its ``pre_score``. One
profile is supported. Everything is validated when the file is loaded, with errors naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.scheduler.plugins.noderesources import STRATEGIES
from services.scheduler.plugins.registry import (
    DEFAULT_BINDERS,
    DEFAULT_FILTERS,
    DEFAULT_SCORE_WEIGHTS,
    REGISTRY,
)

API_VERSION = "kubescheduler.config.k8s.io/v1"
DEFAULT_SCHEDULER_NAME = "default-scheduler"
EXTENSION_POINTS = ("filter", "score", "bind")
MAX_WEIGHT = 100


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the offending field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PluginRef(_Strict):
    name: str
    weight: int | None = Field(default=None, ge=1, le=MAX_WEIGHT)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name != "*" and name not in REGISTRY:
            raise ValueError(f'unknown plugin "{name}"; known plugins: {", ".join(sorted(REGISTRY))}')
        return name


class PluginSet(_Strict):
    enabled: list[PluginRef] = Field(default_factory=list)
    disabled: list[PluginRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_duplicates(self) -> PluginSet:
        names = [p.name for p in self.enabled]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"plugins enabled more than once: {', '.join(duplicated)}")
        if any(p.name == "*" for p in self.enabled):
            raise ValueError('"*" can only be disabled, not enabled')
        return self


class Plugins(_Strict):
    multi_point: PluginSet = Field(default_factory=PluginSet, alias="multiPoint")
    filter: PluginSet = Field(default_factory=PluginSet)
    score: PluginSet = Field(default_factory=PluginSet)
    bind: PluginSet = Field(default_factory=PluginSet)


class ResourceWeight(_Strict):
    name: str
    weight: int = Field(default=1, ge=1, le=MAX_WEIGHT)


class ScoringStrategy(_Strict):
    type: str = "LeastAllocated"
    resources: list[ResourceWeight] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f'scoring strategy "{value}" is not one of {", ".join(STRATEGIES)}')
        return value


class FitArgs(_Strict):
    scoring_strategy: ScoringStrategy = Field(default_factory=ScoringStrategy, alias="scoringStrategy")


class BalancedArgs(_Strict):
    resources: list[ResourceWeight] = Field(default_factory=list)


ARGS_MODELS: dict[str, type[_Strict]] = {
    "NodeResourcesFit": FitArgs,
    "NodeResourcesBalancedAllocation": BalancedArgs,
}


class PluginConfig(_Strict):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid_args(self) -> PluginConfig:
        if self.name not in REGISTRY:
            raise ValueError(f'unknown plugin "{self.name}"')
        model = ARGS_MODELS.get(self.name)
        if model is None:
            if self.args:
                raise ValueError(f"plugin {self.name} takes no args")
            return self
        model.model_validate(self.args)
        return self


class Profile(_Strict):
    scheduler_name: str = Field(default=DEFAULT_SCHEDULER_NAME, alias="schedulerName", min_length=1)
    plugins: Plugins = Field(default_factory=Plugins)
    plugin_config: list[PluginConfig] = Field(default_factory=list, alias="pluginConfig")


class SchedulerConfiguration(_Strict):
    api_version: Literal["kubescheduler.config.k8s.io/v1"] = Field(
        default="kubescheduler.config.k8s.io/v1", alias="apiVersion"
    )
    kind: Literal["KubeSchedulerConfiguration"] = "KubeSchedulerConfiguration"
    percentage_of_nodes_to_score: int = Field(default=0, ge=0, le=100, alias="percentageOfNodesToScore")
    profiles: list[Profile] = Field(default_factory=lambda: [Profile()], min_length=1, max_length=1)

    @property
    def profile(self) -> Profile:
        return self.profiles[0]


class ResolvedPlugins(BaseModel):
    """The plugins a profile runs, per extension point, in order; scores with their weights."""

    model_config = ConfigDict(frozen=True)

    filter: tuple[str, ...]
    score: tuple[tuple[str, int], ...]
    bind: tuple[str, ...]
    args: dict[str, dict[str, Any]]


def _apply(defaults: list[str], point: PluginSet, multi: PluginSet, implements: set[str]) -> list[str]:
    disabled = {p.name for p in (*point.disabled, *multi.disabled)}
    names = [] if "*" in disabled else [n for n in defaults if n not in disabled]
    for ref in (*multi.enabled, *point.enabled):
        if ref.name in implements and ref.name not in names:
            names.append(ref.name)
    return names


def resolve(config: SchedulerConfiguration) -> ResolvedPlugins:
    """Apply the profile's enable/disable lists to the defaults; ConfigError if a plugin is enabled at an
    extension point it does not implement."""
    from services.scheduler.plugins.registry import Handle

    profile, plugins = config.profile, config.profile.plugins
    instances = {name: factory({}, Handle()) for name, factory in REGISTRY.items()}
    implements = {
        "filter": {n for n, p in instances.items() if hasattr(p, "filter")},
        "score": {n for n, p in instances.items() if hasattr(p, "score")},
        "bind": {n for n, p in instances.items() if hasattr(p, "bind")},
    }
    for point in EXTENSION_POINTS:
        for ref in getattr(plugins, point).enabled:
            if ref.name not in implements[point]:
                raise ConfigError(
                    f"profiles[0].plugins.{point}: plugin {ref.name} does not implement {point}"
                )
    for ref in plugins.filter.enabled + plugins.bind.enabled:
        if ref.weight is not None:
            raise ConfigError(f"profiles[0].plugins: weight given for {ref.name} outside score")
    filters = _apply(list(DEFAULT_FILTERS), plugins.filter, plugins.multi_point, implements["filter"])
    weights = dict(DEFAULT_SCORE_WEIGHTS)
    for ref in (*plugins.multi_point.enabled, *plugins.score.enabled):
        if ref.weight is not None:
            weights[ref.name] = ref.weight
    scores = _apply(list(DEFAULT_SCORE_WEIGHTS), plugins.score, plugins.multi_point, implements["score"])
    binders = _apply(list(DEFAULT_BINDERS), plugins.bind, plugins.multi_point, implements["bind"])
    if not binders:
        raise ConfigError("profiles[0].plugins.bind: at least one bind plugin is required")
    names = [c.name for c in profile.plugin_config]
    if len(names) != len(set(names)):
        raise ConfigError("profiles[0].pluginConfig: a plugin is configured more than once")
    return ResolvedPlugins(
        filter=tuple(filters),
        score=tuple((name, weights.get(name, 1)) for name in scores),
        bind=tuple(binders),
        args={c.name: c.args for c in profile.plugin_config},
    )


def parse_config(document: Any, source: str = "<config>") -> SchedulerConfiguration:
    """Validate a decoded document; ConfigError with one line per problem, each naming its field."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: a KubeSchedulerConfiguration must be a mapping")
    try:
        config = SchedulerConfiguration.model_validate(document)
    except ValidationError as failure:
        problems = []
        for e in failure.errors():
            where = ".".join(str(part) for part in e["loc"]) or "<root>"
            problems.append(f"{where}: {e['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None
    try:
        resolve(config)
    except ConfigError as failure:
        raise ConfigError(f"{source}: {failure}") from None
    return config


def load_config(path: Path | None) -> SchedulerConfiguration:
    """The configuration in ``path`` (YAML), or the defaults when ``path`` is None."""
    if path is None:
        return SchedulerConfiguration()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as failure:
        raise ConfigError(f"{path}: {failure.strerror}") from None
    except yaml.YAMLError as failure:
        raise ConfigError(f"{path}: not valid YAML: {failure}") from None
    return parse_config(document, str(path))
