"""One simulated container: its life computed from its behaviour and the time it is asked about.

A container never runs a timer. Starting it fixes when it will end by itself (``exit-after``, or the
moment its memory reaches its limit); a stop or a kill can only bring that end earlier. Whoever asks
about it passes ``now``, and the state, usage, probes and logs at ``now`` follow from those few times.
Those times are on the core's clock; what it reports (statuses, stats, log lines) is stamped in Unix
nanoseconds through the core's timeline.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from services.runtime.api import (
    EXIT_CODE_SIGKILL,
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    LogLine,
    ProbeKind,
    ProbeReply,
)
from services.runtime.behaviour import Behaviour, ServeMode
from services.runtime.timeline import Timeline
from shared.errors import conflict

REASON_COMPLETED = "Completed"
REASON_ERROR = "Error"
REASON_OOM = "OOMKilled"


@dataclass(frozen=True, slots=True)
class Finish:
    """How and when a container ends."""

    at: float
    exit_code: int
    reason: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A simulated application's answer to one request on its port."""

    delay: float = 0.0
    """Seconds until the answer."""
    refused: str = ""
    """Non-empty: nothing listens (not running, still starting, serving off); the reason."""
    failed: bool = False
    """The application answers with an error (``serve-error-rate``)."""
    body: bytes | None = None
    """The answer's body; None = echo the request."""


def exit_reason(exit_code: int) -> str:
    return REASON_COMPLETED if exit_code == 0 else REASON_ERROR


