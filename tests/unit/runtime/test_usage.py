"""CPU patterns and memory growth: values at a time, CPU time as the integral, when memory passes a limit."""

from __future__ import annotations

import pytest

from services.runtime.usage import CpuPattern, CpuProfile, MemoryProfile

SINE = CpuProfile(base=100, peak=300, pattern=CpuPattern.SINE, period=60)
SPIKY = CpuProfile(base=10, peak=500, pattern=CpuPattern.SPIKY, period=10)
CONSTANT = CpuProfile(base=250, peak=250)


@pytest.mark.parametrize(
    ("profile", "t", "millicores"),
    [
        (CONSTANT, 0, 250),
        (CONSTANT, 1000, 250),
        (SINE, 0, 100),
        (SINE, 15, 200),
        (SINE, 30, 300),
        (SINE, 60, 100),
        (SPIKY, 0, 500),
        (SPIKY, 0.99, 500),
        (SPIKY, 1.0, 10),
        (SPIKY, 9.9, 10),
        (SPIKY, 10.5, 500),
        (SINE, -1, 0),
    ],
)
def test_cpu_use_follows_its_pattern(profile: CpuProfile, t: float, millicores: float) -> None:
    assert profile.at(t) == pytest.approx(millicores)


@pytest.mark.parametrize("profile", [CONSTANT, SINE, SPIKY])
@pytest.mark.parametrize("t", [0.0, 0.5, 7.3, 60.0, 95.25])
def test_cpu_time_is_the_integral_of_cpu_use(profile: CpuProfile, t: float) -> None:
    steps = 20_000
    width = t / steps
    numeric = sum(profile.at((i + 0.5) * width) for i in range(steps)) * width
    assert profile.millicore_seconds(t) == pytest.approx(numeric, rel=1e-3, abs=1e-6)


def test_cpu_limit_caps_base_and_peak() -> None:
    capped = SPIKY.capped(200)
    assert (capped.base, capped.peak) == (10, 200)
    assert SPIKY.capped(0) is SPIKY


@pytest.mark.parametrize(
    ("memory", "limit", "oom_after"),
    [
        (MemoryProfile(base=100, growth=10), 200, 10.0),
        (MemoryProfile(base=100, growth=10), 0, None),
        (MemoryProfile(base=100, growth=0), 200, None),
        (MemoryProfile(base=300, growth=0), 200, 0.0),
        (MemoryProfile(base=200, growth=0), 200, None),
    ],
)
def test_memory_passes_its_limit_when_growth_reaches_it(
    memory: MemoryProfile, limit: int, oom_after: float | None
) -> None:
    assert memory.exceeds_at(limit) == oom_after


def test_memory_grows_linearly_from_its_base() -> None:
    memory = MemoryProfile(base=1000, growth=100)
    assert [memory.at(t) for t in (0, 1, 2.5)] == [1000, 1100, 1250]
