"""CrashLoopBackOff: how long the kubelet waits before it restarts a container that keeps exiting.

As Kubernetes' kubelet: the first restart after an exit is immediate, each following one waits twice as
long as the last, starting at 10 s and capped at 5 min; a container that ran for 10 min before it exited
starts a new streak. Worked example (scale 1): exits at t=0, 1, 12, 33 → restarts at 0, 11, 32, 73
(delays 0, 10, 20, 40). ``scale`` shrinks every duration for tests (0.1 → 1 s, 2 s, 4 s …).
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_DELAY = 10.0
MAX_DELAY = 300.0
RESET_AFTER = 600.0


@dataclass(frozen=True, slots=True)
class BackOffPolicy:
    scale: float = 1.0
    initial: float = INITIAL_DELAY
    maximum: float = MAX_DELAY
    reset_after: float = RESET_AFTER

    def delay(self, streak: int) -> float:
        """The wait before restart number ``streak`` of a streak (0 = the first restart: no wait)."""
        if streak <= 0:
            return 0.0
        return float(min(self.initial * 2 ** (streak - 1), self.maximum) * self.scale)

    def stable(self, ran_for: float) -> bool:
        """Whether a container that ran this long before exiting has earned a fresh streak."""
        return ran_for >= self.reset_after * self.scale


@dataclass(slots=True)
class BackOff:
    """One container's back-off state: ``exited`` records an exit, ``restart_at`` says when it may run."""

    policy: BackOffPolicy
    streak: int = 0
    finished_at: float | None = None
    delay: float = 0.0

    def exited(self, started_at: float | None, finished_at: float) -> None:
        """Record an exit (the runtime's times, in Unix seconds) and compute the wait before the next
        restart; the same exit seen again changes nothing."""
        if self.finished_at is not None and finished_at <= self.finished_at:
            return  # the same exit seen again
        ran_for = finished_at - started_at if started_at is not None else 0.0
        if self.policy.stable(ran_for):
            self.streak = 0
        self.delay = self.policy.delay(self.streak)
        self.streak += 1
        self.finished_at = finished_at

    def restart_at(self) -> float:
        """When the next restart may happen, in Unix seconds."""
        return (self.finished_at or 0.0) + self.delay

    def waiting(self, now: float) -> bool:
        """True while a restart must wait (the container shows ``CrashLoopBackOff``); ``now`` in Unix
        seconds."""
        return self.finished_at is not None and self.delay > 0 and now < self.restart_at()

    def message(self, container: str, pod: str, namespace: str, uid: str) -> str:
        """Kubernetes' waiting message, e.g.
        ``back-off 20s restarting failed container=web pod=web_default(uid)``."""
        return (
            f"back-off {_seconds(self.delay)} restarting failed container={container} "
            f"pod={pod}_{namespace}({uid})"
        )


def _seconds(delay: float) -> str:
    if delay >= 60 and delay % 60 == 0:
        return f"{int(delay // 60)}m0s"
    return f"{int(delay)}s" if delay == int(delay) else f"{delay:g}s"
