"""The pod garbage collector: pods of nodes that no longer exist, and terminated pods beyond a threshold.

Every ``pod_gc_period`` seconds, as Kubernetes' ``pkg/controller/podgc``:

* a pod bound to a node the cache does not know — and the API server confirms is gone — is deleted at
  once (grace 0): no kubelet will ever finish it;
* a terminating pod that was never scheduled is deleted at once, for the same reason;
* when more than ``terminated_pod_gc_threshold`` pods have finished (``Succeeded``/``Failed``), the
  oldest of them are deleted down to the threshold (0 disables this).
"""

from __future__ import annotations

from services.controller_manager.controller import Context, Controller
from services.controller_manager.objects import (
    NODES,
    PODS,
    Object,
    created_at,
    is_deleting,
    is_pod_terminal,
    name_of,
    namespace_of,
    node_of,
)
from shared.errors import ApiError
from shared.informer import Informer
from shared.logging import get_logger
from shared.workqueue import Result

log = get_logger(__name__)


def oldest_terminated(pods: list[Object], threshold: int) -> list[Object]:
    """The finished pods to delete so that at most ``threshold`` remain, oldest first (0: none)."""
    if threshold <= 0:
        return []
    finished = [pod for pod in pods if is_pod_terminal(pod) and not is_deleting(pod)]
    excess = len(finished) - threshold
    if excess <= 0:
        return []
    return sorted(finished, key=lambda pod: (_stamp(pod), name_of(pod)))[:excess]


def _stamp(pod: Object) -> float:
    moment = created_at(pod)
    return moment.timestamp() if moment is not None else 0.0


class PodGarbageCollector(Controller):
    name = "podgc"
    workers = 1

    def __init__(self, ctx: Context, period: float, threshold: int) -> None:
        super().__init__(ctx)
        self.tick_period = period
        self.threshold = threshold
        self.pods: Informer = ctx.informers.get(PODS)
        self.nodes: Informer = ctx.informers.get(NODES)

    async def reconcile(self, key: str) -> Result:
        return Result()

    async def tick(self) -> None:
        pods = self.pods.list()
        for pod in oldest_terminated(pods, self.threshold):
            await self._force_delete(pod, "terminated pod beyond threshold")
        missing: dict[str, bool] = {}
        for pod in pods:
            node = node_of(pod)
            if not node:
                if is_deleting(pod):
                    await self._force_delete(pod, "unscheduled terminating pod")
                continue
            if self.nodes.get("", node) is not None:
                continue
            if node not in missing:
                missing[node] = await self._node_gone(node)
            if missing[node]:
                await self._force_delete(pod, "pod of a deleted node")

    async def _node_gone(self, node: str) -> bool:
        try:
            await self.client.get(NODES, node)
        except ApiError as error:
            if error.code == 404:
                return True
            raise
        return False

    async def _force_delete(self, pod: Object, why: str) -> None:
        try:
            await self.client.delete(PODS, name_of(pod), namespace_of(pod), grace_period_seconds=0)
        except ApiError as error:
            if error.code != 404:
                raise
            return
        log.info("pod garbage collected", pod=f"{namespace_of(pod)}/{name_of(pod)}", reason=why)
