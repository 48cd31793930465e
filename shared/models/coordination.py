"""Lease (coordination.k8s.io/v1): the object behind leader election and node heartbeats.

``acquireTime`` and ``renewTime`` are ``MicroTime`` (microsecond precision), as in Kubernetes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.meta import KubeObject
from shared.models.timestamps import MicroTime

__all__ = ["Lease", "LeaseSpec"]


class LeaseSpec(KubeModel):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: MicroTime | None = None
    renew_time: MicroTime | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(KubeObject):
    api_version: Literal["coordination.k8s.io/v1"] = "coordination.k8s.io/v1"
    kind: Literal["Lease"] = "Lease"
    spec: LeaseSpec = Field(default_factory=LeaseSpec)
