"""Workers that take keys from a rate-limiting queue and reconcile them, retrying failures with back-off.

The loop controller-runtime's ``reconcileHandler`` runs: a reconcile that raises is retried with the
key's rate-limited back-off; one that asks to requeue after a delay gets exactly that delay (and its
back-off reset); one that succeeds has its back-off forgotten. The queue's one-worker-per-key guarantee
holds whatever the number of workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.logging import get_logger
from shared.workqueue.queue import K, ShutDownError
from shared.workqueue.ratelimit import RateLimitingQueue

log = get_logger(__name__)


@dataclass(frozen=True)
class Result:
    """What a reconcile asks of its queue: nothing, a rate-limited retry, or a retry after a fixed delay.

    ``requeue_after`` (seconds, > 0) wins over ``requeue``; raising an exception means a rate-limited retry
    as well.
    """

    requeue: bool = False
    requeue_after: float | None = None

    def __post_init__(self) -> None:
        if self.requeue_after is not None and self.requeue_after <= 0:
            raise ValueError(f"requeue_after must be > 0, got {self.requeue_after}")


Reconcile = Callable[[K], Awaitable[Result]]


async def run_workers(
    queue: RateLimitingQueue[K],
    reconcile: Reconcile[K],
    workers: int = 2,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Run ``workers`` concurrent reconcile loops over ``queue`` until stopped, then return.

    When ``stop_event`` is set the queue is shut down; each worker finishes the reconcile it is in (it is
    not cancelled, so a half-done write is not abandoned), calls ``done`` and exits without taking another
    key. If the queue is shut down by someone else instead, workers drain what is queued, then exit.
    Exceptions from ``reconcile`` are logged and retried; cancelling ``run_workers`` cancels the workers.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    stop = stop_event or asyncio.Event()

    async def shut_down_on_stop() -> None:
        await stop.wait()
        queue.shut_down()

    async with asyncio.TaskGroup() as group:
        stopper = group.create_task(shut_down_on_stop())
        loops = [group.create_task(_worker(queue, reconcile, stop)) for _ in range(workers)]
        await asyncio.wait(loops)
        stopper.cancel()


async def _worker(queue: RateLimitingQueue[K], reconcile: Reconcile[K], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            key = await queue.get()
        except ShutDownError:
            return
        try:
            await _reconcile_one(queue, reconcile, key)
        finally:
            queue.done(key)


async def _reconcile_one(queue: RateLimitingQueue[K], reconcile: Reconcile[K], key: K) -> None:
    try:
        result = await reconcile(key)
    except Exception:
        log.exception("reconcile failed", queue=queue.name, key=key, requeues=queue.num_requeues(key))
        queue.add_rate_limited(key)
        return
    if result.requeue_after is not None:
        # A delay the reconcile chose is not a failure: reset the back-off so a later error starts small.
        queue.forget(key)
        queue.add_after(key, result.requeue_after)
    elif result.requeue:
        queue.add_rate_limited(key)
    else:
        queue.forget(key)
