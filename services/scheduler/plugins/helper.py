"""Helpers the score plugins share: Kubernetes' ``DefaultNormalizeScore`` and taint/toleration checks."""

from __future__ import annotations

from collections.abc import Iterable

from services.scheduler.framework import MAX_NODE_SCORE, NodeScore
from shared.models import Taint, Toleration


def default_normalize_score(scores: list[NodeScore], *, reverse: bool) -> list[NodeScore]:
    """Scale scores so the highest is 100 (``reverse``: so the lowest is 100 and the highest 0).

    Worked example: raw [0, 2, 4] → [0, 50, 100]; reversed → [100, 50, 0]. All zero → all 0, or all 100
    when reversed (nobody is worse than anybody else)."""
    highest = max((s.score for s in scores), default=0)
    if highest == 0:
        return [NodeScore(s.name, MAX_NODE_SCORE if reverse else 0) for s in scores]
    out = []
    for s in scores:
        value = MAX_NODE_SCORE * s.score // highest
        out.append(NodeScore(s.name, MAX_NODE_SCORE - value if reverse else value))
    return out


def untolerated_taint(
    taints: Iterable[Taint], tolerations: list[Toleration], effects: frozenset[str]
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates (Kubernetes'
    ``FindMatchingUntoleratedTaint``), or None."""
    for taint in taints:
        if taint.effect in effects and not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None
