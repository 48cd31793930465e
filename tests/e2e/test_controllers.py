"""The controller manager on a whole cluster: Deployments scale, roll, roll back and go away on real
kubelets; a rollout finishes though the controller manager leading it is killed; EndpointSlices follow the
pods behind a Service.

Each test works in a namespace of its own, deleted when it ends; the one that kills the leading
controller manager waits until supervisord has restarted it, so the cluster is whole afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import pytest

from shared.apiclient import ApiClient, resource
from shared.cluster import ProcessInfo, status
from shared.cluster.supervisor import RUNNING
from shared.leaderelection import replica_of
from shared.models import LABEL_SERVICE_NAME
from tests.clusters import Cluster
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Object = dict[str, Any]

PODS = resource("", "v1", "pods")
SERVICES = resource("", "v1", "services")
NAMESPACES = resource("", "v1", "namespaces")
DEPLOYMENTS = resource("apps", "v1", "deployments")
REPLICASETS = resource("apps", "v1", "replicasets")
ENDPOINTSLICES = resource("discovery.k8s.io", "v1", "endpointslices")
LEASES = resource("coordination.k8s.io", "v1", "leases")

IMAGE_V1 = "nginx:1.25"
IMAGE_V2 = "nginx:1.26"
REVISION = "deployment.kubernetes.io/revision"
STRATEGIC: Final = "application/strategic-merge-patch+json"
# Scheduling, start-up and readiness of a handful of pods on two workers, with room for a loaded machine.
SETTLE_WITHIN = 60.0


@pytest.fixture
async def ns(namespace: str, admin: ApiClient) -> AsyncIterator[str]:
    """A namespace of the test's own, deleted (with everything in it) when the test ends."""
    yield namespace
    await admin.delete(NAMESPACES, namespace)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"timed out after {timeout:g} s waiting until {what}"
        await asyncio.sleep(0.3)


def deployment(
    name: str,
    replicas: int,
    image: str = IMAGE_V1,
    *,
    max_surge: int = 1,
    max_unavailable: int = 0,
    ready_delay: str = "0s",
) -> Object:
    """A Deployment of nginx pods with a readiness probe; ``ready_delay`` is how long after start-up the
    simulated container starts passing it."""
    labels = {"app": name}
    container = {
        "name": "web",
        "image": image,
        "ports": [{"name": "http", "containerPort": 80}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
            },
            "template": {
                "metadata": {"labels": labels, "annotations": {"sim.kubenats.io/ready-delay": ready_delay}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
            },
        },
    }


def is_ready(pod: Object) -> bool:
    """Ready and not being deleted: what a Service would send traffic to."""
    conditions = pod.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and "deletionTimestamp" not in pod["metadata"]


def image_of(obj: Object) -> str:
    """The image of the first container of a pod, or of a Deployment's or ReplicaSet's template."""
    spec = obj["spec"]["template"]["spec"] if obj.get("kind") != "Pod" else obj["spec"]
    return str(spec["containers"][0]["image"])


async def set_image(admin: ApiClient, namespace: str, name: str, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    await admin.patch(DEPLOYMENTS, name, patch, namespace, STRATEGIC)


async def rolled_out(admin: ApiClient, namespace: str, name: str, image: str) -> bool:
    """The Deployment runs ``image`` everywhere: observed, every replica updated, available, no old one."""
    found = await admin.get(DEPLOYMENTS, name, namespace)
    spec, status = found["spec"], found.get("status", {})
    wanted = spec.get("replicas", 1)
    return (
        image_of(found) == image
        and status.get("observedGeneration", 0) >= found["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
        and status.get("readyReplicas", 0) == wanted
    )


async def pods_of(admin: ApiClient, namespace: str, app: str) -> list[Object]:
    return list((await admin.list(PODS, namespace, label_selector=f"app={app}"))["items"])


async def pod_images_are(admin: ApiClient, namespace: str, images: list[str]) -> bool:
    """The app's pods, terminating ones included, run exactly these images."""
    return sorted(image_of(p) for p in await pods_of(admin, namespace, "web")) == images


async def test_deployment_of_ten_replicas_becomes_ten_ready_pods_on_workers(
    admin: ApiClient, ns: str
) -> None:
    await admin.create(deployment("web", 10), ns)

    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V1), SETTLE_WITHIN, "10 replicas are ready")
    pods = await pods_of(admin, ns, "web")
    assert len(pods) == 10 and all(is_ready(p) for p in pods)
    assert all(p["status"]["phase"] == "Running" and p["status"].get("podIP") for p in pods)
    assert {p["spec"]["nodeName"] for p in pods} <= {"worker-1", "worker-2"}, "a pod ran off the workers"
    (replica_set,) = (await admin.list(REPLICASETS, ns))["items"]
    assert replica_set["status"]["readyReplicas"] == 10
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == replica_set["metadata"]["uid"] for p in pods)


