"""The Deployment controller on a real control plane: availability, rolling update bounds, rollback,
Recreate, pause, and the progress deadline."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from services.controller_manager import deployment_util as du
from services.controller_manager.objects import DEPLOYMENTS, PODS, REPLICASETS
from shared.apiclient import ApiClient
from tests.integration.controller_manager.conftest import ManagerFactory, PodDriver, eventually, list_items

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Object = dict[str, Any]
CONTROLLERS = ("replicaset", "deployment")


def deployment(name: str, namespace: str, replicas: int, image: str = "nginx:1.26", **spec: Any) -> Object:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


def condition(obj: Object, kind: str) -> Object:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry["type"] == kind:
            return dict(entry)
    return {}


async def rollout_complete(admin: ApiClient, namespace: str, name: str, image: str | None = None) -> bool:
    """``kubectl rollout status``'s success test, plus every live pod on ``image``."""
    d = await admin.get(DEPLOYMENTS, name, namespace)
    status, want = d.get("status") or {}, d["spec"]["replicas"]
    done = (
        status.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("replicas") == want
        and status.get("availableReplicas") == want
        and condition(d, "Progressing").get("reason") == "NewReplicaSetAvailable"
    )
    if not done or image is None:
        return done
    pods = [
        p
        for p in await list_items(admin, PODS, namespace, f"app={name}")
        if not p["metadata"].get("deletionTimestamp")
    ]
    return len(pods) == want and all(p["spec"]["containers"][0]["image"] == image for p in pods)


