"""Steady-state probes as an experiment file writes them: one pydantic model per ``type``.

A probe is a yes/no question about the cluster, asked from outside as a client would ask it;
:mod:`shared.experiments.probes` asks them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _ProbeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def label(self) -> str:
        """A short name for tables and timelines."""
        return str(getattr(self, "type", type(self).__name__))


class EtcdHasLeader(_ProbeSpec):
    """The etcd members agree on a Raft leader."""

    type: Literal["etcd-has-leader"]


class KvWritesSucceed(_ProbeSpec):
    """A write to the store is acknowledged within ``timeout`` seconds."""

    type: Literal["kv-writes-succeed"]
    timeout: float = Field(default=2.0, gt=0)


class ApiAnswers(_ProbeSpec):
    """The API server answers a read (the ``default`` Namespace) within ``timeout`` seconds."""

    type: Literal["api-answers"]
    timeout: float = Field(default=2.0, gt=0)


class LeaderElected(_ProbeSpec):
    """A replica of ``component`` holds its leader Lease and has renewed it within the lease duration."""

    type: Literal["leader-elected"]
    component: Literal["scheduler", "controller-manager"]
    not_held_by: str | None = Field(default=None, pattern=r"^\$[a-z][a-z0-9_]*$")
    """A ``$reference`` to programs an action saved: the leader must be another replica (a failover)."""

    def label(self) -> str:
        other = f" other than {self.not_held_by}" if self.not_held_by else ""
        return f"{self.component} leader elected{other}"


class DeploymentReady(_ProbeSpec):
    """A Deployment has at least ``replicas`` ready replicas; with ``not_on_node``, ready pods on other
    nodes than that one (its replacements ran elsewhere), counted from the pods themselves."""

    type: Literal["deployment-ready"]
    namespace: str = "default"
    name: str
    replicas: int = Field(ge=0)
    not_on_node: str | None = None

    def label(self) -> str:
        elsewhere = f" off {self.not_on_node}" if self.not_on_node else ""
        return f"deployment {self.namespace}/{self.name} ready {self.replicas}{elsewhere}"


class PodReady(_ProbeSpec):
    """A pod is Ready and its containers have restarted at least ``min_restarts`` times in all."""

    type: Literal["pod-ready"]
    namespace: str = "default"
    name: str
    min_restarts: int = Field(default=0, ge=0)

    def label(self) -> str:
        restarted = f" after {self.min_restarts} restarts" if self.min_restarts else ""
        return f"pod {self.namespace}/{self.name} ready{restarted}"


class ServiceAnswers(_ProbeSpec):
    """At least ``ratio`` of ``requests`` Service requests from outside the cluster get an answer."""

    type: Literal["service-answers"]
    namespace: str = "default"
    name: str
    requests: int = Field(default=20, ge=1)
    ratio: float = Field(default=0.99, ge=0, le=1)
    timeout: float = Field(default=1.0, gt=0)

    def label(self) -> str:
        return f"service {self.namespace}/{self.name} answers ≥ {self.ratio:.0%}"


class NodesReady(_ProbeSpec):
    """Every Node is Ready (and, with ``count``, there are at least that many)."""

    type: Literal["nodes-ready"]
    count: int | None = Field(default=None, ge=0)


class ProcessesRunning(_ProbeSpec):
    """supervisord reports every program of the cluster RUNNING."""

    type: Literal["processes-running"]


Probe = Annotated[
    EtcdHasLeader
    | KvWritesSucceed
    | ApiAnswers
    | LeaderElected
    | DeploymentReady
    | PodReady
    | ServiceAnswers
    | NodesReady
    | ProcessesRunning,
    Field(discriminator="type"),
]
