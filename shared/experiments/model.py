"""The experiment file: a steady-state hypothesis, background load, a method of faults, rollbacks, thresholds.

An experiment is YAML in ``experiments/``, validated when it is loaded, so a typo fails before any
fault is injected::

    name: etcd-leader-kill
    steady_state:
      probes: [{type: etcd-has-leader}, {type: kv-writes-succeed}]
    method:
      - {type: kill, target: etcd-leader}
    thresholds: {recovery_seconds: 10}

Probes and actions are discriminated by ``type``; their fields are in :mod:`shared.experiments.probe_specs`
and :mod:`shared.experiments.action_specs`. Process targets are supervisord program names
(``cp-2-etcd``), a role resolved when the action runs (``etcd-leader``), or ``$name``: the program an
earlier action resolved and saved with ``save_as: name``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.experiments.action_specs import Action, Partition, ProcessAction
from shared.experiments.probe_specs import Probe

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
Component = Literal[
    "nats", "etcd", "apiserver", "scheduler", "controller-manager", "kubelet", "runtime", "proxy"
]


class ExperimentError(Exception):
    """An experiment file that cannot be read or does not validate; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SteadyState(_Strict):
    """What "healthy" means: every probe passes; checked before the method and again after it."""

    probes: list[Probe] = Field(min_length=1)
    before_timeout: float = Field(
        default=30.0, gt=0, description="how long the cluster may take to be healthy"
    )
    after_timeout: float = Field(
        default=60.0, gt=0, description="how long it may take to heal after the method"
    )
    interval: float = Field(default=0.5, gt=0, description="seconds between probe rounds while watching")


class ServiceLoad(_Strict):
    namespace: str = "default"
    name: str


class PodLoad(_Strict):
    """Bare pods created at a steady rate in a namespace of the run's own, each acknowledgement recorded;
    the audit checks every acknowledged pod exists and measures how long each took to run."""

    rate: float = Field(default=1.0, gt=0, le=20, description="pods created per second")
    max_pods: int = Field(default=30, ge=1, description="no more pods than this in one run")
    image: str = "nginx:1.27"
    start_timeout: float = Field(
        default=30.0, gt=0, description="how long the audit waits for acknowledged pods to run"
    )


class Load(_Strict):
    """Background clients during the experiment; every operation is recorded with its outcome."""

    kv_writers: int = Field(default=2, ge=0)
    kv_readers: int = Field(default=1, ge=0)
    api_clients: int = Field(default=0, ge=0, description="clients reading an object through the API server")
    keys: int = Field(default=4, ge=1, description="registers the writers and readers share")
    rate: float = Field(default=20.0, gt=0, description="operations per second per client")
    op_timeout: float = Field(default=1.0, gt=0, description="a request without a reply by then failed")
    service: ServiceLoad | None = None
    pods: PodLoad | None = Field(default=None, description="pod creation (off unless given)")
    warmup_seconds: float = Field(default=2.0, ge=0, description="load before the first fault")
    cooldown_seconds: float = Field(default=2.0, ge=0, description="load after the steady state is back")


class Setup(_Strict):
    """Objects the experiment needs (a Deployment to crash pods of, a Service to call), created before
    the steady state is checked if they do not exist yet, and deleted after the audit."""

    manifests: list[str] = Field(default_factory=list, description="YAML files, relative to the experiment")
    delete_after: bool = True


class RestartBackoff(_Strict):
    """The kubelet's restart back-off for one pod's containers must grow as Kubernetes' does: the first
    restart at once, then ``base``, 2·``base``, 4·``base`` … capped at ``max``."""

    namespace: str = "default"
    pod: str
    min_restarts: int = Field(default=2, ge=1, description="restarts whose wait must have been measured")
    base_seconds: float | None = Field(
        default=None, gt=0, description="default: 10 s times the kubelet's --backoff-scale in the topology"
    )
    max_seconds: float | None = Field(
        default=None, gt=0, description="default: 300 s times the kubelet's --backoff-scale"
    )
    tolerance_seconds: float = Field(
        default=3.0,
        ge=0,
        description="the kubelet's timestamps are whole seconds and it notices an exit within its relist "
        "period (1 s): allow for both",
    )


