"""The NoExecute taint manager: pods on a node with a NoExecute taint they do not tolerate (long enough)
are deleted.

Node and pod events enqueue pod keys; :meth:`TaintEvictionController.reconcile` computes the pod's
eviction time with :func:`~services.controller_manager.taints.eviction_time` and either deletes the pod
through the API (event ``TaintManagerEviction``) or looks again when that time comes — a taint removed
meanwhile (the node came back) means there is nothing to do by then.
"""

from __future__ import annotations

from services.controller_manager import taints as tr
from services.controller_manager.controller import Context, Controller
from services.controller_manager.informers import NODE_INDEX, by_node
from services.controller_manager.objects import (
    NODES,
    PODS,
    Object,
    is_deleting,
    meta,
    name_of,
    namespace_of,
    node_of,
)
from shared.errors import ApiError
from shared.informer import Informer, key_of
from shared.logging import get_logger
from shared.workqueue import Result

log = get_logger(__name__)


class TaintEvictionController(Controller):
    name = "taint-eviction"
    workers = 4

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.events = ctx.recorder.for_component("taint-eviction-controller")
        self.nodes: Informer = ctx.informers.get(NODES)
        self.pods: Informer = ctx.informers.ensure_index(PODS, NODE_INDEX, by_node)
        self.nodes.add_handler(on_add=self._node_changed, on_update=self._node_updated)
        self.pods.add_handler(on_add=self._pod_changed, on_update=self._pod_updated)

    def _node_changed(self, node: Object) -> None:
        if tr.no_execute_taints(node):
            for pod in self.pods.by_index(NODE_INDEX, name_of(node)):
                self.enqueue(key_of(pod))

    def _node_updated(self, old: Object, new: Object) -> None:
        if tr.no_execute_taints(old) != tr.no_execute_taints(new):
            self._node_changed(new)

    def _pod_changed(self, pod: Object) -> None:
        node = self.nodes.get("", node_of(pod)) if node_of(pod) else None
        if node is not None and tr.no_execute_taints(node):
            self.enqueue(key_of(pod))

    def _pod_updated(self, old: Object, new: Object) -> None:
        if meta(old).get("resourceVersion") != meta(new).get("resourceVersion"):
            self._pod_changed(new)

    async def reconcile(self, key: str) -> Result:
        pod = self.pods.get_by_key(key)
        if pod is None or is_deleting(pod) or not node_of(pod):
            return Result()
        node = self.nodes.get("", node_of(pod))
        taints = tr.no_execute_taints(node) if node is not None else []
        if not taints:
            return Result()
        now = self.clock.now()
        due = tr.eviction_time((pod.get("spec") or {}).get("tolerations") or [], taints, now)
        if due is None:
            return Result()
        if due > now:
            return Result(requeue_after=(due - now).total_seconds())
        try:
            await self.client.delete(PODS, name_of(pod), namespace_of(pod))
        except ApiError as error:
            if error.code != 404:
                raise
            return Result()
        log.info("pod evicted", pod=key, node=node_of(pod))
        self.events.normal(pod, "TaintManagerEviction", f"Marking for deletion Pod {key}")
        return Result()
