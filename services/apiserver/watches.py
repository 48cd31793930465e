"""Client watches served from the watch caches: one event stream for every front, and its NATS delivery.

:class:`WatchCaches` holds a replica's watch cache per resource and opens a watch as an async iterator of
``WatchEvent`` dicts (:meth:`WatchCaches.events`): the backlog from a resourceVersion (or the initial
ADDED events and, with ``sendInitialEvents``, the ``k8s.io/initial-events-end`` BOOKMARK), then live
events and bookmarks. A watcher the cache cut off for being too slow ends with an ``ERROR`` 410 event, so
the client re-watches rather than waits. Each front streams it its own way.

:class:`WatchStreams` is the NATS front's way. A watch request names a ``deliver`` subject; each event goes
there as a ``WatchEvent`` JSON with the header ``Watch-Seq`` (1, 2, …). Every few seconds the stream sends a
``Watch-Ping`` request to the ``deliver`` subject: "no responders" means the client has gone, and the watch
is dropped at once, so a vanished client costs the server at most one ping interval.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing, suppress

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from services.apiserver.objects import Object, success_status
from services.apiserver.registry import COMMON_FIELDS, FIELD_SELECTORS
from services.apiserver.storage import parse_resource_version
from services.apiserver.watch_cache import CacheWatcher, WatchCache, WatchEventDict, selectable_fields
from services.etcd.client.api import KVClient
from shared.apiprotocol import WATCH_PING_HEADER, WATCH_SEQ_HEADER, ApiRequest
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import RESOURCES, ResourceType
from shared.selectors import SelectorError, parse_field_selector, parse_label_selector

log = get_logger(__name__)


class WatchCaches:
    """A watch cache per served resource, and watches opened on them."""

    def __init__(self, kv: KVClient) -> None:
        self.caches = {rt.plural: WatchCache(kv, rt.plural) for rt in RESOURCES}

    async def start(self) -> None:
        await asyncio.gather(*(cache.start() for cache in self.caches.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(cache.stop() for cache in self.caches.values()))

    def resource_version(self, rt: ResourceType) -> int:
        return self.caches[rt.plural].resource_version

    def open(self, rt: ResourceType, request: ApiRequest) -> CacheWatcher:
        """A watcher of the objects ``request`` selects; ApiError 400 for a bad selector or version."""
        try:
            labels = parse_label_selector(request.label_selector)
            fields = parse_field_selector(request.field_selector)
            fields.check_supported(FIELD_SELECTORS.get(rt.plural, COMMON_FIELDS))
        except SelectorError as error:
            raise ApiError(400, str(error)) from None
        return self.caches[rt.plural].watch(
            parse_resource_version(request.resource_version),
            (request.namespace or None) if rt.namespaced else None,
            labels,
            fields,
            lambda obj: selectable_fields(rt.plural, obj),
            send_initial_events=bool(request.send_initial_events),
            allow_bookmarks=request.allow_watch_bookmarks,
        )

    def events(self, rt: ResourceType, request: ApiRequest) -> AsyncGenerator[WatchEventDict]:
        """The watch's events; it is opened now (so a bad request raises here), and closed when the
        iteration ends or the iterator is closed."""
        return _events(self.open(rt, request))


async def _events(watcher: CacheWatcher) -> AsyncGenerator[WatchEventDict]:
    async with watcher:
        async for event in watcher:
            yield event
        if watcher.reason == "overflow":
            yield _expired("the watch fell too far behind; watch again")
        elif watcher.reason == "unavailable":  # said at once, or the client would wait out its silence
            yield _expired("the watch could not be resumed from the store's history; watch again")


PING_INTERVAL = 2.0
"""How often a stream proves it is alive; a client re-establishes a watch after three missed pings
(``shared.apiwatch``), so a killed replica's watchers move within about 6 s — over NATS no connection
breaks to tell them sooner, as a TCP reset tells client-go."""


class WatchStreams:
    """Watches streamed to NATS ``deliver`` subjects."""

    def __init__(self, nc: Client, caches: WatchCaches, *, ping_interval: float = PING_INTERVAL) -> None:
        self.nc = nc
        self.caches = caches
        self.ping_interval = ping_interval
        self._streams: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in list(self._streams):
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)

    def watch(self, rt: ResourceType, request: ApiRequest) -> Object:
        if not request.deliver:
            raise ApiError(400, "deliver: Required value: a subject to stream the watch to")
        watcher = self.caches.open(rt, request)
        task = asyncio.create_task(self._stream(watcher, request.deliver), name=f"watch-{rt.plural}")
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        started = success_status()
        started["metadata"] = {"resourceVersion": str(self.caches.resource_version(rt))}
        return started

    async def _stream(self, watcher: CacheWatcher, deliver: str) -> None:
        pinger = asyncio.create_task(self._ping(watcher, deliver))
        seq = 0
        try:
            async with aclosing(_events(watcher)) as events:
                async for event in events:
                    seq += 1
                    await self._send(deliver, event, seq)
        except Exception as error:  # one client's broken stream must not disturb the others
            log.warning("watch stream ended", deliver=deliver, error=repr(error))
        finally:
            pinger.cancel()
            with suppress(asyncio.CancelledError):
                await pinger

    async def _send(self, deliver: str, event: Object, seq: int) -> None:
        await self.nc.publish(deliver, json.dumps(event).encode(), headers={WATCH_SEQ_HEADER: str(seq)})

    async def _ping(self, watcher: CacheWatcher, deliver: str) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.nc.request(deliver, b"", timeout=0.5, headers={WATCH_PING_HEADER: "1"})
            except NoRespondersError:
                watcher.close()
                return
            except NatsTimeoutError:
                continue  # a subscriber is there (clients do not answer pings)


def _expired(message: str) -> Object:
    return {"type": "ERROR", "object": ApiError(410, message, reason="Expired").to_status()}
