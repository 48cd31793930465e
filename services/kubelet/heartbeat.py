"""A node's presence in the API: registration, its status reports, and its Lease heartbeat.

As Kubernetes' kubelet: the Node is created (or adopted, when it exists from an earlier run) with its
capacity, labels, taints and podCIDR; its status is checked every ``status_interval`` and written when a
condition changed or the last report is older than :data:`REPORT_INTERVAL`; the Lease
``kube-node-lease/<node>`` is renewed every ``lease_seconds`` with a duration four times that (10 s /
40 s in Kubernetes), which is what the node lifecycle controller watches.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.kubelet.nodeconfig import NodeConfig
from services.kubelet.nodestatus import NodeHealth, adopt, conditions_changed, node_object, node_status
from shared.apiclient import ApiClient, resource
from shared.clock import Clock
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import Node, format_micro_time, to_dict

log = get_logger("kubelet.node")

NODES = resource("", "v1", "nodes")
LEASES = resource("coordination.k8s.io", "v1", "leases")
NODE_LEASE_NAMESPACE = "kube-node-lease"
REPORT_INTERVAL = 60.0
LEASE_DURATION_FACTOR = 4

Object = dict[str, Any]
HealthCheck = Callable[[], Awaitable[NodeHealth]]


class NodePresence:
    def __init__(self, api: ApiClient, config: NodeConfig, clock: Clock, lease_seconds: float) -> None:
        self.api = api
        self.config = config
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.boot_id = str(uuid.uuid4())
        self.ready: bool | None = None
        """The Ready status last reported."""
        self._node_uid = ""
        self._lease: Object | None = None
        self._reported_at = -REPORT_INTERVAL

    def reboot(self) -> None:
        """A new boot: a new boot id, and nothing known about the Lease or the last report."""
        self.boot_id = str(uuid.uuid4())
        self._lease, self._reported_at = None, -REPORT_INTERVAL

    # --- registration and status -------------------------------------------------------------------

    async def register(self, health: NodeHealth) -> None:
        """Create the Node, or adopt the existing one; then report its status."""
        try:
            created = await self.api.create(node_object(self.config))
            self._node_uid = created["metadata"]["uid"]
            log.info("node registered", node=self.config.name)
        except ApiError as error:
            if error.code != 409:
                raise
            existing = await self.api.get(NODES, self.config.name)
            update = adopt(existing, self.config)
            if update is not None:
                existing = await self.api.update(update)
            self._node_uid = existing["metadata"]["uid"]
            log.info("node adopted", node=self.config.name)
        await self.report(health, force=True)

    async def report(self, health: NodeHealth, *, force: bool = False) -> bool:
        """Write the node's status if anything but heartbeats changed, or if a report is due."""
        current = Node.model_validate(await self.api.get(NODES, self.config.name))
        now = self.clock.now()
        status = node_status(self.config, current.status.conditions, health, now, self.boot_id)
        due = self.clock.monotonic() - self._reported_at >= REPORT_INTERVAL
        if not (force or due or conditions_changed(current.status.conditions, status.conditions)):
            return False
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.config.name}}
        body["status"] = to_dict(status)
        await self.api.update_status(body)
        self._reported_at = self.clock.monotonic()
        if self.ready is not health.runtime_ok:
            log.info(
                "node readiness", node=self.config.name, ready=health.runtime_ok, why=health.runtime_message
            )
        self.ready = health.runtime_ok
        return True

    # --- the Lease ---------------------------------------------------------------------------------

    def _lease_object(self, now: datetime) -> Object:
        meta: Object = {"name": self.config.name, "namespace": NODE_LEASE_NAMESPACE}
        if self._node_uid:
            meta["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": self.config.name, "uid": self._node_uid}
            ]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.config.name,
                "leaseDurationSeconds": max(int(self.lease_seconds * LEASE_DURATION_FACTOR), 1),
                "renewTime": format_micro_time(now),
            },
        }

    async def renew_lease(self) -> None:
        """One heartbeat: update the Lease (created if missing), re-reading it once after a conflict."""
        for _ in range(2):
            now = self.clock.now()
            if self._lease is None:
                try:
                    self._lease = await self.api.get(LEASES, self.config.name, NODE_LEASE_NAMESPACE)
                except ApiError as error:
                    if error.code != 404:
                        raise
                    self._lease = await self.api.create(self._lease_object(now))
                    return
            wanted = self._lease_object(now)
            lease = {**self._lease, "spec": {**(self._lease.get("spec") or {}), **wanted["spec"]}}
            try:
                self._lease = await self.api.update(lease)
                return
            except ApiError as error:
                self._lease = None
                if error.code not in (404, 409):
                    raise