async def test_rolling_update_never_has_more_than_max_unavailable_pods_unready(
    admin: ApiClient, ns: str
) -> None:
    replicas, max_unavailable = 4, 1
    spec = deployment("web", replicas, max_surge=1, max_unavailable=max_unavailable, ready_delay="1s")
    await admin.create(spec, ns)
    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V1), SETTLE_WITHIN, "v1 is rolled out")

    listed = await admin.list(PODS, ns)
    ready = {p["metadata"]["name"]: image_of(p) for p in listed["items"] if is_ready(p)}
    assert len(ready) == replicas
    fewest_ready = len(ready)
    watch = await admin.watch(PODS, ns, resource_version=listed["metadata"]["resourceVersion"])

    async def follow() -> None:
        # Watch events come in resourceVersion order, so the set after each one is a state the cluster
        # really passed through.
        nonlocal fewest_ready
        async for event in watch:
            pod = event["object"]
            name = pod["metadata"]["name"]
            if event["type"] != "DELETED" and is_ready(pod):
                ready[name] = image_of(pod)
            else:
                ready.pop(name, None)
            fewest_ready = min(fewest_ready, len(ready))

    following = asyncio.create_task(follow())
    try:
        await set_image(admin, ns, "web", IMAGE_V2)

        async def done() -> bool:
            new_ready = [image for image in ready.values() if image == IMAGE_V2]
            return len(ready) == len(new_ready) == replicas and await rolled_out(admin, ns, "web", IMAGE_V2)

        await wait_until(done, SETTLE_WITHIN, "v2 is rolled out")
    finally:
        await watch.stop()
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    assert fewest_ready >= replicas - max_unavailable, (
        f"only {fewest_ready} of {replicas} pods were ready at one point (maxUnavailable {max_unavailable})"
    )
    assert fewest_ready < replicas, "the rollout never used its maxUnavailable budget"
    await wait_until(lambda: pod_images_are(admin, ns, [IMAGE_V2] * replicas), 30, "old pods are gone")


async def test_rollout_undo_restores_the_previous_template(admin: ApiClient, ns: str, kubenats: Cli) -> None:
    await admin.create(deployment("web", 2), ns)
    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V1), SETTLE_WITHIN, "v1 is rolled out")
    await set_image(admin, ns, "web", IMAGE_V2)
    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V2), SETTLE_WITHIN, "v2 is rolled out")

    # The CLI runs its own event loop, so it runs in a thread here, as in a second shell.
    undone = await asyncio.to_thread(kubenats, "rollout", "undo", "deployment/web", "-n", ns)
    assert undone.exit_code == 0, undone.output
    assert "deployment.apps/web rolled back" in undone.stdout

    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V1), SETTLE_WITHIN, "v1 is back")
    await wait_until(lambda: pod_images_are(admin, ns, [IMAGE_V1] * 2), 30, "only v1 pods are left")
    # As in Kubernetes, the first ReplicaSet is reused (no third one) and becomes revision 3.
    by_image = {image_of(rs): rs for rs in (await admin.list(REPLICASETS, ns))["items"]}
    assert set(by_image) == {IMAGE_V1, IMAGE_V2}
    assert by_image[IMAGE_V1]["metadata"]["annotations"][REVISION] == "3"
    assert by_image[IMAGE_V1]["spec"]["replicas"] == 2 and by_image[IMAGE_V2]["spec"]["replicas"] == 0


async def test_deleting_a_deployment_removes_its_replica_sets_and_pods(admin: ApiClient, ns: str) -> None:
    await admin.create(deployment("web", 3), ns)
    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V1), SETTLE_WITHIN, "3 replicas are ready")
    assert len((await admin.list(REPLICASETS, ns))["items"]) == 1

    await admin.delete(DEPLOYMENTS, "web", ns)

    async def all_gone() -> bool:
        return not (await admin.list(REPLICASETS, ns))["items"] and not await pods_of(admin, ns, "web")

    await wait_until(all_gone, SETTLE_WITHIN, "the ReplicaSet and its pods are gone")


async def lease_holder(admin: ApiClient) -> str:
    lease = await admin.get(LEASES, "kube-controller-manager", "kube-system")
    return replica_of(str(lease.get("spec", {}).get("holderIdentity") or ""))


