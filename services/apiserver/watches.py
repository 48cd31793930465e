"""Client watches streamed over NATS from the watch caches: numbered events, liveness, clean-up.

A watch request names a ``deliver`` subject; each event goes there as a ``WatchEvent`` JSON with the
header ``Watch-Seq`` (1, 2, …). Every few seconds the stream sends a ``Watch-Ping`` request to the
``deliver`` subject: "no responders" means the client has gone, and the watch is dropped at once, so a
vanished client costs the server at most one ping interval. A watcher the cache cut off for being too
slow ends with an ``ERROR`` 410 event, so the client re-watches rather than waits.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from services.apiserver.objects import Object, success_status
from services.apiserver.registry import COMMON_FIELDS, FIELD_SELECTORS
from services.apiserver.storage import parse_resource_version
from services.apiserver.watch_cache import CacheWatcher, WatchCache, selectable_fields
from services.etcd.client.api import KVClient
from shared.apiprotocol import WATCH_PING_HEADER, WATCH_SEQ_HEADER, ApiRequest
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import RESOURCES, ResourceType
from shared.selectors import SelectorError, parse_field_selector, parse_label_selector

log = get_logger(__name__)


class WatchStreams:
    def __init__(self, nc: Client, kv: KVClient, *, ping_interval: float = 5.0) -> None:
        self.nc = nc
        self.ping_interval = ping_interval
        self.caches = {rt.plural: WatchCache(kv, rt.plural) for rt in RESOURCES}
        self._streams: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await asyncio.gather(*(cache.start() for cache in self.caches.values()))

    async def stop(self) -> None:
        for task in list(self._streams):
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        await asyncio.gather(*(cache.stop() for cache in self.caches.values()))

    def watch(self, rt: ResourceType, request: ApiRequest) -> Object:
        if not request.deliver:
            raise ApiError(400, "deliver: Required value: a subject to stream the watch to")
        try:
            labels = parse_label_selector(request.label_selector)
            fields = parse_field_selector(request.field_selector)
            fields.check_supported(FIELD_SELECTORS.get(rt.plural, COMMON_FIELDS))
        except SelectorError as error:
            raise ApiError(400, str(error)) from None
        cache = self.caches[rt.plural]
        watcher = cache.watch(
            parse_resource_version(request.resource_version),
            (request.namespace or None) if rt.namespaced else None,
            labels,
            fields,
            lambda obj: selectable_fields(rt.plural, obj),
            send_initial_events=bool(request.send_initial_events),
            allow_bookmarks=request.allow_watch_bookmarks,
        )
        task = asyncio.create_task(self._stream(watcher, request.deliver), name=f"watch-{rt.plural}")
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        started = success_status()
        started["metadata"] = {"resourceVersion": str(cache.resource_version)}
        return started

    async def _stream(self, watcher: CacheWatcher, deliver: str) -> None:
        pinger = asyncio.create_task(self._ping(watcher, deliver))
        seq = 0
        try:
            async with watcher:
                async for event in watcher:
                    seq += 1
                    await self._send(deliver, event, seq)
                if watcher.reason == "overflow":
                    seq += 1
                    await self._send(deliver, _expired("the watch fell too far behind; watch again"), seq)
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
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    return {"type": "ERROR", "object": {**status, "message": message, "reason": "Expired", "code": 410}}
