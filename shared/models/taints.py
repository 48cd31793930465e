"""Taints (on nodes) and tolerations (on pods), with Kubernetes' matching rule."""

from __future__ import annotations

from collections.abc import Iterable

from shared.models.base import KubeModel
from shared.models.timestamps import Time

__all__ = [
    "TAINT_EFFECT_NO_EXECUTE",
    "TAINT_EFFECT_NO_SCHEDULE",
    "TAINT_EFFECT_PREFER_NO_SCHEDULE",
    "Taint",
    "Toleration",
    "tolerations_tolerate_taint",
]

TAINT_EFFECT_NO_SCHEDULE = "NoSchedule"
TAINT_EFFECT_PREFER_NO_SCHEDULE = "PreferNoSchedule"
TAINT_EFFECT_NO_EXECUTE = "NoExecute"


class Taint(KubeModel):
    key: str
    effect: str
    value: str = ""
    time_added: Time | None = None


class Toleration(KubeModel):
    """An empty ``key`` with ``operator: Exists`` tolerates everything; an empty ``effect`` matches all."""

    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ``ToleratesTaint``: effect and key must agree where set, then the operator decides."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return self.operator == "Exists"


def tolerations_tolerate_taint(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    return any(toleration.tolerates(taint) for toleration in tolerations)
