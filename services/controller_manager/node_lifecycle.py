"""The node lifecycle controller: a node whose kubelet stops renewing its Lease is marked Unknown and tainted.

Every ``node_monitor_period`` it looks at each node, as Kubernetes' ``pkg/controller/nodelifecycle``:

* Health is measured on this manager's monotonic clock: the last time it *saw* the node's Lease in
  ``kube-node-lease`` renewed (or the node's Ready heartbeat change). Wall-clock times written by the
  kubelet are never compared with ours, so skewed clocks do not matter.
* No renewal for ``node_monitor_grace_period`` (``node_startup_grace_period`` for a node that has never
  been Ready) → every node condition becomes ``Unknown`` with reason ``NodeStatusUnknown`` and message
  "Kubelet stopped posting node status.", the ``NodeNotReady`` event is recorded, and the node's pods get
  ``Ready=False``.
* The node then carries ``node.kubernetes.io/unreachable:NoExecute`` (``not-ready`` when the kubelet
  itself reports Ready=False); the taint eviction controller evicts its pods when their tolerations run
  out. Adding a taint to a healthy-until-now node is rate-limited to ``node_eviction_rate`` nodes a
  second (Kubernetes' 0.1); swapping one health taint for the other and removing them when the node is
  Ready again are not. Kubernetes' per-zone rates for large clusters and unhealthy zones are left out:
  every node is in one zone here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from services.controller_manager import taints as tr
from services.controller_manager.controller import Context, Controller
from services.controller_manager.informers import NODE_INDEX, by_node
from services.controller_manager.objects import (
    LEASES,
    NODES,
    PODS,
    Object,
    condition,
    is_deleting,
    name_of,
    rfc3339,
)
from shared.errors import ApiError
from shared.informer import Informer
from shared.logging import get_logger
from shared.workqueue import Result

log = get_logger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_REASON = "NodeStatusNeverUpdated"
NEVER_MESSAGE = "Kubelet never posted node status."
CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass
class Health:
    renew_time: str
    heartbeat: str
    probed_at: float


def unknown_conditions(node: Object, stamp: str) -> list[dict[str, Any]] | None:
    """The node's conditions all turned Unknown (None when they already are)."""
    existing = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    by_type = {c.get("type"): c for c in existing}
    changed = False
    for kind in CONDITION_TYPES:
        if kind not in by_type:
            by_type[kind] = {
                "type": kind,
                "status": "Unknown",
                "reason": NEVER_REASON,
                "message": NEVER_MESSAGE,
            }
            by_type[kind]["lastTransitionTime"] = stamp
            changed = True
    for entry in by_type.values():
        if entry.get("status") != "Unknown":
            entry.update(
                status="Unknown", reason=UNKNOWN_REASON, message=UNKNOWN_MESSAGE, lastTransitionTime=stamp
            )
            changed = True
    return list(by_type.values()) if changed else None


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 1

    def __init__(
        self, ctx: Context, period: float, grace: float, startup_grace: float, eviction_rate: float
    ) -> None:
        super().__init__(ctx)
        self.tick_period = period
        self.grace = grace
        self.startup_grace = startup_grace
        self.events = ctx.recorder.for_component("node-controller")
        self.nodes: Informer = ctx.informers.get(NODES)
        self.leases: Informer = ctx.informers.get(LEASES)
        self.pods: Informer = ctx.informers.ensure_index(PODS, NODE_INDEX, by_node)
        self.health: dict[str, Health] = {}
        self.limiter = tr.TokenBucket(eviction_rate, 1, self.clock.monotonic())

    async def reconcile(self, key: str) -> Result:
        return Result()

    async def tick(self) -> None:
        now = self.clock.monotonic()
        for node in self.nodes.list():
            try:
                await self._monitor(node, now)
            except ApiError as error:
                log.warning("node health update failed", node=name_of(node), error=str(error))
        for gone in set(self.health) - set(self.nodes.keys()):
            del self.health[gone]

    def _observe(self, node: Object, now: float) -> Health:
        lease = self.leases.get(NODE_LEASE_NAMESPACE, name_of(node))
        renew = str(((lease or {}).get("spec") or {}).get("renewTime") or "")
        heartbeat = str((condition(node, "Ready") or {}).get("lastHeartbeatTime") or "")
        seen = self.health.get(name_of(node))
        if seen is None or seen.renew_time != renew or seen.heartbeat != heartbeat:
            seen = Health(renew, heartbeat, now)
            self.health[name_of(node)] = seen
        return seen

    async def _monitor(self, node: Object, now: float) -> None:
        seen = self._observe(node, now)
        ready = condition(node, "Ready")
        grace = self.grace if ready is not None else self.startup_grace
        if now - seen.probed_at > grace:
            node = await self._mark_unknown(node, ready)
            ready = condition(node, "Ready")
        await self._taint(node, (ready or {}).get("status"))

    async def _mark_unknown(self, node: Object, ready: Any) -> Object:
        stamp = rfc3339(self.clock.now())
        conditions = unknown_conditions(node, stamp)
        if conditions is None:
            return node
        updated = await self.client.update_status(
            {**node, "status": {**node["status"], "conditions": conditions}}
        )
        log.info("node status unknown", node=name_of(node), grace=self.grace)
        if ready is not None and ready.get("status") == "True":
            self.events.normal(node, "NodeNotReady", f"Node {name_of(node)} status is now: NodeNotReady")
        await self._mark_pods_not_ready(name_of(node), stamp)
        return updated

    async def _mark_pods_not_ready(self, node_name: str, stamp: str) -> None:
        for pod in self.pods.by_index(NODE_INDEX, node_name):
            ready = condition(pod, "Ready")
            if is_deleting(pod) or ready is None or ready.get("status") == "False":
                continue
            status = copy.deepcopy(pod.get("status") or {})
            for entry in status.get("conditions") or []:
                if entry.get("type") == "Ready":
                    entry.update(status="False", lastTransitionTime=stamp)
            try:
                await self.client.update_status({**pod, "status": status})
            except ApiError as error:
                if error.code not in (404, 409):
                    raise

    async def _taint(self, node: Object, ready_status: str | None) -> None:
        wanted = tr.wanted_health_taint(ready_status)
        taints = (node.get("spec") or {}).get("taints") or []
        new = tr.with_health_taint(taints, wanted, rfc3339(self.clock.now()))
        if new is None:
            return
        had_health_taint = any(t.get("key") in tr.HEALTH_TAINTS for t in tr.no_execute_taints(node))
        if wanted is not None and not had_health_taint and not self.limiter.take(self.clock.monotonic()):
            return  # over the eviction rate: this node is tainted at a later tick
        updated = copy.deepcopy(node)
        updated.setdefault("spec", {})["taints"] = new
        await self.client.update(updated)
        log.info("node health taint", node=name_of(node), taint=wanted or "none")
