"""The kubelet process: one or many nodes (hollow nodes) over one NATS connection, with their bus endpoints.

Every node is a full :class:`~services.kubelet.kubelet.Kubelet` with its own token, informer and
runtime; what they share is the connection, one ``nats.micro`` service ``kubelet`` with a
``node.<node>.stats`` and a ``node.<node>.logs`` endpoint per node, and one subscription to ``chaos.>``
that hands node and pod faults to the nodes they name. Nodes start in small batches so that hundreds do
not all list and register in the same instant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.kubelet import faults
from services.kubelet.kubelet import Kubelet
from services.kubelet.logs import PodLogReader
from services.kubelet.stats import NodeStats, StatsRequest
from shared import subjects
from shared.bus import MicroService, RequestContext
from shared.logging import get_logger
from shared.podlogs import NodeLogsRequest, PodLogs

log = get_logger("kubelet")

START_BATCH = 20
NODE_ACTIONS = {
    "crash": faults.crash,
    "recover": faults.recover,
    "partition": faults.partition,
    "heal": faults.heal,
}


class KubeletHost:
    def __init__(self, nc: Client, kubelets: Sequence[Kubelet]) -> None:
        self.nc = nc
        self.kubelets = {k.name: k for k in kubelets}
        self.service = MicroService(nc, "kubelet", description="node agents: stats and logs per node")
        for kubelet in kubelets:
            self.service.add_endpoint(
                f"stats-{kubelet.name}",
                subjects.node_stats(kubelet.name),
                StatsRequest,
                self._stats_handler(kubelet),
            )
            self.service.add_endpoint(
                f"logs-{kubelet.name}",
                subjects.node_pod_logs(kubelet.name),
                NodeLogsRequest,
                self._logs_handler(PodLogReader(kubelet)),
            )
        self._chaos_tasks: set[asyncio.Task[None]] = set()
        self._subscription: Subscription | None = None

    def _stats_handler(
        self, kubelet: Kubelet
    ) -> Callable[[StatsRequest, RequestContext], Awaitable[NodeStats]]:
        async def handle(_request: StatsRequest, _context: RequestContext) -> NodeStats:
            return await kubelet.stats()

        return handle

    @staticmethod
    def _logs_handler(
        reader: PodLogReader,
    ) -> Callable[[NodeLogsRequest, RequestContext], Awaitable[PodLogs]]:
        async def handle(request: NodeLogsRequest, _context: RequestContext) -> PodLogs:
            return await reader.read(request)

        return handle

    async def start(self) -> None:
        self._subscription = await self.nc.subscribe(subjects.chaos_all(), cb=self._on_chaos)
        await self.service.start()
        names = list(self.kubelets)
        for first in range(0, len(names), START_BATCH):
            batch = [self.kubelets[n] for n in names[first : first + START_BATCH]]
            await asyncio.gather(*(k.start() for k in batch))
        await asyncio.gather(*(k.wait_synced(30) for k in self.kubelets.values()))

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        for task in list(self._chaos_tasks):
            task.cancel()
        await self.service.stop()
        await asyncio.gather(*(k.stop() for k in self.kubelets.values()))

    # --- fault injection ---------------------------------------------------------------------------

    async def _on_chaos(self, msg: Msg) -> None:
        tokens = msg.subject.split(".")
        action = self._chaos_action(tokens)
        if action is None:
            return
        task = asyncio.create_task(action, name=msg.subject)
        self._chaos_tasks.add(task)
        task.add_done_callback(self._chaos_tasks.discard)
        task.add_done_callback(_log_failure)

    def _chaos_action(self, tokens: list[str]) -> Coroutine[Any, Any, None] | None:
        # chaos.node.<node>.<action> and chaos.pod.<namespace>.<name>.kill
        if len(tokens) == 4 and tokens[1] == "node" and tokens[3] in NODE_ACTIONS:
            kubelet = self.kubelets.get(tokens[2])
            if kubelet is not None:
                return NODE_ACTIONS[tokens[3]](kubelet)
        if len(tokens) == 5 and tokens[1] == "pod" and tokens[4] == "kill":
            return self._kill_pod(tokens[2], tokens[3])
        if tokens[1:] == ["reset"]:
            return self._reset()
        return None

    async def _kill_pod(self, namespace: str, name: str) -> None:
        for kubelet in self.kubelets.values():
            if await faults.kill_pod(kubelet, namespace, name):
                return

    async def _reset(self) -> None:
        """``chaos.reset``: every node back up and connected."""
        for kubelet in self.kubelets.values():
            await faults.recover(kubelet)
            await faults.heal(kubelet)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("fault injection failed", action=task.get_name(), error=repr(task.exception()))
