"""Added latency between control-plane replicas, as ``chaos.network.latency`` describes it.

The message body names replicas and a delay, ``{"delay_ms": 50, "jitter_ms": 10, "replicas": ["cp-1"]}``:
every message a replica sends to, or receives from, a named replica is held back by the delay plus or
minus up to the jitter (a delay never goes below zero). The sender holds it back, once, so a message
between two named replicas is not delayed twice. ``chaos.reset`` clears it, as it heals a partition.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.partition import parse_chaos_body
from shared.subjects import token

MAX_DELAY_MS = 60_000
"""A minute: more than that is a partition, and ``chaos.network.partition`` says so better."""


class LatencyError(ValueError):
    """A ``chaos.network.latency`` body that does not describe added latency."""


class LatencySpec(BaseModel):
    """The body of ``chaos.network.latency``: a delay, its jitter and the replicas it applies to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay_ms: float = Field(ge=0, le=MAX_DELAY_MS)
    jitter_ms: float = Field(default=0, ge=0, le=MAX_DELAY_MS)
    replicas: list[str] = Field(min_length=1)

    @field_validator("replicas")
    @classmethod
    def _names_are_tokens(cls, replicas: list[str]) -> list[str]:
        for name in replicas:
            token(name)
        if len(set(replicas)) != len(replicas):
            raise ValueError("a replica is named twice")
        return replicas

    @model_validator(mode="after")
    def _jitter_within_delay(self) -> LatencySpec:
        if self.jitter_ms > self.delay_ms:
            raise ValueError("jitter_ms may not exceed delay_ms")
        return self


def parse_latency(data: bytes) -> LatencySpec:
    """The latency a chaos message body describes; :class:`LatencyError` says why it does not."""
    return parse_chaos_body(LatencySpec, data, LatencyError)


@dataclass
class LatencyState:
    """How long a message between two replicas is held back, now: not at all until :meth:`add`.

    ``uniform`` draws the jitter; tests give a fixed one."""

    uniform: Callable[[float, float], float] = random.uniform
    _spec: LatencySpec | None = field(default=None)

    @property
    def active(self) -> bool:
        return self._spec is not None and self._spec.delay_ms > 0

    @property
    def spec(self) -> LatencySpec | None:
        return self._spec

    def add(self, spec: LatencySpec) -> None:
        """Replace the current latency (a new message is the whole truth, not an addition)."""
        self._spec = spec

    def reset(self) -> None:
        self._spec = None

    def delay(self, sender: str, receiver: str) -> float:
        """Seconds to hold back a message from ``sender`` to ``receiver``; 0 unless one of them is named."""
        spec = self._spec
        if spec is None or sender == receiver or not ({sender, receiver} & set(spec.replicas)):
            return 0.0
        jitter = self.uniform(-spec.jitter_ms, spec.jitter_ms) if spec.jitter_ms else 0.0
        return max(0.0, spec.delay_ms + jitter) / 1000.0
