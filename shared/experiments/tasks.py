"""Background tasks that stop when asked: a stop flag their loops check, and a bounded wait for them.

Cancelling alone is not enough: nats-py swallows a ``CancelledError`` that lands in some of its awaits,
and a polling loop cancelled there would go on forever, with whoever awaits it. So each loop checks the
flag between iterations, sleeps on it, and :meth:`Tasks.stop` waits a bounded time before cancelling
what is left and moving on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)


class Tasks:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self._tasks.append(asyncio.create_task(coroutine))

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if asked to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def stop(self, grace: float = 5.0) -> None:
        self.stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("background tasks did not stop in time", left=len(pending), grace=grace)
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("background task failed", error=repr(task.exception()))
