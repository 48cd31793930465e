"""The runtime's timeline: how a time on the clock that drives the core becomes the Unix time a reply carries.

The core runs on a monotonic clock (its ``now`` arguments), whose readings mean nothing outside the
process that took them: the monotonic clocks of two machines are unrelated. So replies carry Unix
nanoseconds, as containerd's CRI replies do (``created_at``, ``started_at``, ``finished_at``), and a
kubelet on another machine reads them as its own wall-clock times.

The offset between the two clocks is read once, when the runtime starts, and kept. A wall clock stepped
later (NTP) then moves no time already reported: a container's start is the same in every reply, and a
log line keeps its stamp, so a follow that resumes from it (``sinceExact``) finds it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.runtime.api import NANOS_PER_SECOND, UNIX_EPOCH
from shared.clock import Clock


@dataclass(frozen=True, slots=True)
class Timeline:
    """Maps the core's clock to Unix time with a fixed offset."""

    offset_nanos: int = 0
    """Unix nanoseconds at the moment the core's clock read 0; 0 = the core's clock is Unix time."""

    @classmethod
    def of(cls, clock: Clock) -> Timeline:
        """The timeline of ``clock``: its wall-clock time less its monotonic reading, both taken now."""
        wall_micros = (clock.now() - UNIX_EPOCH) // timedelta(microseconds=1)
        return cls(wall_micros * 1000 - round(clock.monotonic() * NANOS_PER_SECOND))

    def unix_nanos(self, t: float) -> int:
        """Time ``t`` of the core's clock in Unix nanoseconds."""
        return self.offset_nanos + round(t * NANOS_PER_SECOND)
