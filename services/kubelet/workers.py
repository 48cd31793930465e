"""Pod workers: one task per pod, woken by any change and by its own deadlines, never two syncs at once.

As Kubernetes' ``pod_workers.go``: a wake while a sync runs is remembered, not queued, so a burst of
events costs one more sync (level-triggered). The sync function returns when it wants to run again (a
back-off or probe deadline) or that the pod is finished with (:data:`DONE`); a failing sync is retried
with a doubling delay. Tasks exist only for pods the node has, so an idle node costs no timers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.kubelet.tasks import cancel_all
from shared.clock import Clock
from shared.logging import get_logger

log = get_logger("kubelet.workers")

DONE = -1.0
"""Returned by a sync when the pod is gone and its worker should end."""
RESYNC = 60.0
"""Even with nothing to wait for, a pod is synced this often, to heal whatever was missed."""
RETRY_MIN, RETRY_MAX = 0.5, 10.0

Sync = Callable[[str], Awaitable[float | None]]


@dataclass
class _Worker:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class PodWorkers:
    def __init__(self, sync: Sync, clock: Clock, name: str) -> None:
        self._sync = sync
        self._clock = clock
        self._name = name
        self._workers: dict[str, _Worker] = {}
        self._stopping = False

    def wake(self, key: str) -> None:
        """Make ``key``'s worker sync soon, starting one if there is none."""
        worker = self._workers.get(key)
        if worker is None:
            worker = self._workers[key] = _Worker()
            worker.task = asyncio.create_task(self._run(key, worker), name=f"pod-{self._name}-{key}")
        worker.wake.set()

    def wake_all(self) -> None:
        for key in list(self._workers):
            self.wake(key)

    def keys(self) -> list[str]:
        return list(self._workers)

    async def stop(self) -> None:
        self._stopping = True
        workers, self._workers = list(self._workers.values()), {}
        await cancel_all(w.task for w in workers if w.task is not None)
        self._stopping = False  # a crashed node's workers start again on recovery

    async def _run(self, key: str, worker: _Worker) -> None:
        retry = 0.0
        try:
            while not self._stopping:
                worker.wake.clear()
                try:
                    next_at = await self._sync(key)
                    retry = 0.0
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    retry = min(max(retry * 2, RETRY_MIN), RETRY_MAX)
                    log.warning("pod sync failed", node=self._name, pod=key, error=repr(error), retry=retry)
                    next_at = self._clock.monotonic() + retry
                if next_at == DONE:
                    if worker.wake.is_set():
                        continue  # the pod came back (same key, new object) while this sync ran
                    return
                now = self._clock.monotonic()
                timeout = RESYNC if next_at is None else min(max(next_at - now, 0.0), RESYNC)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker.wake.wait(), timeout)
        finally:
            if self._workers.get(key) is worker:
                del self._workers[key]
