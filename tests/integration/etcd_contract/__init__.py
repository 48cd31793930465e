"""The etcd contract suite: one set of behaviours every ``KVClient`` backend must show, run against each.

Backends are listed in ``conftest.py``; today a real 3-member etcd. The helpers here wait on a store
with a bound, so a backend that never delivers fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from services.etcd.client.api import Watch, WatchEvent, WatchResponse

WAIT = 10.0
"""Seconds any helper waits before it gives up."""


async def next_events(watch: Watch, count: int, timeout: float = WAIT) -> list[WatchEvent]:
    """Events from ``watch`` until at least ``count`` arrived (progress notices skipped); every event of the
    last response is kept, so a test sees it when more came than it expected."""
    events: list[WatchEvent] = []
    async with asyncio.timeout(timeout):
        async for response in watch:
            assert not response.canceled, f"watch canceled: {response}"
            events.extend(response.events)
            if len(events) >= count:
                return events
    raise AssertionError(f"watch ended after {len(events)} of {count} events: {events}")


async def next_response(watch: Watch, timeout: float = WAIT) -> WatchResponse:
    """The next response of any kind: events, a progress notice or a cancel."""
    async with asyncio.timeout(timeout):
        return await anext(watch)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = WAIT, interval: float = 0.1
) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(interval)
