"""A client's watch on the API server: events in order, re-established after a loss, 410 passed on.

``async for event in await client.watch(pods, "default")`` yields ``{"type", "object"}`` events. Each
message carries ``Watch-Seq``; a gap, or no message at all (not even the server's liveness ping) for
``silence`` seconds — the serving replica died — makes the watch re-establish itself on any replica
from the last resourceVersion it delivered, so the caller sees no gap; so does a change of network
partition (:meth:`ApiWatch.move`), since the serving replica may now be out of reach. An ``ERROR``
event (410: that resourceVersion is too old) is passed to the caller and ends the watch: list again,
then watch from the list's resourceVersion, as client-go's reflector does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Self

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.apiprotocol import WATCH_PING_HEADER, WATCH_SEQ_HEADER, ApiRequest
from shared.logging import get_logger

log = get_logger(__name__)

Event = dict[str, Any]
Start = Callable[[ApiRequest], Awaitable[Any]]


class ApiWatch:
    def __init__(self, nc: Client, start: Start, request: ApiRequest, *, silence: float = 6.0) -> None:
        self.nc = nc
        self._start = start
        self.request = request
        self.silence = silence
        self.resource_version = request.resource_version
        self._queue: asyncio.Queue[Msg | None] = asyncio.Queue()  # None wakes a reader to see stop()
        self._subscription: Subscription | None = None
        self._expected = 1
        self._done = False
        self._moving = False

    def move(self) -> None:
        """Re-establish the watch now (the network partition changed: its replica may be out of reach)."""
        if not self._done:
            self._moving = True
            self._queue.put_nowait(None)

    async def establish(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        deliver = self.nc.new_inbox()
        self._queue = asyncio.Queue()
        self._subscription = await self.nc.subscribe(deliver, cb=self._queue.put)
        # Re-established watches resume after the last delivered version and get no initial events.
        resume = self.resource_version != self.request.resource_version
        request = self.request.model_copy(
            update={
                "deliver": deliver,
                "resource_version": self.resource_version,
                "send_initial_events": None if resume else self.request.send_initial_events,
            }
        )
        await self._start(request)
        self._expected = 1

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while not self._done:
            message = await self._next()
            if self._done:
                break
            if message is None:
                moving, self._moving = self._moving, False
                why = "network partition changed" if moving else "no message within the silence timeout"
                await self._reestablish(why)
                continue
            headers = message.headers or {}
            if WATCH_PING_HEADER in headers:
                continue
            seq = int(headers.get(WATCH_SEQ_HEADER, "0"))
            if seq != self._expected:
                await self._reestablish(f"Watch-Seq {seq} where {self._expected} was due")
                continue
            self._expected += 1
            event: Event = json.loads(message.data)
            if event.get("type") == "ERROR":
                await self.stop()
                return event
            version = (event.get("object") or {}).get("metadata", {}).get("resourceVersion")
            if version:
                self.resource_version = str(version)
            return event
        raise StopAsyncIteration

    async def _next(self) -> Msg | None:
        try:
            async with asyncio.timeout(self.silence):
                return await self._queue.get()
        except TimeoutError:
            return None

    async def _reestablish(self, why: str) -> None:
        log.info("api watch re-established", reason=why, resource_version=self.resource_version)
        await self.establish()

    async def stop(self) -> None:
        """End the watch; the server notices the missing subscriber at its next ping."""
        self._done = True
        self._queue.put_nowait(None)
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
