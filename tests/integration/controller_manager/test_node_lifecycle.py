"""Node failure on a real control plane: a node whose Lease stops being renewed is marked Unknown and
tainted, its pods are evicted after their tolerationSeconds, and the taint goes when it comes back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest

from services.controller_manager.objects import EVENTS, LEASES, NODES, PODS
from shared.apiclient import ApiClient
from shared.clock import RealClock
from shared.models.timestamps import format_micro_time, format_time
from tests.integration.controller_manager.conftest import ManagerFactory, eventually, list_items

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Object = dict[str, Any]
CLOCK = RealClock()


class Heartbeat:
    """The part of a kubelet that keeps its node's Lease renewed, until :meth:`stop`."""

    def __init__(self, admin: ApiClient, node: str) -> None:
        self.admin, self.node = admin, node
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Heartbeat:
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.node, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": self.node, "leaseDurationSeconds": 40, "renewTime": self._now()},
        }
        await self.admin.create(lease)
        self.task = asyncio.create_task(self._renew())
        return self

    def _now(self) -> str:
        return format_micro_time(CLOCK.now())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(0.3)
            patch = {"spec": {"renewTime": self._now()}}
            await self.admin.patch(LEASES, self.node, patch, "kube-node-lease")

    def resume(self) -> None:
        self.task = asyncio.create_task(self._renew())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


def ready_node(name: str) -> Object:
    now = format_time(CLOCK.now())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now},
            ]
        },
    }


def pod_on(name: str, namespace: str, seconds: int | None) -> Object:
    tolerations = []
    if seconds is not None:
        tolerations.append(
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": seconds,
            }
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "tolerations": tolerations},
    }


def taint_keys(node: Object) -> list[str]:
    return [t["key"] for t in (node.get("spec") or {}).get("taints") or []]


async def test_node_whose_lease_stops_is_unknown_tainted_and_its_pods_evicted_after_toleration(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory
) -> None:
    node = f"lost-{uuid.uuid4().hex[:6]}"
    await admin.create(ready_node(node))
    heartbeat = await Heartbeat(admin, node).start()
    await admin.create(pod_on("brief", namespace, 3))
    await admin.create(pod_on("patient", namespace, None))  # gets the API server's default 300 s
    for name in ("brief", "patient"):
        await admin.bind(name, node, namespace)
        pod = await admin.get(PODS, name, namespace)
        ready = {"type": "Ready", "status": "True", "lastTransitionTime": format_time(CLOCK.now())}
        await admin.update_status(
            {**pod, "status": {**pod["status"], "phase": "Running", "conditions": [ready]}}
        )
    await start_manager(
        controllers=("nodelifecycle", "taint-eviction"),
        node_monitor_period=0.3,
        node_monitor_grace_period=2.0,
    )
    await asyncio.sleep(3.0)
    healthy = await admin.get(NODES, node)
    assert taint_keys(healthy) == [], "a node renewing its lease stays untainted"

    await heartbeat.stop()

    async def unknown_and_tainted() -> bool:
        current = await admin.get(NODES, node)
        ready = next(c for c in current["status"]["conditions"] if c["type"] == "Ready")
        unreachable = ["node.kubernetes.io/unreachable"] * 2  # NoSchedule and NoExecute
        return ready["status"] == "Unknown" and taint_keys(current) == unreachable

    await eventually(unknown_and_tainted, 15, "Ready=Unknown and the unreachable taint")
    current = await admin.get(NODES, node)
    ready = next(c for c in current["status"]["conditions"] if c["type"] == "Ready")
    assert (
        ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
    )
    brief = await admin.get(PODS, "brief", namespace)
    assert next(c for c in brief["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"

    async def brief_evicted() -> bool:
        return bool((await admin.get(PODS, "brief", namespace))["metadata"].get("deletionTimestamp"))

    await eventually(brief_evicted, 15, "the pod tolerating 3 s evicted")
    patient = await admin.get(PODS, "patient", namespace)
    assert not patient["metadata"].get("deletionTimestamp"), "a 300 s toleration has not run out"
    events = await list_items(admin, EVENTS, namespace)
    assert any(
        e["reason"] == "TaintManagerEviction" and e["involvedObject"]["name"] == "brief" for e in events
    )

    # The kubelet comes back: it renews the lease and reports Ready again.
    heartbeat.resume()
    back = await admin.get(NODES, node)
    status = {**back["status"], "conditions": ready_node(node)["status"]["conditions"]}
    await admin.update_status({**back, "status": status})

    async def untainted() -> bool:
        return taint_keys(await admin.get(NODES, node)) == []

    await eventually(untainted, 15, "taint removed once Ready")
    await heartbeat.stop()
    node_events = await list_items(admin, EVENTS, "default")
    assert any(e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] == node for e in node_events)