class Thresholds(_Strict):
    """Limits the figures must meet; an unset limit is reported but not judged."""

    recovery_seconds: float | None = Field(default=None, ge=0)
    detection_seconds: float | None = Field(default=None, ge=0)
    max_client_errors: int | None = Field(default=None, ge=0)
    max_write_gap_seconds: float | None = Field(default=None, ge=0)
    writes_lost: int = Field(default=0, ge=0, description="acknowledged writes allowed to go missing")
    max_pod_create_errors: int | None = Field(default=None, ge=0)
    pod_startup_p99_seconds: float | None = Field(
        default=None, gt=0, description="from a pod's create request to it being seen Running"
    )
    restart_backoff: RestartBackoff | None = None
    recovery_from: Literal["heal", "fault"] = Field(
        default="heal",
        description="measure recovery from the end of the method's last disruptive action (heal) or from "
        "the fault itself: a failover the cluster performs on its own is measured from the fault",
    )


class Experiment(_Strict):
    name: str
    title: str = ""
    description: str = ""
    requires: list[Component] = Field(
        default_factory=list, description="components the cluster must run, else the experiment is skipped"
    )
    detect_on: list[Literal["etcd", "lease", "node", "pod"]] | None = Field(
        default=None,
        description="timeline sources whose reactions count as detecting the fault (default: any), so a "
        "node flapping elsewhere is not taken for the scheduler noticing its leader died",
    )
    setup: Setup = Setup()
    steady_state: SteadyState
    load: Load = Load()
    method: list[Action] = Field(min_length=1)
    rollbacks: list[Action] = Field(default_factory=list)
    thresholds: Thresholds = Thresholds()

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not NAME.match(name):
            raise ValueError(f"{name!r} is not a name: lowercase letters, digits and '-'")
        return name

    @model_validator(mode="after")
    def _references_are_saved_first(self) -> Experiment:
        saved: set[str] = set()
        for where, actions in (("method", self.method), ("rollbacks", self.rollbacks)):
            for index, action in enumerate(actions):
                for reference in _references(action):
                    if reference[1:] not in saved:
                        raise ValueError(
                            f"{where}[{index}] refers to {reference} before any action saves it (save_as)"
                        )
                if isinstance(action, (ProcessAction, Partition)) and action.save_as:
                    saved.add(action.save_as)
        for index, probe in enumerate(self.steady_state.probes):
            held_by = getattr(probe, "not_held_by", None)
            if held_by is not None and held_by[1:] not in saved:
                raise ValueError(f"steady_state.probes[{index}] refers to {held_by}, which no action saves")
        return self


def _references(action: Action) -> list[str]:
    """The ``$name`` references an action makes, in its targets or in its probe."""
    if isinstance(action, ProcessAction):
        return [target for target in action.targets if target.startswith("$")]
    reference = getattr(getattr(action, "probe", None), "not_held_by", None)
    return [reference] if reference else []


def _location(loc: tuple[int | str, ...]) -> str:
    # Discriminated unions add the tag as a path element ("method.0.kill.target"); keep it, it helps.
    return ".".join(str(part) for part in loc) or "(top level)"


def describe_errors(error: ValidationError) -> str:
    return "\n".join(f"  {_location(e['loc'])}: {e['msg']}" for e in error.errors())


def parse_experiment(data: Any, source: str = "experiment") -> Experiment:
    """An experiment from parsed YAML; ``ExperimentError`` lists every invalid field by its path."""
    if not isinstance(data, dict):
        raise ExperimentError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Experiment.model_validate(data)
    except ValidationError as error:
        raise ExperimentError(f"{source} is not a valid experiment:\n{describe_errors(error)}") from None


def load_experiment(path: Path) -> Experiment:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ExperimentError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ExperimentError(f"{path} is not YAML: {error}") from None
    return parse_experiment(data, str(path))
