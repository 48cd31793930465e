"""Stopping background tasks for sure: cancel, wait, and cancel again those that swallowed it.

nats-py can swallow a ``CancelledError`` that lands inside a request, so a single ``cancel()`` may leave a
loop running; every loop here also checks a stop flag, and :func:`cancel_all` repeats the cancellation
until each task has ended (or the time is up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from shared.logging import get_logger

log = get_logger("kubelet")


async def cancel_all(tasks: Iterable[asyncio.Task[None]], timeout: float = 10.0, every: float = 0.2) -> None:
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    if pending:
        log.warning("tasks did not stop", count=len(pending), names=",".join(t.get_name() for t in pending))