async def test_rollout_finishes_after_the_leading_controller_manager_is_killed(
    admin: ApiClient, ns: str, cluster: Cluster
) -> None:
    replicas = 6
    # One pod at a time, each ready 2 s after it starts: a rollout of several seconds to interrupt.
    spec = deployment("web", replicas, max_surge=1, max_unavailable=0, ready_delay="2s")
    await admin.create(spec, ns)
    await wait_until(lambda: rolled_out(admin, ns, "web", IMAGE_V1), SETTLE_WITHIN, "v1 is rolled out")
    await set_image(admin, ns, "web", IMAGE_V2)

    async def midway() -> bool:
        updated = int((await admin.get(DEPLOYMENTS, "web", ns)).get("status", {}).get("updatedReplicas", 0))
        return 1 <= updated < replicas

    await wait_until(midway, SETTLE_WITHIN, "the rollout is under way")
    leader = await lease_holder(admin)
    program = f"{leader}-controller-manager"
    killed = cluster.pids()[program]
    os.kill(killed, signal.SIGKILL)
    renewed_at = (await admin.get(LEASES, "kube-controller-manager", "kube-system"))["spec"]["renewTime"]

    async def restarted() -> bool:
        info = {p.name: p for p in await asyncio.to_thread(programs, cluster)}.get(program)
        return info is not None and info.state == RUNNING and info.pid not in (0, killed)

    try:
        # Which replica finishes is not asserted: replicas elect under their replica name, so the killed
        # one, restarted by supervisord within the lease duration, may renew its own Lease first.

        async def finished() -> bool:
            return await rolled_out(admin, ns, "web", IMAGE_V2) and await pod_images_are(
                admin, ns, [IMAGE_V2] * replicas
            )

        await wait_until(finished, SETTLE_WITHIN, "the rollout finishes and the old pods are gone")
        lease = await admin.get(LEASES, "kube-controller-manager", "kube-system")
        assert lease["spec"]["holderIdentity"] and lease["spec"]["renewTime"] != renewed_at, (
            "no controller manager holds the lease since the leader was killed"
        )
    finally:
        await wait_until(restarted, SETTLE_WITHIN, f"supervisord restarts {program}")
        cluster.remember_pids()


def programs(cluster: Cluster) -> list[ProcessInfo]:
    return status(cluster.paths) or []


def slice_endpoints(slices: list[Object]) -> list[Object]:
    return [e for s in slices for e in s.get("endpoints") or []]


async def test_endpoint_slices_follow_pods_becoming_ready_and_going_away(admin: ApiClient, ns: str) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 8080, "targetPort": "http"}]},
    }
    await admin.create(service, ns)
    selector = f"{LABEL_SERVICE_NAME}=web"
    listed = await admin.list(ENDPOINTSLICES, ns, label_selector=selector)
    slices: dict[str, Object] = {s["metadata"]["name"]: s for s in listed["items"]}
    seen_unready: set[str] = set()
    watch = await admin.watch(
        ENDPOINTSLICES, ns, resource_version=listed["metadata"]["resourceVersion"], label_selector=selector
    )

    async def follow() -> None:
        async for event in watch:
            found = event["object"]
            if event["type"] == "DELETED":
                slices.pop(found["metadata"]["name"], None)
                continue
            slices[found["metadata"]["name"]] = found
            seen_unready.update(
                e["addresses"][0] for e in found.get("endpoints") or [] if not e["conditions"]["ready"]
            )

    following = asyncio.create_task(follow())
    try:
        # Pods that run for 3 s before their readiness probe passes: listed as not ready first.
        await admin.create(deployment("web", 2, ready_delay="3s"), ns)

        async def endpoints_are(count: int) -> bool:
            pods = [p for p in await pods_of(admin, ns, "web") if is_ready(p)]
            ready = {
                (e["addresses"][0], e.get("nodeName"))
                for e in slice_endpoints(list(slices.values()))
                if e["conditions"]["ready"]
            }
            return len(pods) == count and ready == {
                (p["status"]["podIP"], p["spec"]["nodeName"]) for p in pods
            }

        await wait_until(lambda: endpoints_are(2), SETTLE_WITHIN, "both pods are ready endpoints")
        pod_ips = {p["status"]["podIP"] for p in await pods_of(admin, ns, "web")}
        assert pod_ips <= seen_unready, "a pod was never listed as a not-ready endpoint before it was ready"
        ports = [s.get("ports") for s in slices.values() if s.get("endpoints")]
        assert ports and all(p == [{"name": "web", "port": 80, "protocol": "TCP"}] for p in ports), ports

        await admin.scale(DEPLOYMENTS, "web", 1, ns)
        await wait_until(lambda: endpoints_are(1), SETTLE_WITHIN, "one pod is left as an endpoint")

        await admin.scale(DEPLOYMENTS, "web", 0, ns)

        async def no_endpoints() -> bool:
            return not slice_endpoints(list(slices.values())) and not await pods_of(admin, ns, "web")

        await wait_until(no_endpoints, SETTLE_WITHIN, "the slices are empty once the pods are gone")
    finally:
        await watch.stop()
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
