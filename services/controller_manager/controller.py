"""The shape every controller shares: a rate-limited work queue of keys and a level-triggered reconcile.

Per STYLE.md §5 the informer handlers a controller registers only compute keys and call :meth:`enqueue`;
:meth:`Controller.reconcile` reads the current state from the caches and acts on it. Workers come from
``shared.workqueue.run_workers``: one worker per key at a time, failures retried with back-off.
Controllers that also act on a timer (node health, pod GC) override :meth:`Controller.tick` and set
``tick_period``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from services.controller_manager.events import EventRecorder
from services.controller_manager.informers import SharedInformers
from shared.apiclient import ApiClient
from shared.clock import Clock, RealClock
from shared.logging import get_logger
from shared.workqueue import RateLimitingQueue, Result, run_workers

log = get_logger(__name__)


@dataclass
class Context:
    """What every controller is built from: the API client, the shared caches, events and the clock."""

    client: ApiClient
    informers: SharedInformers
    recorder: EventRecorder
    clock: Clock = field(default_factory=RealClock)


class Controller(ABC):
    name = "controller"
    workers = 2
    tick_period: float | None = None

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(name=self.name, clock=ctx.clock)

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    def enqueue_after(self, key: str, seconds: float) -> None:
        self.queue.add_after(key, seconds)

    @abstractmethod
    async def reconcile(self, key: str) -> Result:
        """Bring the object ``key`` names to its desired state, from what the caches show now."""

    async def tick(self) -> None:  # noqa: B027 (an optional hook: most controllers have no periodic work)
        """Periodic work beside the queue (only when ``tick_period`` is set)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Work the queue (and the ticker) until ``stop`` is set."""
        ticker = asyncio.create_task(self._tick_loop(stop), name=f"{self.name}-tick")
        try:
            await run_workers(self.queue, self.reconcile, self.workers, stop)
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        if self.tick_period is None:
            return
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("controller tick failed", controller=self.name)
            await self.clock.sleep(self.tick_period)
