"""The ReplicaSet controller on a real control plane: replicas, replacement, status, scale-down, adoption."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.controller_manager.objects import PODS, REPLICASETS
from shared.apiclient import ApiClient
from tests.integration.controller_manager.conftest import ManagerFactory, PodDriver, eventually, list_items

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Object = dict[str, Any]


def replica_set(name: str, namespace: str, replicas: int, app: str = "web") -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


async def active_pods(admin: ApiClient, namespace: str, app: str = "web") -> list[Object]:
    pods = await list_items(admin, PODS, namespace, f"app={app}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


async def test_replica_set_of_five_gets_five_owned_pods_and_replaces_a_deleted_one(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=("replicaset",))
    await driver_for(namespace)
    rs = await admin.create(replica_set("web", namespace, 5))

    async def five_available() -> bool:
        current = await admin.get(REPLICASETS, "web", namespace)
        status = current.get("status") or {}
        return status.get("availableReplicas") == 5 and status.get("readyReplicas") == 5

    await eventually(five_available, what="5 available replicas")
    pods = await active_pods(admin, namespace)
    assert len(pods) == 5
    for pod in pods:
        assert pod["metadata"]["name"].startswith("web-")
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref["uid"] == rs["metadata"]["uid"]
        assert ref["controller"] is True and ref["blockOwnerDeletion"] is True
    status = (await admin.get(REPLICASETS, "web", namespace))["status"]
    assert status["replicas"] == 5 and status["fullyLabeledReplicas"] == 5
    assert status["observedGeneration"] == rs["metadata"]["generation"]

    victim = pods[0]["metadata"]["name"]
    await admin.delete(PODS, victim, namespace)

    async def replaced() -> bool:
        names = {p["metadata"]["name"] for p in await active_pods(admin, namespace)}
        return len(names) == 5 and victim not in names

    await eventually(replaced, what="the deleted pod replaced")
    await eventually(five_available, what="5 available again")


async def test_never_more_pods_than_replicas_while_the_cache_catches_up(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory
) -> None:
    await start_manager(controllers=("replicaset",))
    seen: set[str] = set()
    most = 0
    watch = await admin.watch(PODS, namespace)

    async def count() -> None:
        nonlocal most
        async for event in watch:
            obj = event.get("object") or {}
            if event.get("type") == "ADDED":
                seen.add(obj["metadata"]["name"])
                most = max(most, len(seen))

    counter = asyncio.create_task(count())
    await admin.create(replica_set("burst", namespace, 30, app="burst"))
    await eventually(lambda: _ready(seen, 30), what="30 pods")
    # Extra reconciles (ReplicaSet status writes, pod updates) must not add pods.
    await asyncio.sleep(1.5)
    counter.cancel()
    await watch.stop()
    assert most == 30
    assert len(await active_pods(admin, namespace, "burst")) == 30


async def _ready(seen: set[str], n: int) -> bool:
    return len(seen) >= n


async def test_scale_down_deletes_unscheduled_pods_before_running_ones(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=("replicaset",))
    driver: PodDriver = await driver_for(namespace)
    await admin.create(replica_set("mixed", namespace, 3, app="mixed"))

    async def three_ready() -> bool:
        return ((await admin.get(REPLICASETS, "mixed", namespace)).get("status") or {}).get(
            "readyReplicas"
        ) == 3

    await eventually(three_ready, what="3 ready")
    await driver.stop()  # from now on new pods stay unscheduled
    await admin.scale(REPLICASETS, "mixed", 5, namespace)

    async def five_pods() -> bool:
        return len(await active_pods(admin, namespace, "mixed")) == 5

    await eventually(five_pods, what="5 pods")
    await admin.scale(REPLICASETS, "mixed", 3, namespace)

    async def back_to_three() -> bool:
        return len(await active_pods(admin, namespace, "mixed")) == 3

    await eventually(back_to_three, what="3 pods")
    remaining = await active_pods(admin, namespace, "mixed")
    assert all(p["spec"].get("nodeName") for p in remaining), "the unscheduled pods go first"


async def test_orphan_pod_matching_the_selector_is_adopted_and_a_relabelled_pod_released(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory
) -> None:
    await start_manager(controllers=("replicaset",))
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan", "namespace": namespace, "labels": {"app": "adopt"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    }
    await admin.create(orphan)
    rs = await admin.create(replica_set("adopt", namespace, 2, app="adopt"))

    async def adopted() -> bool:
        pods = await active_pods(admin, namespace, "adopt")
        pod = await admin.get(PODS, "orphan", namespace)
        refs = pod["metadata"].get("ownerReferences") or []
        return len(pods) == 2 and [r["uid"] for r in refs] == [rs["metadata"]["uid"]]

    await eventually(adopted, what="the orphan adopted, one pod created")
    await admin.patch(PODS, "orphan", {"metadata": {"labels": {"app": "other"}}}, namespace)

    async def released() -> bool:
        pod = await admin.get(PODS, "orphan", namespace)
        return (
            not pod["metadata"].get("ownerReferences")
            and len(await active_pods(admin, namespace, "adopt")) == 2
        )

    await eventually(released, what="the relabelled pod released and replaced")
