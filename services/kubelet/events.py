"""The kubelet's event recorder: core/v1 Events about its pods and its node, as ``kubectl describe`` shows.

Reasons and messages are Kubernetes' kubelet ones (``pkg/kubelet/events``): ``Pulling``, ``Pulled``,
``Created``, ``Started``, ``Killing``, ``BackOff``, ``Unhealthy``, admission failures such as ``OutOfcpu``,
and the node's ``Starting`` and ``NodeReady``. An event about a container names it in
``involvedObject.fieldPath`` (``spec.containers{web}``), which is why the current messages no longer
repeat the container's name ("Container created").

Recording never blocks or fails pod work. :meth:`EventRecorder.event` puts the write on a bounded queue
and returns; one writer task per kubelet, started with the first event (an idle hollow node costs
nothing), sends the writes in order. A full queue, a node cut off from the API or a failed write drops
the event with a log line, as client-go's recorder does. :class:`EventCorrelator` folds a repeat (same
object, container, type, reason and message) into the first event by bumping ``count`` and
``lastTimestamp``, so a crash loop or a failing probe grows one event instead of a stream of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.kubelet.tasks import cancel_all
from shared.apiclient import ApiClient, resource
from shared.clock import Clock
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models.timestamps import format_time

log = get_logger("kubelet.events")

EVENTS = resource("", "v1", "events")
COMPONENT = "kubelet"
NORMAL, WARNING = "Normal", "Warning"
QUEUE_LIMIT = 256
"""Writes waiting beyond this are dropped: a slow API server must not make the kubelet hold memory."""
REMEMBERED = 1024
"""Event series kept for folding repeats; the least recently seen is forgotten first."""
MAX_MESSAGE = 1024
Object = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Involved:
    """The object an event is about: a pod (with a container's field path, or none) or the node."""

    kind: str
    namespace: str
    name: str
    uid: str
    field_path: str = ""

    def reference(self) -> Object:
        ref = {"apiVersion": "v1", "kind": self.kind, "namespace": self.namespace, "name": self.name}
        ref |= {"uid": self.uid, "fieldPath": self.field_path}
        return {k: v for k, v in ref.items() if v}


def container_path(name: str, init: bool = False) -> str:
    return f"spec.initContainers{{{name}}}" if init else f"spec.containers{{{name}}}"


@dataclass(frozen=True, slots=True)
class EventWrite:
    """One API write: create ``body`` (a new series), or bump the series' ``count`` and ``lastTimestamp``
    (``body`` then holds the whole event, created in its place if the first write was lost)."""

    body: Object
    create: bool


class EventCorrelator:
    """Pure: turns "this happened now" into the write client-go's correlator would make."""

    def __init__(self, host: str, remembered: int = REMEMBERED) -> None:
        self.host = host
        self.remembered = remembered
        self._series: OrderedDict[tuple[str, ...], Object] = OrderedDict()
        self._last_stamp = 0

    def observe(
        self, involved: Involved, event_type: str, reason: str, message: str, now: datetime
    ) -> EventWrite:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        key = (involved.namespace, involved.uid, involved.field_path, event_type, reason, message)
        stamp = format_time(now)
        series = self._series.get(key)
        if series is not None:
            self._series.move_to_end(key)
            series = {**series, "count": series["count"] + 1, "lastTimestamp": stamp}
            self._series[key] = series
            return EventWrite(series, create=False)
        body = self._body(involved, event_type, reason, message, now)
        self._series[key] = body
        if len(self._series) > self.remembered:
            self._series.popitem(last=False)
        return EventWrite(body, create=True)

    def _body(self, involved: Involved, event_type: str, reason: str, message: str, now: datetime) -> Object:
        stamp = format_time(now)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{involved.name}.{self._unique(now)}", "namespace": _home(involved)},
            "involvedObject": involved.reference(),
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": COMPONENT, "host": self.host},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": COMPONENT,
            "reportingInstance": self.host,
        }

    def _unique(self, now: datetime) -> str:
        # Kubernetes names an event ``<object>.<unix nanoseconds in hex>``; strictly increasing here, so
        # events of one kubelet sort by name in the order they were recorded.
        self._last_stamp = max(int(now.timestamp() * 1e9), self._last_stamp + 1)
        return f"{self._last_stamp:x}"


