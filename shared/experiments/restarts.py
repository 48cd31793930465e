"""Container restarts as the watcher sees them, and whether the kubelet's restart back-off grew as it should.

Each look at a pod's ``containerStatuses`` tells of up to two attempts of a container: the current one
(``state.running``, or the one that just exited while the container waits in ``CrashLoopBackOff``) and the
one before it (``lastState.terminated``). Attempts are numbered by ``restartCount``: the first run is
attempt 0, the run after restart *n* is attempt *n*. The **back-off** of restart *n* is the time from the
end of attempt *n-1* to the start of attempt *n* — the very wait the kubelet imposed. Times are the
kubelet's own timestamps (whole seconds, as Kubernetes writes them), so a wait is known to about ±1 s.

As Kubernetes' kubelet does (``services/kubelet/backoff.py``), the first restart of a streak is
immediate and each following one waits twice as long as the last: ``base``, 2·``base``, 4·``base`` …
capped at ``maximum``; an attempt that ran for ``reset_after`` starts a new streak. Worked example (base
10 s): restarts 1, 2, 3 wait 0, 10, 20 s.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.kubelet.backoff import INITIAL_DELAY, MAX_DELAY, RESET_AFTER, BackOffPolicy

SCALE_FLAG = "--backoff-scale"


class Attempt(BaseModel):
    """One run of a container; times are seconds since the epoch (None while unknown)."""

    model_config = ConfigDict(frozen=True)

    number: int
    container_id: str = ""
    started_at: float | None = None
    finished_at: float | None = None


class Restart(BaseModel):
    """Restart ``number`` of a container: how long it waited after the exit and what the policy wanted."""

    model_config = ConfigDict(frozen=True)

    container: str
    """``namespace/pod/container``."""
    number: int
    waited: float
    expected: float


def _epoch(value: Any) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def attempts_of(status: Mapping[str, Any]) -> list[Attempt]:
    """The attempts one ``containerStatuses`` entry tells of (see the module docstring)."""
    count = int(status.get("restartCount") or 0)
    current_id = str(status.get("containerID") or "")
    state = status.get("state") or {}
    attempts = []
    if (running := state.get("running")) is not None:
        attempts.append(
            Attempt(number=count, container_id=current_id, started_at=_epoch(running.get("startedAt")))
        )
    if (terminated := state.get("terminated")) is not None:
        attempts.append(_ended(count, terminated))
    if (last := (status.get("lastState") or {}).get("terminated")) is not None:
        # The current attempt while the container waits to restart (same container), else the one before.
        same = bool(current_id) and str(last.get("containerID") or "") == current_id
        if same or count > 0:
            attempts.append(_ended(count if same else count - 1, last))
    return attempts


def _ended(number: int, terminated: Mapping[str, Any]) -> Attempt:
    return Attempt(
        number=number,
        container_id=str(terminated.get("containerID") or ""),
        started_at=_epoch(terminated.get("startedAt")),
        finished_at=_epoch(terminated.get("finishedAt")),
    )


def merge(known: dict[int, Attempt], seen: Sequence[Attempt]) -> list[int]:
    """Fold newly seen attempts into ``known`` (by number; a field once known stays); returns the numbers
    that were not known before."""
    new = []
    for attempt in seen:
        old = known.get(attempt.number)
        if old is None:
            known[attempt.number] = attempt
            new.append(attempt.number)
            continue
        known[attempt.number] = Attempt(
            number=attempt.number,
            container_id=old.container_id or attempt.container_id,
            started_at=old.started_at if old.started_at is not None else attempt.started_at,
            finished_at=old.finished_at if old.finished_at is not None else attempt.finished_at,
        )
    return new


def _streak_index(number: int, attempts: Mapping[int, Attempt], policy: BackOffPolicy) -> int:
    """Which restart of its streak restart ``number`` is (0: the first, immediate): a streak starts
    afresh after an attempt that ran for the policy's ``reset_after``."""
    for k in range(number - 1, -1, -1):
        ran = _ran_for(attempts.get(k))
        if ran is not None and policy.stable(ran):
            return number - 1 - k
    return number - 1


def _ran_for(attempt: Attempt | None) -> float | None:
    if attempt is None or attempt.started_at is None or attempt.finished_at is None:
        return None
    return attempt.finished_at - attempt.started_at


def restarts(container: str, attempts: Mapping[int, Attempt], policy: BackOffPolicy) -> list[Restart]:
    """Every restart whose wait is known (the end of the attempt before it and its own start were seen),
    with the wait ``policy`` prescribes for it."""
    found = []
    for number in sorted(attempts):
        before, after = attempts.get(number - 1), attempts[number]
        if before is None or before.finished_at is None or after.started_at is None:
            continue
        found.append(
            Restart(
                container=container,
                number=number,
                waited=after.started_at - before.finished_at,
                expected=policy.delay(_streak_index(number, attempts, policy)),
            )
        )
    return found


def kubelet_backoff_scale(args: Sequence[str]) -> float:
    """The ``--backoff-scale`` a kubelet's arguments give (1 when absent or not a number)."""
    for index, arg in enumerate(args):
        value = None
        if arg == SCALE_FLAG and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(f"{SCALE_FLAG}="):
            value = arg.split("=", 1)[1]
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


def backoff_policy(scale: float, base: float | None = None, maximum: float | None = None) -> BackOffPolicy:
    """The kubelet's policy at ``scale``, with ``base`` and ``maximum`` (seconds) in place of its own."""
    return BackOffPolicy(
        initial=INITIAL_DELAY * scale if base is None else base,
        maximum=MAX_DELAY * scale if maximum is None else maximum,
        reset_after=RESET_AFTER * scale,
    )


def all_restarts(attempts: Mapping[str, Mapping[int, Attempt]], policy: BackOffPolicy) -> list[Restart]:
    """The measured restarts of every container (``namespace/pod/container`` → its attempts)."""
    return [r for container in sorted(attempts) for r in restarts(container, attempts[container], policy)]


def judge_backoff(found: Sequence[Restart], minimum: int, tolerance: float) -> tuple[bool, str]:
    """Whether the waits grew as the policy says: at least ``minimum`` restarts measured, each within
    ``tolerance`` seconds of its prescribed wait, and none shorter than the one before it (less the
    tolerance). The detail lists the waits, or the first one that is wrong."""
    waits = ", ".join(f"#{r.number} {r.waited:.0f} s (want {r.expected:g})" for r in found)
    if len(found) < minimum:
        return False, f"{len(found)} restarts measured, {minimum} wanted" + (f": {waits}" if waits else "")
    for restart in found:
        if abs(restart.waited - restart.expected) > tolerance:
            return False, (
                f"{restart.container} restart #{restart.number} waited {restart.waited:.0f} s, "
                f"{restart.expected:g} ± {tolerance:g} s wanted; {waits}"
            )
    for earlier, later in itertools.pairwise(found):
        if earlier.container == later.container and later.waited < earlier.waited - tolerance:
            return False, f"{later.container} back-off shrank: {waits}"
    return True, waits
