"""Streams a member's watch responses to their clients' ``deliver`` subjects, numbered and in order.

The pure :class:`~services.etcd.mvcc.WatchableStore` decides what each watcher is told; this hub only
delivers: every message gets the next ``seq`` of its watch (1, 2, …) and goes out through one ordered
queue, so a client sees a watch's messages in ``seq`` order and reads a gap as a lost message. It also
drives the store's catch-up of unsynced watchers, sends progress notices every second, and drops a
watch whose client has gone (its ``deliver`` subject has no subscriber any more).

Watch ids on the wire name the member that serves them (``cp-1/7``), so a cancel that reaches another
member through the queue group can be forwarded to the owner.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from services.etcd.mvcc import WatchableStore, WatchResponse
from shared.logging import get_logger

log = get_logger(__name__)

PING_HEADER = "Kubenats-Watch-Ping"
"""A liveness probe on a deliver subject carries this header and no ``seq``; clients ignore it."""


def external_id(member: str, watch_id: int) -> str:
    return f"{member}/{watch_id}"


def parse_external_id(value: str) -> tuple[str, int]:
    """``"cp-1/7"`` → ``("cp-1", 7)``; raises ValueError for anything else."""
    member, _, number = value.rpartition("/")
    if not member or not number.isdigit():
        raise ValueError(f"watch_id {value!r} is not of the form <member>/<number>")
    return member, int(number)


@dataclass(slots=True)
class _Stream:
    deliver: str
    seq: int = 0


class WatchHub:
    def __init__(
        self,
        nc: Client,
        member: str,
        store: WatchableStore,
        header: Callable[[int], dict[str, Any]],
        *,
        progress_interval: float = 1.0,
        ping_interval: float = 5.0,
    ) -> None:
        self.nc = nc
        self.member = member
        self.store = store
        self.header = header
        self.progress_interval = progress_interval
        self.ping_interval = ping_interval
        self._streams: dict[int, _Stream] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def __len__(self) -> int:
        return len(self._streams)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="watch-send"),
            asyncio.create_task(self._progress_loop(), name="watch-progress"),
            asyncio.create_task(self._ping_loop(), name="watch-ping"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task

    def create(
        self, key: str, range_end: str | None, start_revision: int, prev_kv: bool, deliver: str
    ) -> str:
        watch_id = self.store.watch(key, range_end, start_revision, prev_kv)
        self._streams[watch_id] = _Stream(deliver)
        # A start in the past is caught up from history right away, not at the next progress tick.
        self.deliver(self.store.sync())
        return external_id(self.member, watch_id)

    def cancel(self, watch_id: int) -> bool:
        self._streams.pop(watch_id, None)
        return self.store.cancel(watch_id)

    def deliver(self, responses: list[WatchResponse]) -> None:
        """Queue responses in order; called from the apply path, so it never waits."""
        for response in responses:
            stream = self._streams.get(response.watch_id)
            if stream is None:
                continue
            stream.seq += 1
            self._outbox.put_nowait((stream.deliver, self._encode(response, stream.seq)))
            if response.canceled:
                self._streams.pop(response.watch_id, None)

    def _encode(self, response: WatchResponse, seq: int) -> bytes:
        body = response.to_wire()
        body["watch_id"] = external_id(self.member, response.watch_id)
        body["seq"] = seq
        if not response.canceled:
            body["header"] = self.header(response.revision)
        return json.dumps(body, separators=(",", ":")).encode()

    async def _send_loop(self) -> None:
        while True:
            subject, data = await self._outbox.get()
            try:
                await self.nc.publish(subject, data)
            except Exception as error:  # a lost message shows as a seq gap; the client re-watches
                log.warning("watch message not sent", subject=subject, error=repr(error))

    async def _progress_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_progress = loop.time() + self.progress_interval
        while True:
            # Catch-up runs often (each call is bounded); progress notices once per interval.
            await asyncio.sleep(self.progress_interval / 4)
            while self.store.has_unsynced:
                self.deliver(self.store.sync())
                await asyncio.sleep(0)
            if loop.time() >= next_progress:
                next_progress = loop.time() + self.progress_interval
                self.deliver(self.store.progress())

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            streams = list(self._streams.items())
            listening = await asyncio.gather(*(self._client_listening(s.deliver) for _, s in streams))
            for (watch_id, _), alive in zip(streams, listening, strict=True):
                if not alive:
                    log.info("watch client gone", watch_id=external_id(self.member, watch_id))
                    self.cancel(watch_id)

    async def _client_listening(self, deliver: str) -> bool:
        try:
            await self.nc.request(deliver, b"", timeout=0.2, headers={PING_HEADER: "1"})
        except NoRespondersError:
            return False
        except NatsTimeoutError:
            return True  # somebody subscribes (watch clients do not answer pings)
        return True
