"""Probe schedules and results: when each of a container's probes runs and what its outcome means.

Pure, as Kubernetes' prober workers behave (``pkg/kubelet/prober/worker.go``): a probe first runs
``initialDelaySeconds`` after the container started, then every ``periodSeconds``; its result turns to
failure after ``failureThreshold`` failures in a row and to success after ``successThreshold``
successes in a row. Until it has run, readiness reads as not ready, liveness as alive and startup as not
started. Liveness and readiness wait for the startup probe to succeed; the startup probe stops then.
A failed liveness or startup probe means the container is killed and restarted per the restart policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.runtime.api import ProbeKind
from shared.models import Container, Probe


@dataclass(slots=True)
class ProbeState:
    kind: ProbeKind
    probe: Probe
    next_at: float
    successes: int = 0
    failures: int = 0
    result: bool | None = None

    def record(self, success: bool, now: float) -> bool | None:
        """Count one outcome, schedule the next run; returns the new result if it changed, else None."""
        self.next_at = now + max(self.probe.period_seconds, 1)
        if success:
            self.successes, self.failures = self.successes + 1, 0
            flips = self.successes >= max(self.probe.success_threshold, 1) and self.result is not True
        else:
            self.failures, self.successes = self.failures + 1, 0
            flips = self.failures >= max(self.probe.failure_threshold, 1) and self.result is not False
        if flips:
            self.result = success
            return success
        return None


@dataclass(slots=True)
class ContainerProbes:
    """The probes of one running container attempt, created when it starts."""

    probes: dict[ProbeKind, ProbeState] = field(default_factory=dict)

    @classmethod
    def for_container(cls, container: Container, started_at: float) -> ContainerProbes:
        found = {
            ProbeKind.STARTUP: container.startup_probe,
            ProbeKind.LIVENESS: container.liveness_probe,
            ProbeKind.READINESS: container.readiness_probe,
        }
        return cls(
            {
                kind: ProbeState(kind, probe, started_at + probe.initial_delay_seconds)
                for kind, probe in found.items()
                if probe is not None
            }
        )

    @property
    def started(self) -> bool:
        startup = self.probes.get(ProbeKind.STARTUP)
        return startup is None or startup.result is True

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        readiness = self.probes.get(ProbeKind.READINESS)
        return readiness is None or readiness.result is True

    def due(self, now: float) -> list[ProbeKind]:
        """The probes to run now, startup first; liveness and readiness only once started."""
        active = [ProbeKind.STARTUP] if not self.started else [ProbeKind.LIVENESS, ProbeKind.READINESS]
        return [k for k in active if k in self.probes and self.probes[k].next_at <= now]

    def next_due(self) -> float | None:
        active = [ProbeKind.STARTUP] if not self.started else [ProbeKind.LIVENESS, ProbeKind.READINESS]
        times = [self.probes[k].next_at for k in active if k in self.probes]
        return min(times) if times else None

    def record(self, kind: ProbeKind, success: bool, now: float) -> bool:
        """Count an outcome; True when it means the container must be killed (liveness or startup failed)."""
        changed = self.probes[kind].record(success, now)
        return changed is False and kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP)
