"""EndpointSlice (discovery.k8s.io/v1): the ready and not-ready pod addresses behind a Service.

A slice names its Service with the label ``kubernetes.io/service-name``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.meta import KubeObject, ObjectReference

__all__ = [
    "LABEL_SERVICE_NAME",
    "Endpoint",
    "EndpointConditions",
    "EndpointPort",
    "EndpointSlice",
]

LABEL_SERVICE_NAME = "kubernetes.io/service-name"


class EndpointConditions(KubeModel):
    """``None`` means unknown; consumers treat an unknown ``ready`` as ready, as Kubernetes does."""

    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class Endpoint(KubeModel):
    addresses: list[str]
    conditions: EndpointConditions = Field(default_factory=EndpointConditions)
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: dict[str, Any] | None = None


class EndpointPort(KubeModel):
    name: str | None = None
    protocol: str | None = "TCP"
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(KubeObject):
    api_version: Literal["discovery.k8s.io/v1"] = "discovery.k8s.io/v1"
    kind: Literal["EndpointSlice"] = "EndpointSlice"
    address_type: str
    endpoints: list[Endpoint] = Field(default_factory=list)
    ports: list[EndpointPort] = Field(default_factory=list)
