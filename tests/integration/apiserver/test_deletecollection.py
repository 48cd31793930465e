"""``deletecollection`` over NATS: what a list selects is deleted, each object as a single delete would be."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from shared.apiclient import ApiClient, resource
from shared.errors import ApiError
from tests.integration.apiserver.conftest import NODES, PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPLICASETS = resource("apps", "v1", "replicasets")
Clients = Callable[[str], ApiClient]


async def _names(client: ApiClient, namespace: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in (await client.list(PODS, namespace))["items"])


async def _pods(admin: ApiClient, namespace: str, **apps: str) -> None:
    """Create one pod per ``name=app`` pair, labelled ``app=<app>``."""
    for name, app in apps.items():
        body = pod(name, namespace)
        body["metadata"]["labels"] = {"app": app}  # type: ignore[index]
        await admin.create(body)


async def test_label_selector_deletes_only_the_matching_objects_and_answers_them_as_listed(
    admin: ApiClient, namespace: str
) -> None:
    await _pods(admin, namespace, a="web", b="web", c="db")

    reply = await admin.delete_collection(PODS, namespace, label_selector="app=web")

    assert (reply["apiVersion"], reply["kind"]) == ("v1", "PodList")
    assert sorted(p["metadata"]["name"] for p in reply["items"]) == ["a", "b"]
    assert all("deletionTimestamp" not in p["metadata"] for p in reply["items"])  # as they were listed
    assert int(reply["metadata"]["resourceVersion"]) > 0
    assert await _names(admin, namespace) == ["c"]


async def test_field_selector_chooses_too(admin: ApiClient, namespace: str) -> None:
    await _pods(admin, namespace, a="web", b="web")

    await admin.delete_collection(PODS, namespace, field_selector="metadata.name=b")

    assert await _names(admin, namespace) == ["a"]


async def test_bound_pods_are_deleted_gracefully_and_unbound_ones_at_once(
    admin: ApiClient, namespace: str
) -> None:
    await _pods(admin, namespace, bound="web", slow="web", unbound="web")
    await admin.bind("bound", "worker-1", namespace)
    await admin.bind("slow", "worker-2", namespace)

    await admin.delete_collection(PODS, namespace, label_selector="app=web")

    assert await _names(admin, namespace) == ["bound", "slow"]
    for name in ("bound", "slow"):
        meta = (await admin.get(PODS, name, namespace))["metadata"]
        assert "deletionTimestamp" in meta and meta["deletionGracePeriodSeconds"] == 30

    # A second collection delete with a shorter grace period shortens it, as a single delete does.
    await admin.delete_collection(PODS, namespace, grace_period_seconds=5)
    assert (await admin.get(PODS, "bound", namespace))["metadata"]["deletionGracePeriodSeconds"] == 5
    await admin.delete_collection(PODS, namespace, grace_period_seconds=0)
    assert await _names(admin, namespace) == []


async def test_propagation_policy_adds_its_finalizer_to_every_object(
    admin: ApiClient, namespace: str
) -> None:
    for name in ("one", "two"):
        await admin.create(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": pod("x", namespace)["spec"]},
                },
            }
        )

    await admin.delete_collection(REPLICASETS, namespace, propagation_policy="Orphan")

    for name in ("one", "two"):
        meta = (await admin.get(REPLICASETS, name, namespace))["metadata"]
        assert meta["finalizers"] == ["orphan"] and "deletionTimestamp" in meta


async def test_dry_run_answers_the_list_and_deletes_nothing(admin: ApiClient, namespace: str) -> None:
    await _pods(admin, namespace, a="web", bound="web")
    await admin.bind("bound", "worker-1", namespace)
    before = (await admin.list(PODS, namespace))["items"]

    reply = await admin.delete_collection(PODS, namespace, dry_run=True, grace_period_seconds=0)

    assert sorted(p["metadata"]["name"] for p in reply["items"]) == ["a", "bound"]
    assert (await admin.list(PODS, namespace))["items"] == before


async def test_viewer_is_forbidden_and_nothing_is_deleted(
    client_for: Clients, admin: ApiClient, namespace: str
) -> None:
    await _pods(admin, namespace, a="web")

    with pytest.raises(ApiError) as refused:
        await client_for("viewer").delete_collection(PODS, namespace)

    assert (refused.value.code, refused.value.reason) == (403, "Forbidden")
    assert refused.value.message == (
        f'pods is forbidden: User "viewer" cannot deletecollection resource "pods" in API group "" '
        f'in the namespace "{namespace}"'
    )
    assert await _names(admin, namespace) == ["a"]


async def test_controller_manager_may_empty_a_namespace(
    client_for: Clients, admin: ApiClient, namespace: str
) -> None:
    await _pods(admin, namespace, a="web", b="db")

    await client_for("controller-manager").delete_collection(PODS, namespace)

    assert await _names(admin, namespace) == []


@pytest.mark.parametrize(
    ("label_selector", "field_selector"),
    [("app in (web", ""), ("", "spec.restartPolicy=Always"), ("", "metadata.name")],
)
async def test_bad_selector_is_a_bad_request_and_nothing_is_deleted(
    admin: ApiClient, namespace: str, label_selector: str, field_selector: str
) -> None:
    await _pods(admin, namespace, a="web")

    with pytest.raises(ApiError) as refused:
        await admin.delete_collection(
            PODS, namespace, label_selector=label_selector, field_selector=field_selector
        )

    assert refused.value.code == 400
    assert await _names(admin, namespace) == ["a"]


async def test_namespaced_resource_without_a_namespace_is_not_allowed(
    admin: ApiClient, namespace: str
) -> None:
    await _pods(admin, namespace, a="web")

    with pytest.raises(ApiError) as refused:
        await admin.delete_collection(PODS, "")

    assert (refused.value.code, refused.value.reason) == (405, "MethodNotAllowed")
    assert await _names(admin, namespace) == ["a"]


async def test_cluster_scoped_collection_is_deleted_by_selector(admin: ApiClient) -> None:
    batch = uuid.uuid4().hex[:8]
    for name, doomed in (("n-a", "yes"), ("n-b", "yes"), ("n-c", "no")):
        await admin.create(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"{name}-{batch}", "labels": {"batch": batch, "doomed": doomed}},
            }
        )

    reply = await admin.delete_collection(NODES, label_selector=f"batch={batch},doomed=yes")

    assert reply["kind"] == "NodeList" and len(reply["items"]) == 2
    left = await admin.list(NODES, label_selector=f"batch={batch}")
    assert [n["metadata"]["name"] for n in left["items"]] == [f"n-c-{batch}"]


async def test_namespaces_do_not_serve_deletecollection(admin: ApiClient, namespace: str) -> None:
    namespaces = resource("", "v1", "namespaces")

    with pytest.raises(ApiError) as refused:
        await admin.delete_collection(namespaces, field_selector=f"metadata.name={namespace}")

    assert refused.value.code == 405
    assert (await admin.get(namespaces, namespace))["metadata"]["name"] == namespace
