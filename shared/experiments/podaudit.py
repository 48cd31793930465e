"""The pods of the pod-creation load: what was acknowledged, what was seen of them, and the audit of both.

Every pod create the API server acknowledged is a :class:`PodAck` (its name, the uid it was given, when
the request left and when the reply came, on the run's monotonic clock). The load looks at its namespace
every half second and keeps, per pod, when it was first seen bound to a node and first seen ``Running``
(:func:`observe`); the start-up latency of a pod is from its create request to that sighting, so it is
known to the look interval. The audit (:func:`audit_pods`): every acknowledged pod must still exist with
the uid it was acknowledged with — a pod gone, or replaced by another of the same name, is **lost** — and
every one should have run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.experiments.figures import percentile

EXAMPLES = 10


class PodAck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    uid: str
    sent_at: float
    acked_at: float


@dataclass
class PodSeen:
    """What the load saw of one pod: its uid, and when it was first seen scheduled and Running."""

    uid: str
    scheduled_at: float | None = None
    running_at: float | None = None


def observe(seen: dict[str, PodSeen], pods: Sequence[Mapping[str, Any]], now: float) -> None:
    """Fold one listing of the namespace, taken at ``now``, into ``seen``; a pod that comes back with
    another uid is another pod, seen afresh."""
    for pod in pods:
        meta = pod.get("metadata", {})
        name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
        mine = seen.get(name)
        if mine is None or mine.uid != uid:
            mine = seen[name] = PodSeen(uid=uid)
        if mine.scheduled_at is None and pod.get("spec", {}).get("nodeName"):
            mine.scheduled_at = now
        if mine.running_at is None and pod.get("status", {}).get("phase") == "Running":
            mine.running_at = now


def all_running(acks: Sequence[PodAck], seen: Mapping[str, PodSeen]) -> bool:
    return all((s := seen.get(a.name)) is not None and s.uid == a.uid and s.running_at for a in acks)


class PodAudit(BaseModel):
    """The audit of the pod-creation load; latencies in seconds from the create request."""

    namespace: str
    acknowledged: int
    lost: int
    lost_examples: list[str] = []
    not_running: int
    not_running_examples: list[str] = []
    scheduled_p50: float | None = None
    scheduled_p99: float | None = None
    running_p50: float | None = None
    running_p99: float | None = None
    startups: list[tuple[float, float]] = []
    """(create request sent, seconds until seen Running) per pod that ran; times relative to the fault."""


def _quantiles(values: Sequence[float]) -> tuple[float | None, float | None]:
    return (percentile(values, 0.5), percentile(values, 0.99)) if values else (None, None)


def audit_pods(
    namespace: str,
    acks: Sequence[PodAck],
    seen: Mapping[str, PodSeen],
    present: Mapping[str, str],
    origin: float = 0.0,
) -> PodAudit:
    """Judge ``acks`` against ``present`` (name → uid, read after the run) and ``seen``; ``origin`` is the
    fault's time, for the start-up samples."""
    lost, not_running = [], []
    scheduled, running, startups = [], [], []
    for ack in acks:
        uid = present.get(ack.name)
        if uid is None:
            lost.append(f"{ack.name} (uid {ack.uid}) is gone")
            continue
        if uid != ack.uid:
            lost.append(f"{ack.name} was acknowledged as uid {ack.uid}, now has uid {uid}")
            continue
        mine = seen.get(ack.name)
        if mine is None or mine.uid != ack.uid or mine.running_at is None:
            not_running.append(ack.name)
        else:
            running.append(mine.running_at - ack.sent_at)
            startups.append((ack.sent_at - origin, mine.running_at - ack.sent_at))
        if mine is not None and mine.uid == ack.uid and mine.scheduled_at is not None:
            scheduled.append(mine.scheduled_at - ack.sent_at)
    scheduled_p50, scheduled_p99 = _quantiles(scheduled)
    running_p50, running_p99 = _quantiles(running)
    return PodAudit(
        namespace=namespace,
        acknowledged=len(acks),
        lost=len(lost),
        lost_examples=lost[:EXAMPLES],
        not_running=len(not_running),
        not_running_examples=not_running[:EXAMPLES],
        scheduled_p50=scheduled_p50,
        scheduled_p99=scheduled_p99,
        running_p50=running_p50,
        running_p99=running_p99,
        startups=startups,
    )
