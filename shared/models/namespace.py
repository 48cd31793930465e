"""Namespace (core/v1): a name scope with a lifecycle phase (``Active`` or ``Terminating``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.meta import KubeObject
from shared.models.timestamps import Time

__all__ = ["Namespace", "NamespaceCondition", "NamespaceSpec", "NamespaceStatus"]


class NamespaceSpec(KubeModel):
    finalizers: list[str] = Field(default_factory=list)


class NamespaceCondition(KubeModel):
    type: str
    status: str
    last_transition_time: Time | None = None
    reason: str = ""
    message: str = ""


class NamespaceStatus(KubeModel):
    phase: str = ""
    conditions: list[NamespaceCondition] = Field(default_factory=list)


class Namespace(KubeObject):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Namespace"] = "Namespace"
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)
