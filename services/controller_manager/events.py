"""The event recorder: what the controllers did, written as core/v1 Events (``kubectl get events`` material).

Recording never blocks a reconcile and never fails it: each event is written by a background task, and a
write that fails is logged and dropped, as client-go's recorder drops events it cannot send. An event
about a cluster-scoped object (a Node) lives in ``default``, as Kubernetes puts it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import Any

from services.controller_manager.objects import name_of, namespace_of, rfc3339, uid_of
from shared.apiclient import ApiClient
from shared.clock import Clock, RealClock
from shared.logging import get_logger

log = get_logger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
MAX_IN_FLIGHT = 200
"""Events still being written beyond this are dropped rather than queued without bound."""


def event_object(
    involved: Mapping[str, Any], kind: str, reason: str, message: str, component: str, host: str, now: str
) -> dict[str, Any]:
    """The Event for ``involved`` (an API object in wire form)."""
    namespace = namespace_of(involved)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name_of(involved)}.{secrets.token_hex(8)}",
            "namespace": namespace or "default",
        },
        "involvedObject": {
            "apiVersion": involved.get("apiVersion", ""),
            "kind": involved.get("kind", ""),
            "name": name_of(involved),
            "namespace": namespace,
            "uid": uid_of(involved),
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": component, "host": host},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": host,
    }


class EventRecorder:
    def __init__(self, client: ApiClient, host: str, clock: Clock | None = None) -> None:
        self.client = client
        self.host = host
        self.clock = clock or RealClock()
        self._tasks: set[asyncio.Task[None]] = set()

    def for_component(self, component: str) -> ComponentRecorder:
        return ComponentRecorder(self, component)

    def record(
        self, involved: Mapping[str, Any], kind: str, reason: str, message: str, component: str
    ) -> None:
        if len(self._tasks) >= MAX_IN_FLIGHT:
            log.warning("event dropped", reason=reason, object=name_of(involved))
            return
        event = event_object(involved, kind, reason, message, component, self.host, rfc3339(self.clock.now()))
        task = asyncio.create_task(self._write(event), name=f"event-{reason}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, event: dict[str, Any]) -> None:
        try:
            await self.client.create(event)
        except Exception as error:
            log.warning("event not written", reason=event["reason"], error=repr(error))

    async def flush(self) -> None:
        """Wait for the events being written (on shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)


class ComponentRecorder:
    """The recorder as one controller uses it: the component name is filled in."""

    def __init__(self, recorder: EventRecorder, component: str) -> None:
        self._recorder = recorder
        self.component = component

    def normal(self, involved: Mapping[str, Any], reason: str, message: str) -> None:
        self._recorder.record(involved, NORMAL, reason, message, self.component)

    def warning(self, involved: Mapping[str, Any], reason: str, message: str) -> None:
        self._recorder.record(involved, WARNING, reason, message, self.component)
