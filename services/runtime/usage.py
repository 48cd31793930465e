"""Resource use of a simulated container as closed-form functions of the time since it started.

Nothing is sampled or stored: CPU use at ``t``, CPU time used over ``[0, t]`` and the working set at ``t``
are computed when asked, so an idle container costs nothing however long it runs, and the moment memory
passes a limit is known in advance (that is when the OOM killer strikes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

SPIKE_FRACTION: Final = 0.1
"""A ``spiky`` pattern spends this share of every period at its peak, the rest at its base."""


class CpuPattern(StrEnum):
    CONSTANT = "constant"
    SINE = "sine"
    SPIKY = "spiky"


@dataclass(frozen=True, slots=True)
class CpuProfile:
    """CPU use in millicores: ``base`` always; ``sine`` swings smoothly up to ``peak`` and back once per
    ``period`` (starting at ``base``); ``spiky`` sits at ``peak`` for the first tenth of every period."""

    base: float
    peak: float
    pattern: CpuPattern = CpuPattern.CONSTANT
    period: float = 60.0

    def capped(self, limit_millis: int) -> CpuProfile:
        """The profile under a CPU limit: throttling holds use at the limit (0 = no limit)."""
        if limit_millis <= 0:
            return self
        return replace(self, base=min(self.base, limit_millis), peak=min(self.peak, limit_millis))

    def at(self, t: float) -> float:
        """Millicores in use ``t`` seconds after start."""
        if t < 0:
            return 0.0
        swing = self.peak - self.base
        if self.pattern is CpuPattern.SINE:
            return self.base + swing * (1 - math.cos(2 * math.pi * t / self.period)) / 2
        if self.pattern is CpuPattern.SPIKY:
            return self.peak if (t % self.period) < SPIKE_FRACTION * self.period else self.base
        return self.base

    def millicore_seconds(self, t: float) -> float:
        """The integral of :meth:`at` over ``[0, t]``; divide by 1000 for CPU seconds."""
        if t <= 0:
            return 0.0
        swing = self.peak - self.base
        if self.pattern is CpuPattern.SINE:
            omega = 2 * math.pi / self.period
            return self.base * t + swing / 2 * (t - math.sin(omega * t) / omega)
        if self.pattern is CpuPattern.SPIKY:
            spike = SPIKE_FRACTION * self.period
            periods, rest = divmod(t, self.period)
            per_period = spike * self.peak + (self.period - spike) * self.base
            partial = min(rest, spike) * self.peak + max(rest - spike, 0.0) * self.base
            return periods * per_period + partial
        return self.base * t


@dataclass(frozen=True, slots=True)
class MemoryProfile:
    """Working set in bytes: ``base`` at start, growing by ``growth`` bytes per second (a leak)."""

    base: int
    growth: float = 0.0

    def at(self, t: float) -> int:
        return self.base + int(self.growth * max(t, 0.0))

    def exceeds_at(self, limit_bytes: int) -> float | None:
        """Seconds after start at which the working set reaches ``limit_bytes`` and grows past it
        (0 = no limit), or None if it never does."""
        if limit_bytes <= 0:
            return None
        if self.base > limit_bytes:
            return 0.0
        if self.growth <= 0:
            return None
        # Growth is continuous: the moment it reaches the limit it is past it.
        return (limit_bytes - self.base) / self.growth
