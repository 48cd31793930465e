"""The work queue of controllers and the scheduler: duplicates collapse, one worker per key, retries back off.

Layered as client-go's ``util/workqueue``: :class:`WorkQueue` (FIFO, dedup, one worker per key),
:class:`DelayingQueue` (``add_after`` on an injected clock), :class:`RateLimitingQueue` (``add_rate_limited``
with a :class:`RateLimiter`), and :func:`run_workers` to drive a reconcile function over one of them::

    queue: RateLimitingQueue[str] = RateLimitingQueue(name="replicaset")
    queue.add("default/web")  # event handlers only compute a key and enqueue it (STYLE.md §5)
    await run_workers(queue, reconcile_replicaset, workers=2, stop_event=stop)
"""

from shared.workqueue.delaying import DelayingQueue
from shared.workqueue.queue import ShutDownError, WorkQueue
from shared.workqueue.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
)
from shared.workqueue.workers import Reconcile, Result, run_workers

__all__ = [
    "BucketRateLimiter",
    "DelayingQueue",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "RateLimitingQueue",
    "Reconcile",
    "Result",
    "ShutDownError",
    "WorkQueue",
    "default_controller_rate_limiter",
    "run_workers",
]
