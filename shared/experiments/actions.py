"""Carrying out method and rollback actions on a running cluster, each logged on the timeline.

supervisord calls block, so they run in a thread and the load and the watcher keep going meanwhile.
``perform`` returns a :class:`~shared.experiments.verdict.Check` for an ``expect`` action (it is judged),
``None`` for the others; an action that cannot be carried out raises :class:`ActionError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from shared import subjects
from shared.apiclient import resource
from shared.errors import ApiError
from shared.experiments.action_specs import (
    Action,
    Chaos,
    Expect,
    Kill,
    Latency,
    Partition,
    Pause,
    ProcessAction,
    Restart,
    Resume,
    Scale,
    Start,
    Wait,
)
from shared.experiments.cluster import ClusterHandle
from shared.experiments.control import ProcessControl, ProcessControlError
from shared.experiments.partitions import resolve_latency, resolve_partition
from shared.experiments.probes import ask
from shared.experiments.records import Recording
from shared.experiments.targets import TargetError, resolve
from shared.experiments.verdict import Check

DEPLOYMENTS = resource("apps", "v1", "deployments")


class ActionError(Exception):
    """An action that could not be carried out; the experiment stops its method and rolls back."""


def chaos_subject(action: Chaos) -> str:
    if action.node:
        return subjects.chaos("node", action.node, action.action)
    if action.pod:
        namespace, _, name = action.pod.rpartition("/")
        return subjects.chaos("pod", namespace or "default", subjects.name_token(name), "kill")
    return subjects.chaos_reset()


async def _programs(handle: ClusterHandle, action: ProcessAction, saved: dict[str, list[str]]) -> list[str]:
    programs: list[str] = []
    for target in action.targets:
        programs += await resolve(handle, target, saved)
    if action.save_as:
        saved[action.save_as] = programs
    return programs


def _one(control: ProcessControl, action: ProcessAction) -> Callable[[str], None]:
    """The blocking supervisord call that applies ``action`` to one program."""
    match action:
        case Kill(hold=True):
            return control.kill_and_hold
        case Kill():
            return lambda name: control.send(name, "KILL")
        case Pause():
            return lambda name: control.send(name, "STOP")
        case Resume():
            return lambda name: control.send(name, "CONT")
        case Start():
            return control.start
    raise TypeError(f"no single call for {action.describe()}")


async def _on_processes(
    handle: ClusterHandle, action: ProcessAction, programs: list[str], recording: Recording
) -> None:
    """A restart goes one program at a time (a rolling restart); every other action hits them all at once."""
    if not isinstance(action, Restart):
        call = _one(handle.control, action)
        await asyncio.gather(*(asyncio.to_thread(call, name) for name in programs))
        return
    for index, name in enumerate(programs):
        await asyncio.to_thread(handle.control.stop, name)
        await asyncio.to_thread(handle.control.start, name)
        recording.event("action", f"restarted {name}")
        if action.settle_seconds and index < len(programs) - 1:
            await asyncio.sleep(action.settle_seconds)


async def _expect(handle: ClusterHandle, action: Expect, saved: dict[str, list[str]]) -> Check:
    started = time.monotonic()
    while True:
        ok, why = await ask(handle, action.probe, saved)
        waited = time.monotonic() - started
        if ok == action.passes:
            return Check(name=action.describe(), ok=True, detail=f"after {waited:.2f} s: {why}")
        if waited >= action.within:
            return Check(name=action.describe(), ok=False, detail=f"not within {action.within:g} s: {why}")
        await asyncio.sleep(0.2)


async def perform(
    handle: ClusterHandle, action: Action, saved: dict[str, list[str]], recording: Recording
) -> Check | None:
    """Carry out ``action``; an ``expect`` action's outcome comes back as a check."""
    try:
        match action:
            case ProcessAction():
                programs = await _programs(handle, action, saved)
                recording.event("action", f"{action.describe_verb()} {', '.join(programs)}")
                await _on_processes(handle, action, programs, recording)
            case Chaos():
                recording.event("action", action.describe())
                await handle.nc.publish(chaos_subject(action), b"")
                await handle.nc.flush()
            case Partition():
                spec = await resolve_partition(handle, action)
                if action.save_as:
                    saved[action.save_as] = list(spec.groups[0])
                recording.event("action", "partition " + " | ".join(", ".join(g) for g in spec.groups))
                await handle.nc.publish(subjects.chaos_network_partition(), spec.model_dump_json().encode())
                await handle.nc.flush()
            case Latency():
                latency = await resolve_latency(handle, action)
                recording.event("action", action.describe() + f" ({', '.join(latency.replicas)})")
                await handle.nc.publish(subjects.chaos_network_latency(), latency.model_dump_json().encode())
                await handle.nc.flush()
            case Wait():
                await asyncio.sleep(action.seconds)
            case Scale():
                if handle.api is None:
                    raise ActionError("cannot scale: the cluster runs no API server")
                recording.event("action", action.describe())
                await handle.api.scale(DEPLOYMENTS, action.name, action.replicas, action.namespace)
            case Expect():
                check = await _expect(handle, action, saved)
                recording.event("action", f"{action.describe()}: {'met' if check.ok else 'NOT met'}")
                return check
    except (TargetError, ProcessControlError) as error:
        raise ActionError(f"{action.describe()}: {error}") from None
    except ApiError as error:
        raise ActionError(f"{action.describe()}: {error.code} {error.message}") from None
    return None