async def test_deployment_of_ten_reaches_ten_available_through_a_hash_named_replica_set(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=CONTROLLERS)
    await driver_for(namespace)
    created = await admin.create(deployment("web", namespace, 10))
    await eventually(lambda: rollout_complete(admin, namespace, "web"), what="rollout complete")
    d = await admin.get(DEPLOYMENTS, "web", namespace)
    assert condition(d, "Available")["status"] == "True"
    assert d["status"]["readyReplicas"] == 10 and d["status"]["unavailableReplicas"] == 0
    (rs,) = await list_items(admin, REPLICASETS, namespace)
    pod_hash = du.template_hash(created["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"][du.HASH_LABEL] == pod_hash
    assert rs["metadata"]["annotations"][du.REVISION] == "1"
    assert d["metadata"]["annotations"][du.REVISION] == "1"
    pods = await list_items(admin, PODS, namespace, f"{du.HASH_LABEL}={pod_hash}")
    assert len(pods) == 10


async def test_rolling_update_never_has_more_than_max_unavailable_unready_or_max_surge_extra(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=CONTROLLERS)
    await driver_for(namespace, ready_delay=0.2)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "20%", "maxSurge": 3}}
    await admin.create(deployment("roll", namespace, 10, strategy=strategy))
    await eventually(lambda: rollout_complete(admin, namespace, "roll"), what="first rollout")

    pods: dict[str, tuple[bool, bool]] = {}  # name -> (ready, terminating)
    fewest_ready, most_pods = 10, 0
    watch = await admin.watch(PODS, namespace, label_selector="app=roll")

    async def observe() -> None:
        nonlocal fewest_ready, most_pods
        async for event in watch:
            pod = event["object"]
            name = pod["metadata"]["name"]
            if event["type"] == "DELETED":
                pods.pop(name, None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                ready = condition(pod, "Ready").get("status") == "True"
                pods[name] = (ready, bool(pod["metadata"].get("deletionTimestamp")))
            else:
                continue
            if len(pods) >= 10:  # the initial ADDED events have all arrived
                fewest_ready = min(fewest_ready, sum(1 for r, t in pods.values() if r and not t))
                most_pods = max(most_pods, sum(1 for _, t in pods.values() if not t))

    observer = asyncio.create_task(observe())
    await asyncio.sleep(0.5)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    await admin.patch(DEPLOYMENTS, "roll", patch, namespace)
    await eventually(lambda: rollout_complete(admin, namespace, "roll", "nginx:1.27"), 40, "second rollout")
    observer.cancel()
    await watch.stop()
    assert fewest_ready >= 10 - 2, f"at one point only {fewest_ready} pods were ready"
    assert fewest_ready < 10, "the watch saw old pods go"
    assert most_pods <= 10 + 3
    replica_sets = await list_items(admin, REPLICASETS, namespace)
    sizes = sorted((du.revision(rs), rs["spec"]["replicas"]) for rs in replica_sets)
    assert sizes == [(1, 0), (2, 10)]


async def test_rollback_patches_the_old_template_back_and_reuses_its_replica_set(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=CONTROLLERS)
    await driver_for(namespace)
    await admin.create(deployment("undo", namespace, 4))
    await eventually(lambda: rollout_complete(admin, namespace, "undo"), what="revision 1")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    await admin.patch(DEPLOYMENTS, "undo", patch, namespace)
    await eventually(lambda: rollout_complete(admin, namespace, "undo", "nginx:1.27"), what="revision 2")

    # What `kubectl rollout undo` does: the template of the previous revision, without the hash label.
    replica_sets = await list_items(admin, REPLICASETS, namespace)
    first = next(rs for rs in replica_sets if du.revision(rs) == 1)
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"][du.HASH_LABEL]
    await admin.patch(DEPLOYMENTS, "undo", {"spec": {"template": template}}, namespace)
    await eventually(lambda: rollout_complete(admin, namespace, "undo", "nginx:1.26"), what="rolled back")

    replica_sets = await list_items(admin, REPLICASETS, namespace)
    assert len(replica_sets) == 2, "the old ReplicaSet is reused, not recreated"
    reused = next(rs for rs in replica_sets if rs["metadata"]["name"] == first["metadata"]["name"])
    assert du.revision(reused) == 3 and reused["spec"]["replicas"] == 4
    d = await admin.get(DEPLOYMENTS, "undo", namespace)
    assert d["metadata"]["annotations"][du.REVISION] == "3"


async def test_recreate_removes_every_old_pod_before_creating_new_ones(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=CONTROLLERS)
    await driver_for(namespace)
    await admin.create(deployment("again", namespace, 3, strategy={"type": "Recreate"}))
    await eventually(lambda: rollout_complete(admin, namespace, "again"), what="revision 1")
    images_seen: list[set[str]] = []
    watch = await admin.watch(PODS, namespace, label_selector="app=again")
    live: dict[str, str] = {}

    async def observe() -> None:
        async for event in watch:
            pod = event["object"]
            if event["type"] == "DELETED":
                live.pop(pod["metadata"]["name"], None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                live[pod["metadata"]["name"]] = pod["spec"]["containers"][0]["image"]
            images_seen.append(set(live.values()))

    observer = asyncio.create_task(observe())
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    await admin.patch(DEPLOYMENTS, "again", patch, namespace)
    await eventually(lambda: rollout_complete(admin, namespace, "again", "nginx:1.27"), what="recreated")
    observer.cancel()
    await watch.stop()
    assert images_seen and all(len(images) <= 1 for images in images_seen), "old and new pods never coexist"


async def test_paused_deployment_does_not_roll_until_resumed(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=CONTROLLERS)
    await driver_for(namespace)
    await admin.create(deployment("hold", namespace, 2))
    await eventually(lambda: rollout_complete(admin, namespace, "hold"), what="revision 1")
    await admin.patch(DEPLOYMENTS, "hold", {"spec": {"paused": True}}, namespace)

    async def paused_shown() -> bool:
        d = await admin.get(DEPLOYMENTS, "hold", namespace)
        return condition(d, "Progressing").get("reason") == "DeploymentPaused"

    await eventually(paused_shown, what="Progressing=Unknown DeploymentPaused")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    await admin.patch(DEPLOYMENTS, "hold", patch, namespace)
    await admin.patch(DEPLOYMENTS, "hold", {"spec": {"replicas": 3}}, namespace)

    async def scaled() -> bool:
        return len(await list_items(admin, REPLICASETS, namespace)) == 1 and (
            (await list_items(admin, REPLICASETS, namespace))[0]["spec"]["replicas"] == 3
        )

    await eventually(scaled, what="scaled while paused, no new ReplicaSet")
    await admin.patch(DEPLOYMENTS, "hold", {"spec": {"paused": False}}, namespace)
    await eventually(
        lambda: rollout_complete(admin, namespace, "hold", "nginx:1.27"), what="rolled after resume"
    )


async def test_rollout_that_makes_no_progress_reports_progress_deadline_exceeded(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=CONTROLLERS)
    driver: PodDriver = await driver_for(namespace)
    driver.hold_ready = True
    await admin.create(deployment("stuck", namespace, 2, progressDeadlineSeconds=2))

    async def timed_out() -> bool:
        d = await admin.get(DEPLOYMENTS, "stuck", namespace)
        cond = condition(d, "Progressing")
        return cond.get("status") == "False" and cond.get("reason") == "ProgressDeadlineExceeded"

    await eventually(timed_out, 15, "ProgressDeadlineExceeded")
    d = await admin.get(DEPLOYMENTS, "stuck", namespace)
    assert condition(d, "Available")["status"] == "False"
    driver.release()
    await eventually(
        lambda: rollout_complete(admin, namespace, "stuck"), what="recovered once pods are ready"
    )
