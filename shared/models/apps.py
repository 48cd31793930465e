"""Deployment and ReplicaSet (apps/v1), with their status.

Unset fields read as Kubernetes' defaults (``replicas`` 1, strategy ``RollingUpdate`` with ``maxSurge`` and
``maxUnavailable`` of ``"25%"``, ``revisionHistoryLimit`` 10, ``progressDeadlineSeconds`` 600) and are
written out only once set. Resolve ``maxSurge``/``maxUnavailable`` with
``scaled_value_from_int_or_percent`` (surge rounds up, unavailable rounds down).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.intstr import IntOrString
from shared.models.meta import KubeObject, LabelSelector
from shared.models.pod import PodTemplateSpec
from shared.models.timestamps import Time

__all__ = [
    "Deployment",
    "DeploymentCondition",
    "DeploymentSpec",
    "DeploymentStatus",
    "DeploymentStrategy",
    "ReplicaSet",
    "ReplicaSetCondition",
    "ReplicaSetSpec",
    "ReplicaSetStatus",
    "RollingUpdateDeployment",
]


class RollingUpdateDeployment(KubeModel):
    max_unavailable: IntOrString = "25%"
    max_surge: IntOrString = "25%"


class DeploymentStrategy(KubeModel):
    """``Recreate`` or ``RollingUpdate``; ``rollingUpdate`` applies to the latter only."""

    type: str = "RollingUpdate"
    rolling_update: RollingUpdateDeployment = Field(default_factory=RollingUpdateDeployment)


class DeploymentSpec(KubeModel):
    """``selector`` is required by the API server's validation, not by this model."""

    replicas: int = 1
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)
    min_ready_seconds: int = 0
    revision_history_limit: int | None = 10
    paused: bool = False
    progress_deadline_seconds: int | None = 600


class DeploymentCondition(KubeModel):
    """``Available``, ``Progressing`` or ``ReplicaFailure``."""

    type: str
    status: str
    last_update_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str = ""
    message: str = ""


class DeploymentStatus(KubeModel):
    observed_generation: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    terminating_replicas: int | None = None
    conditions: list[DeploymentCondition] = Field(default_factory=list)
    collision_count: int | None = None


class Deployment(KubeObject):
    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)


class ReplicaSetSpec(KubeModel):
    replicas: int = 1
    min_ready_seconds: int = 0
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)


class ReplicaSetCondition(KubeModel):
    type: str
    status: str
    last_transition_time: Time | None = None
    reason: str = ""
    message: str = ""


class ReplicaSetStatus(KubeModel):
    replicas: int = 0
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    terminating_replicas: int | None = None
    observed_generation: int = 0
    conditions: list[ReplicaSetCondition] = Field(default_factory=list)


class ReplicaSet(KubeObject):
    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["ReplicaSet"] = "ReplicaSet"
    spec: ReplicaSetSpec = Field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus = Field(default_factory=ReplicaSetStatus)
