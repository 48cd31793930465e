"""Writes the scheduler makes besides bindings, off the scheduling path: Events and pod conditions.

:class:`EventRecorder` creates core/v1 Events (``Scheduled``, ``FailedScheduling``) the way client-go's
recorder does — a repeat of the same reason and message for the same object bumps ``count`` and
``lastTimestamp`` of the first event instead of creating another. :class:`StatusWriter` sets a pod's
``PodScheduled`` condition. Both run their API calls as background tasks with bounded concurrency, so a
slow API server delays these writes, not the scheduling of other pods; a failed write is logged and
dropped (the next attempt for the pod writes again).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

from shared.apiclient import ApiClient, resource
from shared.clock import Clock, RealClock
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models.timestamps import format_time

log = get_logger(__name__)

EVENTS = resource("", "v1", "events")
PODS = resource("", "v1", "pods")
COMPONENT = "default-scheduler"
MAX_MESSAGE = 1024
MAX_REMEMBERED = 4096
Object = dict[str, Any]


class Background:
    """Runs coroutines as tasks, at most ``limit`` at a time; :meth:`drain` waits for them."""

    def __init__(self, limit: int = 16) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def run() -> None:
            async with self._slots:
                try:
                    await work
                except ApiError as failure:
                    log.warning("scheduler write failed", what=what, code=failure.code, error=failure.message)
                except Exception as failure:
                    log.warning("scheduler write failed", what=what, error=repr(failure))

        task = asyncio.create_task(run(), name=what)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class EventRecorder:
    def __init__(self, client: ApiClient, instance: str, clock: Clock | None = None, limit: int = 16) -> None:
        self.client = client
        self.instance = instance
        self.clock = clock or RealClock()
        self.background = Background(limit)
        self._seen: dict[tuple[str, str, str], tuple[str, int]] = {}
        self._serial = itertools.count()

    def event(self, obj: Object, event_type: str, reason: str, message: str) -> None:
        """Record that ``reason`` happened to ``obj`` (a pod, node …); returns at once."""
        meta = obj.get("metadata") or {}
        message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
        key = (str(meta.get("uid") or meta.get("name")), reason, message)
        now = format_time(self.clock.now())
        seen = self._seen.get(key)
        if seen is not None:
            name, count = seen
            self._seen[key] = (name, count + 1)
            patch = {"count": count + 1, "lastTimestamp": now}
            work = self.client.patch(EVENTS, name, patch, str(meta.get("namespace") or "default"))
            self.background.submit(_ignore_result(work), f"event {reason}")
            return
        name = f"{meta.get('name')}.{self.clock.now().strftime('%Y%m%d%H%M%S')}{next(self._serial):06x}"
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()  # forget old series rather than grow without bound
        self._seen[key] = (name, 1)
        body = self._body(obj, name, event_type, reason, message, now)
        self.background.submit(
            _ignore_result(self.client.create(body, body["metadata"]["namespace"])), reason
        )

    def _body(self, obj: Object, name: str, event_type: str, reason: str, message: str, now: str) -> Object:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        involved = {
            "kind": obj.get("kind", "Pod"),
            "apiVersion": obj.get("apiVersion", "v1"),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": COMPONENT},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
        }


class StatusWriter:
    """Sets ``PodScheduled=False`` with a reason and message on pods that could not be placed."""

    def __init__(self, client: ApiClient, clock: Clock | None = None, limit: int = 16) -> None:
        self.client = client
        self.clock = clock or RealClock()
        self.background = Background(limit)

    def unschedulable(self, pod: Object, reason: str, message: str) -> None:
        """Write the condition unless the pod already carries exactly this one."""
        current = next(
            (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"),
            None,
        )
        if current and (current.get("status"), current.get("reason"), current.get("message")) == (
            "False",
            reason,
            message,
        ):
            return
        meta = pod.get("metadata") or {}
        self.background.submit(self._write(pod, reason, message), f"condition {meta.get('name')}")

    async def _write(self, pod: Object, reason: str, message: str) -> None:
        for attempt in range(2):
            try:
                await self.client.update_status(with_condition(pod, reason, message, self.clock))
                return
            except ApiError as failure:
                if failure.code != 409 or attempt:
                    raise
            meta = pod["metadata"]
            pod = await self.client.get(PODS, meta["name"], meta["namespace"])
            if (pod.get("spec") or {}).get("nodeName"):
                return  # bound meanwhile: the condition is True now and must stay so


def with_condition(pod: Object, reason: str, message: str, clock: Clock) -> Object:
    """A copy of ``pod`` whose ``PodScheduled`` condition is False with this reason and message."""
    status = dict(pod.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": format_time(clock.now()),
        }
    )
    status["conditions"] = conditions
    return {**pod, "status": status}


async def _ignore_result(work: Coroutine[Any, Any, Object]) -> None:
    await work
