"""Graceful deletion, node crash and recovery, partition and heal, pod kill — on a real control plane."""

from __future__ import annotations

import asyncio
from typing import Any

from services.kubelet import faults
from services.runtime.api import ContainerState
from shared.apiclient import ApiClient
from shared.errors import ApiError
from tests.integration.kubelet.conftest import LEASES, PODS, StartKubelet, eventually, make_pod

Object = dict[str, Any]


async def _phase(admin: ApiClient, namespace: str, name: str) -> str:
    pod = await admin.get(PODS, name, namespace)
    return str(pod.get("status", {}).get("phase", ""))


async def _running(admin: ApiClient, namespace: str, name: str) -> None:
    async def check() -> bool:
        return await _phase(admin, namespace, name) == "Running"

    await eventually(check, what=f"{name} Running")


async def _gone(admin: ApiClient, namespace: str, name: str) -> bool:
    try:
        await admin.get(PODS, name, namespace)
    except ApiError as error:
        return error.code == 404
    return False


async def test_graceful_deletion_waits_for_the_grace_period_then_removes_the_pod(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet("worker-5")
    stubborn = make_pod(
        "stubborn",
        namespace,
        annotations={"sim.kubenats.io/shutdown": "never"},
        terminationGracePeriodSeconds=3,
    )
    await admin.create(stubborn)
    await admin.bind("stubborn", "worker-5", namespace)
    await _running(admin, namespace, "stubborn")
    loop = asyncio.get_running_loop()

    marked = await admin.delete(PODS, "stubborn", namespace)
    began = loop.time()
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 3
    await asyncio.sleep(1.5)
    assert not await _gone(admin, namespace, "stubborn"), "removed before its grace period ran out"

    await eventually(lambda: _gone(admin, namespace, "stubborn"), timeout=10, what="pod removed")
    assert loop.time() - began >= 3.0
    # The container ignored SIGTERM, so it was killed at the deadline; the sandbox is gone with the pod.
    await eventually(lambda: _no_sandboxes(kubelet), what="sandbox removed")


async def _no_sandboxes(kubelet: Any) -> bool:
    return not await kubelet.runtime.list_pod_sandboxes()


async def test_node_crash_stops_lease_renewals_and_kills_containers_and_recovery_restarts_them(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet("worker-6")
    await admin.create(make_pod("app", namespace))
    await admin.bind("app", "worker-6", namespace)
    await _running(admin, namespace, "app")

    await faults.crash(kubelet)
    renewed = (await admin.get(LEASES, "worker-6", "kube-node-lease"))["spec"]["renewTime"]
    containers = await kubelet.runtime.list_containers()
    assert containers and all(c.state == ContainerState.EXITED and c.exit_code == 137 for c in containers)
    await asyncio.sleep(2.5)  # more than two lease intervals (1 s in these tests)
    assert (await admin.get(LEASES, "worker-6", "kube-node-lease"))["spec"]["renewTime"] == renewed

    await faults.recover(kubelet)

    async def restarted() -> bool:
        pod = await admin.get(PODS, "app", namespace)
        statuses = pod["status"].get("containerStatuses") or [{}]
        return (
            pod["status"]["phase"] == "Running"
            and statuses[0].get("restartCount") == 1
            and statuses[0]["ready"]
        )

    await eventually(restarted, what="app running again after the reboot")
    lease = await admin.get(LEASES, "worker-6", "kube-node-lease")
    assert lease["spec"]["renewTime"] != renewed


async def test_pod_deleted_during_a_partition_is_cleaned_up_on_heal(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet("worker-5")
    await admin.create(make_pod("left", namespace))
    await admin.bind("left", "worker-5", namespace)
    await _running(admin, namespace, "left")
    uid = (await admin.get(PODS, "left", namespace))["metadata"]["uid"]

    await faults.partition(kubelet)
    await admin.delete(PODS, "left", namespace, grace_period_seconds=0)
    await asyncio.sleep(1.5)
    sandboxes = await kubelet.runtime.list_pod_sandboxes()
    assert uid in {s.config.uid for s in sandboxes}, "a partitioned node cannot know of the deletion"

    await faults.heal(kubelet)

    async def cleaned() -> bool:
        return uid not in {s.config.uid for s in await kubelet.runtime.list_pod_sandboxes()}

    await eventually(cleaned, what="sandbox of the deleted pod removed")


async def test_killed_pod_container_exits_137_and_restarts(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet("worker-6")
    await admin.create(make_pod("victim", namespace))
    await admin.bind("victim", "worker-6", namespace)
    await _running(admin, namespace, "victim")

    assert await faults.kill_pod(kubelet, namespace, "victim")

    async def restarted() -> Object | None:
        pod = await admin.get(PODS, "victim", namespace)
        status = (pod["status"].get("containerStatuses") or [{}])[0]
        return status if status.get("restartCount") == 1 and "running" in status.get("state", {}) else None

    status = await eventually(restarted, what="victim restarted")
    assert status["lastState"]["terminated"]["exitCode"] == 137