class SimContainer:
    def __init__(
        self,
        container_id: str,
        sandbox_id: str,
        config: ContainerConfig,
        behaviour: Behaviour,
        created_at: float,
        log_capacity: int,
        timeline: Timeline,
    ) -> None:
        self.id = container_id
        self.sandbox_id = sandbox_id
        self.config = config
        self.behaviour = behaviour
        self.timeline = timeline
        self.created_at = created_at
        self.started_at: float | None = None
        self.finish: Finish | None = None
        self._cpu = behaviour.cpu.capped(config.resources.cpu_limit_millis)
        self._logs: deque[LogLine] = deque(maxlen=log_capacity)
        self._logged_until = -math.inf
        self._next_tick = 1

    # --- transitions ---------------------------------------------------------------------------

    def start(self, now: float) -> None:
        if self.started_at is not None or self.finish is not None:
            raise conflict(f"container {self.id} was already started", id=self.id)
        self.started_at = now
        self.finish = self._own_end(now)

    def _own_end(self, started: float) -> Finish | None:
        """The end it comes to by itself: its exit, or the OOM killer, whichever is first."""
        ends: list[Finish] = []
        if self.behaviour.exit_after is not None:
            code = self.behaviour.exit_code
            ends.append(Finish(started + self.behaviour.exit_after, code, exit_reason(code)))
        oom_after = self.behaviour.memory.exceeds_at(self.config.resources.memory_limit_bytes)
        if oom_after is not None:
            limit = self.config.resources.memory_limit_bytes
            message = f"memory use reached its limit of {limit} bytes"
            ends.append(Finish(started + oom_after, EXIT_CODE_SIGKILL, REASON_OOM, message))
        return min(ends, key=lambda end: end.at, default=None)

    def stop(self, now: float, timeout: float) -> float:
        """SIGTERM now, SIGKILL at ``now + timeout`` (at once for 0); returns when it will have exited."""
        if self.started_at is None:
            self.finish = self.finish or Finish(now, EXIT_CODE_SIGKILL, REASON_ERROR, "stopped before start")
            return self.finish.at
        if self.finish is not None and self.finish.at <= now:
            return self.finish.at
        shutdown = self.behaviour.shutdown
        if timeout > 0 and shutdown is not None and shutdown <= timeout:
            candidate = Finish(now + shutdown, 0, REASON_COMPLETED, "stopped")
        else:
            candidate = Finish(now + timeout, EXIT_CODE_SIGKILL, REASON_ERROR, "killed")
        if self.finish is None or candidate.at < self.finish.at:
            self.finish = candidate
        return self.finish.at

    # --- what it looks like at `now` -----------------------------------------------------------

    def state(self, now: float) -> ContainerState:
        if self.started_at is None:
            return ContainerState.EXITED if self.finish is not None else ContainerState.CREATED
        if self.finish is not None and self.finish.at <= now:
            return ContainerState.EXITED
        return ContainerState.RUNNING

    def status(self, now: float) -> ContainerStatus:
        state = self.state(now)
        ended = self.finish if state is ContainerState.EXITED else None
        unix = self.timeline.unix_nanos
        return ContainerStatus(
            id=self.id,
            pod_sandbox_id=self.sandbox_id,
            name=self.config.name,
            image=self.config.image,
            attempt=self.config.attempt,
            state=state,
            created_at=unix(self.created_at),
            started_at=unix(self.started_at) if self.started_at is not None else None,
            finished_at=unix(ended.at) if ended else None,
            exit_code=ended.exit_code if ended else None,
            reason=ended.reason if ended else "",
            message=ended.message if ended else "",
        )

    def _running_for(self, now: float) -> float:
        """Seconds it has run by ``now`` (stopping at its end)."""
        if self.started_at is None:
            return 0.0
        end = min(now, self.finish.at) if self.finish else now
        return max(end - self.started_at, 0.0)

    def stats(self, now: float) -> ContainerStats:
        running = self.state(now) is ContainerState.RUNNING
        elapsed = self._running_for(now)
        return ContainerStats(
            id=self.id,
            name=self.config.name,
            pod_sandbox_id=self.sandbox_id,
            timestamp=self.timeline.unix_nanos(now),
            cpu_millis=self._cpu.at(elapsed) if running else 0.0,
            cpu_seconds_total=self._cpu.millicore_seconds(elapsed) / 1000,
            memory_bytes=self.behaviour.memory.at(elapsed) if running else 0,
        )

    def probe(self, kind: ProbeKind, now: float) -> ProbeReply:
        state = self.state(now)
        if state is not ContainerState.RUNNING or self.started_at is None:
            return ProbeReply(success=False, message=f"container is {state.value.lower()}")
        up_at = self.started_at + self.behaviour.startup
        if now < up_at:
            return ProbeReply(success=False, message=f"starting: up in {up_at - now:.3g}s")
        if kind is ProbeKind.READINESS and now < up_at + self.behaviour.ready_delay:
            return ProbeReply(success=False, message="not ready yet (ready-delay)")
        failing_from = self.behaviour.liveness_fail_after
        if kind is ProbeKind.LIVENESS and failing_from is not None and now >= self.started_at + failing_from:
            return ProbeReply(success=False, message="liveness check failing (liveness-fail-after)")
        return ProbeReply(success=True)

    def answer(self, now: float, draw: float, spread: float) -> Answer:
        """How it answers a request arriving at ``now``; ``draw`` and ``spread`` are uniform in [0, 1)
        (the error coin and the jitter), passed in so the decision stays a pure function."""
        serve = self.behaviour.serve
        state = self.state(now)
        if state is not ContainerState.RUNNING or self.started_at is None or serve.mode is ServeMode.OFF:
            return Answer(refused="connection refused: container is not running or not listening")
        if now < self.started_at + self.behaviour.startup:
            return Answer(refused="connection refused: the application is still starting")
        delay = serve.latency + serve.jitter * spread
        if draw < serve.error_rate:
            return Answer(delay=delay, failed=True)
        return Answer(delay=delay, body=serve.body.encode() if serve.mode is ServeMode.FIXED else None)

    # --- logs ----------------------------------------------------------------------------------

    def logs(self, now: float, tail_lines: int | None = None, since: int | None = None) -> list[LogLine]:
        """``since`` is in Unix nanoseconds, as the lines' timestamps."""
        self._write_logs_until(now)
        lines = [line for line in self._logs if since is None or line.timestamp >= since]
        if tail_lines is not None:
            lines = lines[len(lines) - tail_lines :] if tail_lines else []
        return lines

    def write_log(self, now: float, line: str) -> None:
        """A line its application writes at ``now`` (after the lines its behaviour wrote until then)."""
        self._write_logs_until(now)
        self._logs.append(LogLine(timestamp=self.timeline.unix_nanos(now), line=line))

    def _write_logs_until(self, now: float) -> None:
        """Append the lines written between the last call and ``now`` (only the newest that fit)."""
        if self.started_at is None:
            return
        end = min(now, self.finish.at) if self.finish else now
        if end <= self._logged_until:
            return
        up_at = self.started_at + self.behaviour.startup
        unix = self.timeline.unix_nanos
        new: list[LogLine] = []
        if self._logged_until < up_at <= end:
            new += [LogLine(timestamp=unix(up_at), line=line) for line in self.behaviour.start_lines]
        interval = self.behaviour.log_interval
        if interval is not None and end >= up_at + interval:
            last = math.floor((end - up_at) / interval)
            first = max(self._next_tick, last - (self._logs.maxlen or 0) + 1)
            new += [
                LogLine(timestamp=unix(up_at + k * interval), line=self._tick_line(k))
                for k in range(first, last + 1)
            ]
            self._next_tick = max(self._next_tick, last + 1)
        new.sort(key=lambda line: line.timestamp)
        self._logs.extend(new)
        self._logged_until = end

    def _tick_line(self, n: int) -> str:
        return self.behaviour.log_line.replace("{n}", str(n)).replace("{container}", self.config.name)
