"""EndpointSlices following pods, and the garbage collectors, on a real control plane."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from services.controller_manager.objects import DEPLOYMENTS, ENDPOINTSLICES, NODES, PODS, REPLICASETS
from shared.apiclient import ApiClient
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from tests.integration.controller_manager.conftest import ManagerFactory, PodDriver, eventually, list_items
from tests.integration.controller_manager.test_deployment import deployment, rollout_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Object = dict[str, Any]


def service(name: str, namespace: str, app: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]},
    }


def pod(name: str, namespace: str, app: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {
            "containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [{"name": "web", "containerPort": 8080}]}
            ]
        },
    }


async def endpoints(admin: ApiClient, namespace: str, svc: str) -> list[Object]:
    slices = await list_items(admin, ENDPOINTSLICES, namespace, f"kubernetes.io/service-name={svc}")
    return [e for s in slices for e in s.get("endpoints") or []]


async def test_endpoint_slices_follow_pods_becoming_ready_terminating_and_gone(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=("endpointslice", "garbagecollector"))
    driver: PodDriver = await driver_for(namespace)
    driver.hold_ready = True
    svc = await admin.create(service("web", namespace, "web"))
    for n in range(3):
        await admin.create(pod(f"web-{n}", namespace, "web"))
    await admin.create(pod("other", namespace, "other"))

    async def placeholder_then_three_not_ready() -> bool:
        found = await endpoints(admin, namespace, "web")
        return len(found) == 3 and not any(e["conditions"]["ready"] for e in found)

    await eventually(placeholder_then_three_not_ready, what="3 not-ready endpoints (bound, with IPs)")
    driver.release()

    async def three_ready() -> bool:
        found = await endpoints(admin, namespace, "web")
        return len(found) == 3 and all(e["conditions"]["ready"] for e in found)

    await eventually(three_ready, what="3 ready endpoints")
    (endpoint_slice,) = await list_items(admin, ENDPOINTSLICES, namespace, "kubernetes.io/service-name=web")
    labels = endpoint_slice["metadata"]["labels"]
    assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert endpoint_slice["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert endpoint_slice["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    names = sorted(e["targetRef"]["name"] for e in endpoint_slice["endpoints"])
    assert names == ["web-0", "web-1", "web-2"]
    assert all(e["nodeName"].startswith("worker-") for e in endpoint_slice["endpoints"])

    await driver.stop()  # no kubelet: a deleted bound pod stays terminating
    await admin.delete(PODS, "web-0", namespace)

    async def terminating_shown() -> bool:
        found = {e["targetRef"]["name"]: e["conditions"] for e in await endpoints(admin, namespace, "web")}
        return found.get("web-0") == {"ready": False, "serving": True, "terminating": True}

    await eventually(terminating_shown, what="web-0 terminating, still serving")
    await admin.delete(PODS, "web-0", namespace, grace_period_seconds=0)

    async def two_left() -> bool:
        return sorted(e["targetRef"]["name"] for e in await endpoints(admin, namespace, "web")) == [
            "web-1",
            "web-2",
        ]

    await eventually(two_left, what="web-0 gone from the slice")

    from services.controller_manager.objects import SERVICES

    await admin.delete(SERVICES, "web", namespace)

    async def slices_collected() -> bool:
        return not await list_items(admin, ENDPOINTSLICES, namespace, "kubernetes.io/service-name=web")

    await eventually(slices_collected, what="the slices garbage-collected with their Service")


async def test_deleting_a_deployment_removes_its_replica_sets_and_pods(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=("replicaset", "deployment", "garbagecollector"))
    await driver_for(namespace)
    await admin.create(deployment("gone", namespace, 3))
    await eventually(lambda: rollout_complete(admin, namespace, "gone"), what="rollout")
    await admin.delete(DEPLOYMENTS, "gone", namespace)

    async def all_gone() -> bool:
        return not await list_items(admin, REPLICASETS, namespace) and not await list_items(
            admin, PODS, namespace
        )

    await eventually(all_gone, what="replica sets and pods collected")


async def test_foreground_deletion_waits_for_dependents_and_orphan_keeps_them(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=("replicaset", "deployment", "garbagecollector"))
    await driver_for(namespace)
    await admin.create(deployment("fg", namespace, 2))
    await admin.create(deployment("orph", namespace, 2))
    await eventually(lambda: rollout_complete(admin, namespace, "fg"), what="fg rollout")
    await eventually(lambda: rollout_complete(admin, namespace, "orph"), what="orph rollout")

    # The finalizers a delete with propagationPolicy Foreground / Orphan puts on the owner, set here so
    # the test does not depend on the API server's handling of the policy.
    for name, finalizer in (("fg", "foregroundDeletion"), ("orph", "orphan")):
        await admin.patch(DEPLOYMENTS, name, {"metadata": {"finalizers": [finalizer]}}, namespace)
    await admin.call(DEPLOYMENTS, "delete", _delete("fg", namespace, "Foreground"))

    async def fg_gone() -> bool:
        with contextlib.suppress(ApiError):
            await admin.get(DEPLOYMENTS, "fg", namespace)
            return False
        return not await list_items(admin, PODS, namespace, "app=fg")

    await eventually(fg_gone, what="foreground: dependents first, then the deployment")

    await admin.call(DEPLOYMENTS, "delete", _delete("orph", namespace, "Orphan"))

    async def orphaned() -> bool:
        with contextlib.suppress(ApiError):
            await admin.get(DEPLOYMENTS, "orph", namespace)
            return False
        (rs,) = await list_items(admin, REPLICASETS, namespace, "app=orph")
        return not rs["metadata"].get("ownerReferences")

    await eventually(orphaned, what="orphan: the ReplicaSet stays, without its owner reference")
    assert len(await list_items(admin, PODS, namespace, "app=orph")) == 2


def _delete(name: str, namespace: str, policy: str) -> ApiRequest:
    return ApiRequest.model_validate({"namespace": namespace, "name": name, "propagationPolicy": policy})


async def test_pod_gc_deletes_pods_of_a_deleted_node_and_old_terminated_pods(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory
) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "doomed"}}
    await admin.create(node)
    for name in ("on-doomed", "done-1", "done-2", "done-3"):
        await admin.create(pod(name, namespace, "gc"))
    await admin.bind("on-doomed", "doomed", namespace)
    for name in ("done-1", "done-2", "done-3"):
        current = await admin.get(PODS, name, namespace)
        await admin.update_status({**current, "status": {**current["status"], "phase": "Succeeded"}})
    await admin.delete(NODES, "doomed")
    await start_manager(controllers=("podgc",), pod_gc_period=0.5, terminated_pod_gc_threshold=1)

    async def collected() -> bool:
        names = sorted(p["metadata"]["name"] for p in await list_items(admin, PODS, namespace))
        return names == ["done-3"]

    await eventually(collected, what="the doomed node's pod and the two oldest finished pods deleted")
