"""Resource lists (``{"cpu": "500m", "memory": "1Gi"}``) and the arithmetic Kubernetes does on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.quantity import Quantity

__all__ = [
    "RESOURCE_CPU",
    "RESOURCE_EPHEMERAL_STORAGE",
    "RESOURCE_MEMORY",
    "RESOURCE_PODS",
    "ResourceList",
    "ResourceRequirements",
    "add_resources",
    "max_resources",
]

RESOURCE_CPU = "cpu"
RESOURCE_MEMORY = "memory"
RESOURCE_EPHEMERAL_STORAGE = "ephemeral-storage"
RESOURCE_PODS = "pods"

ResourceList = dict[str, Quantity]
"""Resource name → amount, as in ``requests``, ``limits``, ``capacity`` and ``allocatable``."""


class ResourceRequirements(KubeModel):
    """A container's (or, with pod-level resources, a pod's) ``requests`` and ``limits``."""

    limits: ResourceList = Field(default_factory=dict)
    requests: ResourceList = Field(default_factory=dict)
    claims: list[dict[str, Any]] = Field(default_factory=list)


def add_resources(total: ResourceList, more: Mapping[str, Quantity]) -> None:
    """Add ``more`` into ``total`` in place (Kubernetes' ``addResourceList``)."""
    for name, amount in more.items():
        total[name] = total[name] + amount if name in total else amount


def max_resources(total: ResourceList, other: Mapping[str, Quantity]) -> None:
    """Raise each entry of ``total`` to at least ``other``'s, in place (Kubernetes' ``maxResourceList``)."""
    for name, amount in other.items():
        if name not in total or amount > total[name]:
            total[name] = amount
