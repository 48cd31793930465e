"""Object semantics through the API server over NATS, on a real etcd cluster."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.apiclient import ApiClient
from shared.errors import ApiError
from tests.integration.apiserver.conftest import DEPLOYMENTS, NAMESPACES, PODS, SERVICES, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_created_pod_gets_server_metadata_and_defaults(admin: ApiClient, namespace: str) -> None:
    created = await admin.create(pod("web", namespace))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1
    assert created["spec"]["restartPolicy"] == "Always"
    assert created["spec"]["terminationGracePeriodSeconds"] == 30
    assert created["status"]["phase"] == "Pending"
    fetched = await admin.get(PODS, "web", namespace)
    assert fetched == created


async def test_generate_name_makes_unique_names(admin: ApiClient, namespace: str) -> None:
    template = pod("", namespace)
    template["metadata"] = {"generateName": "web-", "namespace": namespace}
    names = {(await admin.create(template))["metadata"]["name"] for _ in range(5)}
    assert len(names) == 5 and all(n.startswith("web-") and len(n) == 9 for n in names)


async def test_update_with_stale_resource_version_is_a_conflict(admin: ApiClient, namespace: str) -> None:
    created = await admin.create(pod("web", namespace))
    fresh = dict(created, metadata={**created["metadata"], "labels": {"app": "web", "v": "2"}})
    await admin.update(fresh)
    stale = dict(created, metadata={**created["metadata"], "labels": {"app": "web", "v": "3"}})
    with pytest.raises(ApiError) as caught:
        await admin.update(stale)
    assert caught.value.code == 409 and caught.value.reason == "Conflict"
    assert caught.value.message == (
        'Operation cannot be fulfilled on pods "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


async def test_status_is_written_only_through_the_status_subresource(
    admin: ApiClient, namespace: str
) -> None:
    created = await admin.create(pod("web", namespace))
    sneaky = {**created, "status": {"phase": "Running"}}
    updated = await admin.update(sneaky)
    assert updated["status"]["phase"] == "Pending"
    status = await admin.update_status(
        {**updated, "status": {"phase": "Running"}, "spec": {"containers": []}}
    )
    assert status["status"]["phase"] == "Running"
    assert status["spec"]["containers"][0]["name"] == "web"  # spec unchanged through /status


async def test_generation_counts_spec_changes_only(admin: ApiClient, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod("x", namespace)["spec"]},
        },
    }
    created = await admin.create(deployment)
    relabelled = await admin.update({**created, "metadata": {**created["metadata"], "labels": {"a": "b"}}})
    assert relabelled["metadata"]["generation"] == 1
    scaled = await admin.update({**relabelled, "spec": {**relabelled["spec"], "replicas": 3}})
    assert scaled["metadata"]["generation"] == 2


async def test_invalid_pod_is_refused_with_field_paths_and_not_stored(
    admin: ApiClient, namespace: str
) -> None:
    bad = pod("web", namespace)
    bad["spec"] = {"containers": [{"name": "", "image": "nginx"}]}
    with pytest.raises(ApiError) as caught:
        await admin.create(bad)
    assert caught.value.code == 422 and caught.value.reason == "Invalid"
    assert "spec.containers[0].name: Required value" in caught.value.message
    assert (await admin.list(PODS, namespace))["items"] == []


async def test_object_in_missing_namespace_is_refused(admin: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        await admin.create(pod("web", "no-such-namespace"))
    assert caught.value.code == 404 and caught.value.message == 'namespaces "no-such-namespace" not found'


async def test_services_get_distinct_cluster_ips(admin: ApiClient, namespace: str) -> None:
    ips = set()
    for n in range(3):
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"svc-{n}", "namespace": namespace},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
        created = await admin.create(service)
        assert created["spec"]["type"] == "ClusterIP"
        ips.add(created["spec"]["clusterIP"])
    assert len(ips) == 3 and all(ip.startswith("10.96.") for ip in ips)
    await admin.delete(SERVICES, "svc-0", namespace)


async def test_list_filters_by_labels_and_fields_and_pages(admin: ApiClient, namespace: str) -> None:
    for n in range(5):
        obj = pod(f"p{n}", namespace)
        obj["metadata"]["labels"] = {"app": "web", "tier": "front" if n % 2 else "back"}
        await admin.create(obj)
    await admin.bind("p1", "worker-1", namespace)
    front = await admin.list(PODS, namespace, label_selector="tier in (front),app=web")
    assert [p["metadata"]["name"] for p in front["items"]] == ["p1", "p3"]
    on_node = await admin.list(PODS, namespace, field_selector="spec.nodeName=worker-1")
    assert [p["metadata"]["name"] for p in on_node["items"]] == ["p1"]
    first = await admin.list(PODS, namespace, limit=2)
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    rest = await admin.list(PODS, namespace, limit=10, continue_token=first["metadata"]["continue"])
    assert [p["metadata"]["name"] for p in first["items"] + rest["items"]] == [f"p{n}" for n in range(5)]
    with pytest.raises(ApiError) as caught:
        await admin.list(PODS, namespace, field_selector="spec.restartPolicy=Always")
    assert caught.value.code == 400 and "field label not supported" in caught.value.message


async def test_bound_pod_is_deleted_gracefully_unbound_at_once(admin: ApiClient, namespace: str) -> None:
    await admin.create(pod("bound", namespace))
    await admin.create(pod("unbound", namespace))
    await admin.bind("bound", "worker-1", namespace)
    terminating = await admin.delete(PODS, "bound", namespace)
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    assert "deletionTimestamp" in (await admin.get(PODS, "bound", namespace))["metadata"]
    await admin.delete(PODS, "unbound", namespace)
    with pytest.raises(ApiError) as caught:
        await admin.get(PODS, "unbound", namespace)
    assert caught.value.code == 404
    await admin.delete(PODS, "bound", namespace, grace_period_seconds=0)
    with pytest.raises(ApiError):
        await admin.get(PODS, "bound", namespace)


async def test_binding_twice_is_a_conflict(admin: ApiClient, namespace: str) -> None:
    await admin.create(pod("web", namespace))
    await admin.bind("web", "worker-1", namespace)
    bound = await admin.get(PODS, "web", namespace)
    assert bound["spec"]["nodeName"] == "worker-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in bound["status"]["conditions"])
    with pytest.raises(ApiError) as caught:
        await admin.bind("web", "worker-2", namespace)
    assert caught.value.code == 409 and 'already assigned to node "worker-1"' in caught.value.message


async def test_namespace_deletion_marks_it_terminating_and_refuses_new_content(admin: ApiClient) -> None:
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}})
    deleted = await admin.delete(NAMESPACES, "going")
    assert deleted["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as caught:
        await admin.create(pod("late", "going"))
    assert caught.value.code == 403 and "being terminated" in caught.value.message


async def test_service_replace_without_cluster_ip_keeps_it(admin: ApiClient, namespace: str) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]},
    }
    created = await admin.create(service)
    replaced = await admin.update({**service, "metadata": created["metadata"]})
    assert replaced["spec"]["clusterIP"] == created["spec"]["clusterIP"]


async def test_scale_subresource_reads_and_sets_replicas(admin: ApiClient, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod("x", namespace)["spec"]},
        },
    }
    await admin.create(deployment)
    scale = await admin.get_scale(DEPLOYMENTS, "web", namespace)
    assert (scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]) == ("Scale", 2, "app=web")
    await admin.scale(DEPLOYMENTS, "web", 5, namespace)
    assert (await admin.get(DEPLOYMENTS, "web", namespace))["spec"]["replicas"] == 5


async def test_merge_patch_changes_only_what_it_names(admin: ApiClient, namespace: str) -> None:
    await admin.create(pod("web", namespace))
    patched = await admin.patch(PODS, "web", {"metadata": {"labels": {"tier": "front"}}}, namespace)
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert patched["spec"]["containers"][0]["image"] == "nginx:1.27"


async def test_list_at_an_exact_version_shows_the_state_then(admin: ApiClient, namespace: str) -> None:
    await admin.create(pod("first", namespace))
    before = (await admin.list(PODS, namespace))["metadata"]["resourceVersion"]
    await admin.create(pod("second", namespace))

    then = await admin.list(PODS, namespace, resource_version=before, resource_version_match="Exact")
    latest = await admin.list(PODS, namespace, resource_version=before, resource_version_match="NotOlderThan")

    assert [p["metadata"]["name"] for p in then["items"]] == ["first"]
    assert then["metadata"]["resourceVersion"] == before
    assert sorted(p["metadata"]["name"] for p in latest["items"]) == ["first", "second"]


async def test_list_at_a_version_from_the_future_is_a_timeout(admin: ApiClient, namespace: str) -> None:
    current = int((await admin.list(PODS, namespace))["metadata"]["resourceVersion"])
    with pytest.raises(ApiError) as error:
        await admin.list(PODS, namespace, resource_version=str(current + 1_000_000))
    assert error.value.code == 504 and "Too large resource version" in error.value.message


async def test_resource_version_match_without_a_version_is_refused(admin: ApiClient, namespace: str) -> None:
    with pytest.raises(ApiError) as error:
        await admin.list(PODS, namespace, resource_version_match="Exact")
    assert error.value.code == 400


POLICIES = [("Orphan", "orphan"), ("Foreground", "foregroundDeletion")]


@pytest.mark.parametrize(("policy", "finalizer"), POLICIES)
async def test_delete_with_a_propagation_policy_waits_on_its_finalizer(
    admin: ApiClient, namespace: str, policy: str, finalizer: str
) -> None:
    name = f"web-{finalizer.lower()}"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod("x", namespace)["spec"]},
        },
    }
    await admin.create(deployment)

    marked = await admin.delete(DEPLOYMENTS, name, namespace, propagation_policy=policy)

    assert marked["metadata"]["finalizers"] == [finalizer] and "deletionTimestamp" in marked["metadata"]
    stored = await admin.get(DEPLOYMENTS, name, namespace)
    stored["metadata"]["finalizers"] = []
    await admin.update(stored)
    with pytest.raises(ApiError) as gone:
        await admin.get(DEPLOYMENTS, name, namespace)
    assert gone.value.code == 404


async def test_finalize_subresource_lets_a_deleted_namespace_go(
    admin: ApiClient, client_for: Callable[[str], ApiClient]
) -> None:
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finalized"}})
    terminating = await admin.delete(NAMESPACES, "finalized")
    assert terminating["spec"]["finalizers"] == ["kubernetes"]

    with pytest.raises(ApiError) as refused:
        await client_for("viewer").finalize_namespace({**terminating, "spec": {"finalizers": []}})
    await client_for("controller-manager").finalize_namespace({**terminating, "spec": {"finalizers": []}})

    assert refused.value.code == 403
    with pytest.raises(ApiError) as gone:
        await admin.get(NAMESPACES, "finalized")
    assert gone.value.code == 404
