"""Server-side dry run over NATS: every write verb answers what it would store and changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.subscription import Subscription

from shared.apiclient import ApiClient
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from shared.patch import APPLY_PATCH, STRATEGIC_MERGE_PATCH
from tests.integration.apiserver.conftest import DEPLOYMENTS, PODS, SERVICES, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DRY = ["All"]


@pytest.fixture
async def observed(admin: ApiClient) -> AsyncIterator[Subscription]:
    """Every change published on ``watch.…`` for pods, services and deployments during the test."""
    subscription = await admin.nc.subscribe("watch.>")
    await admin.nc.flush()
    yield subscription
    await subscription.unsubscribe()


async def published_names(admin: ApiClient, subscription: Subscription, namespace: str) -> list[str]:
    """The events published for ``namespace`` since the last call, up to a marker written now.

    The API server publishes each change after writing it, so any event of an earlier request arrives
    before the marker's.
    """
    marker = f"marker-{uuid.uuid4().hex[:6]}"
    await admin.create(pod(marker, namespace))
    names: list[str] = []
    async with asyncio.timeout(10):
        while True:
            event = json.loads((await subscription.next_msg(timeout=10)).data)
            meta = event["object"]["metadata"]
            if meta.get("namespace") != namespace:
                continue
            if meta["name"] == marker:
                return names
            names.append(f"{event['type']} {meta['name']}")


def deployment(name: str, namespace: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


async def test_dry_run_create_returns_the_object_and_stores_nothing(
    admin: ApiClient, namespace: str, observed: Subscription
) -> None:
    before = await admin.list(PODS, namespace)
    created = await admin.call(
        PODS, "create", ApiRequest(namespace=namespace, body=pod("web", namespace), dry_run=DRY)
    )
    assert created["metadata"]["name"] == "web"
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"]
    assert "resourceVersion" not in created["metadata"]
    assert created["spec"]["restartPolicy"] == "Always"  # defaulted
    assert created["metadata"]["managedFields"][0]["operation"] == "Update"
    with pytest.raises(ApiError) as missing:
        await admin.get(PODS, "web", namespace)
    assert missing.value.code == 404
    after = await admin.list(PODS, namespace)
    assert (
        after["items"] == [] and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    )
    assert await published_names(admin, observed, namespace) == []


async def test_dry_run_create_still_reports_invalid_objects_and_existing_names(
    admin: ApiClient, namespace: str
) -> None:
    invalid = pod("Bad_Name", namespace)
    with pytest.raises(ApiError) as refused:
        await admin.call(PODS, "create", ApiRequest(namespace=namespace, body=invalid, dry_run=DRY))
    assert refused.value.code == 422
    await admin.create(pod("web", namespace))
    with pytest.raises(ApiError) as exists:
        await admin.call(
            PODS, "create", ApiRequest(namespace=namespace, body=pod("web", namespace), dry_run=DRY)
        )
    assert exists.value.reason == "AlreadyExists"


async def test_unknown_dry_run_value_is_a_bad_request(admin: ApiClient, namespace: str) -> None:
    with pytest.raises(ApiError) as refused:
        await admin.call(
            PODS, "create", ApiRequest(namespace=namespace, body=pod("web", namespace), dry_run=["x"])
        )
    assert refused.value.code == 400
    assert refused.value.message == 'dryRun: Unsupported value: "x": supported values: "All"'


async def test_dry_run_update_and_patches_answer_the_change_without_making_it(
    admin: ApiClient, namespace: str, observed: Subscription
) -> None:
    stored = await admin.create(pod("web", namespace))
    await published_names(admin, observed, namespace)  # the real create's event
    version = stored["metadata"]["resourceVersion"]
    changed = {**stored, "metadata": {**stored["metadata"], "labels": {"app": "web", "tier": "front"}}}
    updated = await admin.call(
        PODS, "update", ApiRequest(namespace=namespace, name="web", body=changed, dry_run=DRY)
    )
    assert updated["metadata"]["labels"]["tier"] == "front"
    merged = await admin.call(
        PODS,
        "patch",
        ApiRequest(namespace=namespace, name="web", patch={"metadata": {"labels": {"v": "2"}}}, dry_run=DRY),
    )
    assert merged["metadata"]["labels"]["v"] == "2"
    strategic = await admin.call(
        PODS,
        "patch",
        ApiRequest(
            namespace=namespace,
            name="web",
            patch={"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}},
            patch_type=STRATEGIC_MERGE_PATCH,
            dry_run=DRY,
        ),
    )
    assert strategic["spec"]["containers"][0]["image"] == "nginx:1.28"
    applied_config = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"a": "1"}}}
    applied = await admin.call(
        PODS,
        "patch",
        ApiRequest(
            namespace=namespace,
            name="web",
            patch=applied_config,
            patch_type=APPLY_PATCH,
            field_manager="tester",
            dry_run=DRY,
        ),
    )
    assert applied["metadata"]["labels"]["a"] == "1"
    assert "tester" in [entry["manager"] for entry in applied["metadata"]["managedFields"]]
    now = await admin.get(PODS, "web", namespace)
    assert now == stored
    assert now["metadata"]["resourceVersion"] == version
    assert await published_names(admin, observed, namespace) == []


async def test_dry_run_write_still_reports_conflicts_and_invalid_changes(
    admin: ApiClient, namespace: str
) -> None:
    stored = await admin.create(pod("web", namespace))
    stale = {**stored, "metadata": {**stored["metadata"], "resourceVersion": "1"}}
    with pytest.raises(ApiError) as conflict:
        await admin.call(PODS, "update", ApiRequest(namespace=namespace, name="web", body=stale, dry_run=DRY))
    assert conflict.value.reason == "Conflict"
    renamed_container = {"spec": {"containers": [{"name": "web", "image": ""}]}}
    with pytest.raises(ApiError) as invalid:
        await admin.call(
            PODS,
            "patch",
            ApiRequest(
                namespace=namespace,
                name="web",
                patch=renamed_container,
                patch_type=STRATEGIC_MERGE_PATCH,
                dry_run=DRY,
            ),
        )
    assert invalid.value.code == 422
    with pytest.raises(ApiError) as not_found:
        await admin.call(PODS, "patch", ApiRequest(namespace=namespace, name="none", patch={}, dry_run=DRY))
    assert not_found.value.code == 404


async def test_dry_run_apply_of_a_new_object_creates_nothing(admin: ApiClient, namespace: str) -> None:
    config = pod("web", namespace)
    applied = await admin.call(
        PODS,
        "patch",
        ApiRequest(
            namespace=namespace,
            name="web",
            patch=config,
            patch_type=APPLY_PATCH,
            field_manager="t",
            dry_run=DRY,
        ),
    )
    assert applied["metadata"]["managedFields"][0]["operation"] == "Apply"
    with pytest.raises(ApiError) as missing:
        await admin.get(PODS, "web", namespace)
    assert missing.value.code == 404


async def test_dry_run_status_and_scale_writes_change_nothing(admin: ApiClient, namespace: str) -> None:
    stored = await admin.create(deployment("web", namespace, replicas=1))
    scaled = await admin.call(
        DEPLOYMENTS,
        "scale",
        ApiRequest(namespace=namespace, name="web", patch={"spec": {"replicas": 5}}, dry_run=DRY),
    )
    assert scaled["spec"]["replicas"] == 5
    status = await admin.call(
        DEPLOYMENTS,
        "status",
        ApiRequest(namespace=namespace, name="web", patch={"status": {"replicas": 3}}, dry_run=DRY),
    )
    assert status["status"]["replicas"] == 3
    now = await admin.get(DEPLOYMENTS, "web", namespace)
    assert now == stored


async def test_dry_run_delete_returns_the_object_and_leaves_it(
    admin: ApiClient, namespace: str, observed: Subscription
) -> None:
    stored = await admin.create(pod("web", namespace))
    bound = await admin.create(pod("bound", namespace, nodeName="worker-1"))
    await published_names(admin, observed, namespace)
    deleted = await admin.call(PODS, "delete", ApiRequest(namespace=namespace, name="web", dry_run=DRY))
    assert deleted == stored
    graceful = await admin.call(PODS, "delete", ApiRequest(namespace=namespace, name="bound", dry_run=DRY))
    assert "deletionTimestamp" in graceful["metadata"]  # as it would be marked
    foreground = await admin.call(
        PODS,
        "delete",
        ApiRequest(namespace=namespace, name="web", propagation_policy="Foreground", dry_run=DRY),
    )
    assert "foregroundDeletion" in foreground["metadata"]["finalizers"]
    assert await admin.get(PODS, "web", namespace) == stored
    assert await admin.get(PODS, "bound", namespace) == bound
    assert await published_names(admin, observed, namespace) == []


async def test_dry_run_service_shows_a_free_cluster_ip_without_reserving_it(
    admin: ApiClient, namespace: str
) -> None:
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    pinned = {**service, "spec": {**service["spec"], "clusterIP": "10.96.200.7"}}
    dry = await admin.call(SERVICES, "create", ApiRequest(namespace=namespace, body=pinned, dry_run=DRY))
    assert dry["spec"]["clusterIP"] == "10.96.200.7"
    # The address stayed free: a real create may take it.
    real = await admin.create(pinned)
    assert real["spec"]["clusterIP"] == "10.96.200.7"
    other = {**service, "metadata": {"name": "other", "namespace": namespace}}
    drawn = await admin.call(SERVICES, "create", ApiRequest(namespace=namespace, body=other, dry_run=DRY))
    assert drawn["spec"]["clusterIP"].startswith("10.96.") and drawn["spec"]["clusterIP"] != "10.96.200.7"
    taken = {**other, "spec": {**service["spec"], "clusterIP": "10.96.200.7"}}
    with pytest.raises(ApiError) as allocated:
        await admin.call(SERVICES, "create", ApiRequest(namespace=namespace, body=taken, dry_run=DRY))
    assert "already allocated" in allocated.value.message
    await admin.delete(SERVICES, "web", namespace)
    again = await admin.create(
        {**service, "metadata": {"name": "again", "namespace": namespace}, "spec": pinned["spec"]}
    )
    assert again["spec"]["clusterIP"] == "10.96.200.7"  # freed by the delete, never held by a dry run


async def test_dry_run_is_refused_to_users_who_may_not_write(client_for: Any, namespace: str) -> None:
    viewer = client_for("viewer")
    with pytest.raises(ApiError) as forbidden:
        await viewer.call(
            PODS, "create", ApiRequest(namespace=namespace, body=pod("web", namespace), dry_run=DRY)
        )
    assert forbidden.value.code == 403


async def test_eviction_with_dry_run_delete_options_keeps_the_pod(admin: ApiClient, namespace: str) -> None:
    bound = await admin.create(pod("bound", namespace, nodeName="worker-1"))
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "bound", "namespace": namespace},
        "deleteOptions": {"dryRun": ["All"]},
    }
    await admin.call(PODS, "eviction", ApiRequest(namespace=namespace, name="bound", body=eviction))
    assert await admin.get(PODS, "bound", namespace) == bound
    eviction["deleteOptions"] = {"dryRun": ["x"]}
    with pytest.raises(ApiError) as refused:
        await admin.call(PODS, "eviction", ApiRequest(namespace=namespace, name="bound", body=eviction))
    assert refused.value.code == 400
