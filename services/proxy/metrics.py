"""A node proxy's counters and latency histogram, served on ``node.<node>.proxy.stats``."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pydantic import BaseModel

BUCKETS_MS = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0)
"""Upper bounds of the latency buckets in milliseconds; one more bucket counts everything slower."""


class ProxyStats(BaseModel):
    node: str
    requests: int
    local: int
    """Forwarded to an endpoint on this node."""
    remote: int
    errors: int
    """Requests answered with an error: no endpoint, or the endpoint did not answer."""
    retries: int
    """Requests sent to a second endpoint because the first had gone (no responder)."""
    latency_buckets_ms: list[float]
    latency_counts: list[int]
    """Per bucket (not cumulative); the last count is above the last bound."""


@dataclass
class ProxyMetrics:
    node: str
    requests: int = 0
    local: int = 0
    remote: int = 0
    errors: int = 0
    retries: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_MS, seconds * 1000)] += 1

    def snapshot(self) -> ProxyStats:
        return ProxyStats(
            node=self.node,
            requests=self.requests,
            local=self.local,
            remote=self.remote,
            errors=self.errors,
            retries=self.retries,
            latency_buckets_ms=list(BUCKETS_MS),
            latency_counts=list(self.counts),
        )
