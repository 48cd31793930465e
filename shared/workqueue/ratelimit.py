"""Rate limiters for retries, and the rate-limiting work queue controllers use.

After client-go's ``default_rate_limiters.go``: a per-key exponential back-off, an overall token bucket,
and their maximum, which is what ``default_controller_rate_limiter`` builds (5 ms doubling to 1000 s per
key, 10 qps with a burst of 100 overall). A failing key therefore backs off on its own, while many keys
failing at once cannot together retry faster than the bucket allows.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from shared.clock import Clock, RealClock
from shared.workqueue.delaying import DelayingQueue
from shared.workqueue.queue import K

K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class RateLimiter(Protocol[K_contra]):
    def when(self, key: K_contra) -> float:
        """Seconds to wait before retrying ``key``; records the retry, so each call may return more."""
        ...

    def forget(self, key: K_contra) -> None:
        """Stop tracking ``key``: its next retry is treated as its first (call it on success)."""
        ...

    def num_requeues(self, key: K_contra) -> int:
        """How many retries of ``key`` have been recorded since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter(Generic[K]):
    """Per-key back-off: ``base_delay * 2**failures``, capped at ``max_delay``."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError(f"need 0 < base_delay <= max_delay, got {base_delay=} {max_delay=}")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        exponent = self._failures.get(key, 0)
        self._failures[key] = exponent + 1
        # Past 2**1023 the float would overflow; the product saturates to inf, which the cap then clips.
        return min(self.max_delay, self.base_delay * 2.0 ** min(exponent, 1023))

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter(Generic[K]):
    """An overall token bucket: ``burst`` retries at once, then one every ``1/qps`` seconds, for all keys.

    Each call reserves a token even when none is left, as ``golang.org/x/time/rate``'s ``Reserve`` does, so
    the n-th call beyond the burst waits ``n/qps``: concurrent retries are spread out rather than refused.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"need qps > 0 and burst >= 1, got {qps=} {burst=}")
        self.qps = qps
        self.burst = burst
        self._clock: Clock = clock or RealClock()
        self._tokens = float(burst)
        self._last = self._clock.monotonic()

    def when(self, key: K) -> float:
        now = self._clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: K) -> None:
        pass  # the bucket is shared by all keys; a success does not give tokens back

    def num_requeues(self, key: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """Asks every limiter (so each records the retry) and waits for the longest of their delays."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("need at least one rate limiter")
        self.limiters = limiters

    def when(self, key: K) -> float:
        return max([limiter.when(key) for limiter in self.limiters])

    def forget(self, key: K) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(
    *,
    clock: Clock | None = None,
    base_delay: float = 0.005,
    max_delay: float = 1000.0,
    qps: float = 10.0,
    burst: int = 100,
) -> MaxOfRateLimiter[K]:
    """client-go's ``DefaultControllerRateLimiter``: per-key exponential back-off, at least the bucket's."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter[K](base_delay, max_delay),
        BucketRateLimiter[K](qps, burst, clock=clock),
    )


class RateLimitingQueue(DelayingQueue[K]):
    """A :class:`DelayingQueue` that retries keys after a delay chosen by a :class:`RateLimiter`.

    The queue controllers and the scheduler use. Retry with :meth:`add_rate_limited` on failure and call
    :meth:`forget` on success, or the key's back-off keeps growing across unrelated failures.
    """

    def __init__(
        self,
        rate_limiter: RateLimiter[K] | None = None,
        *,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(clock=clock, name=name)
        self.rate_limiter: RateLimiter[K] = rate_limiter or default_controller_rate_limiter(clock=self._clock)

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` after the delay the rate limiter gives for its next retry."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset ``key``'s back-off. It does not remove ``key`` from the queue."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """Retries recorded for ``key`` since it was last forgotten."""
        return self.rate_limiter.num_requeues(key)