def _home(involved: Involved) -> str:
    """Where the event lives: the object's namespace; ``default`` for a node, as Kubernetes does."""
    return involved.namespace or "default"


class EventRecorder:
    """The kubelet's recorder: ``event`` returns at once; a writer task sends the writes in order."""

    def __init__(
        self,
        api: ApiClient,
        host: str,
        clock: Clock,
        can_send: Callable[[], bool] = lambda: True,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self.api = api
        self.host = host
        self.clock = clock
        self.can_send = can_send
        self.correlator = EventCorrelator(host)
        self.dropped = 0
        self._queue: asyncio.Queue[EventWrite] = asyncio.Queue(limit)
        self._writer: asyncio.Task[None] | None = None

    def event(
        self, involved: Involved, event_type: str, reason: str, message: str, at: datetime | None = None
    ) -> None:
        """Record that ``reason`` happened to ``involved`` (at ``at``, default now); never raises."""
        write = self.correlator.observe(involved, event_type, reason, message, at or self.clock.now())
        if not self.can_send():
            self._drop(write, "disconnected")
            return
        try:
            self._queue.put_nowait(write)
        except asyncio.QueueFull:
            self._drop(write, "queue full")
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=f"events-{self.host}")

    def _drop(self, write: EventWrite, why: str) -> None:
        self.dropped += 1
        log.info("event dropped", node=self.host, reason=write.body["reason"], why=why)

    async def _write_all(self) -> None:
        while True:
            write = await self._queue.get()
            try:
                await self._send(write)
            except asyncio.CancelledError:
                raise
            except ApiError as error:
                self._drop(write, f"{error.code} {error.message}")
            except Exception as error:
                self._drop(write, repr(error))
            finally:
                self._queue.task_done()

    async def _send(self, write: EventWrite) -> None:
        body, meta = write.body, write.body["metadata"]
        if not self.can_send():
            self._drop(write, "disconnected")
            return
        if write.create:
            await self.api.create(body, meta["namespace"])
            return
        patch = {"count": body["count"], "lastTimestamp": body["lastTimestamp"]}
        try:
            await self.api.patch(EVENTS, meta["name"], patch, meta["namespace"])
        except ApiError as error:
            if error.code != 404:
                raise
            await self.api.create(body, meta["namespace"])  # the first write of the series was lost

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait (bounded) for the queued writes to be sent."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def stop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            await cancel_all([writer])
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()


# --- Kubernetes' kubelet messages ------------------------------------------------------------------


def go_duration(seconds: float) -> str:
    """``seconds`` as Go prints a ``time.Duration`` truncated to milliseconds: 523ms, 1.2s, 1m5.25s."""
    millis = int(max(seconds, 0.0) * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    text = f"{whole}.{fraction:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def pulling_message(image: str) -> str:
    return f'Pulling image "{image}"'


def pulled_message(image: str, took: float, size: int) -> str:
    # No pull waits behind another here (serialized pulls are off by default), so both times agree.
    took_text = go_duration(took)
    return (
        f'Successfully pulled image "{image}" in {took_text} ({took_text} including waiting). '
        f"Image size: {size} bytes."
    )


def present_message(image: str) -> str:
    return f'Container image "{image}" already present on machine and can be accessed by the pod'


def pull_failed_message(image: str, error: str) -> str:
    return f'Failed to pull image "{image}": {error}'


def probe_failed_message(kind: str, output: str) -> str:
    """``Liveness probe failed: <output>`` (kind is ``liveness``, ``readiness`` or ``startup``)."""
    return f"{kind.capitalize()} probe failed: {output}"


def probe_kill_message(container: str, kind: str) -> str:
    return f"Container {container} failed {kind} probe, will be restarted"


def stopping_message(container: str) -> str:
    return f"Stopping container {container}"


def backoff_message(container: str, pod: str, namespace: str, uid: str) -> str:
    return f"Back-off restarting failed container {container} in pod {pod}_{namespace}({uid})"


def node_status_message(node: str, ready: bool) -> str:
    return f"Node {node} status is now: {'NodeReady' if ready else 'NodeNotReady'}"
