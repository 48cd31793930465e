"""The official ``kubernetes`` Python client against the HTTPS front: list, watch, create, patch, delete."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, watch  # type: ignore[import-untyped]
from kubernetes.client.rest import ApiException  # type: ignore[import-untyped]

from services.apiserver.local_cluster import LocalControlPlane
from tests.integration.rest.conftest import nats_get

SMP = "application/strategic-merge-patch+json"


def _pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {
            "containers": [{"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}]
        },
    }


def test_version_is_read_with_a_trailing_slash(api_client: Any) -> None:
    info = client.VersionApi(api_client).get_code()
    assert (info.major, info.minor, info.git_version) == ("1", "37", "v1.37.0+kubenats")


def test_create_then_list_with_a_label_selector(
    core: Any, namespace: str, control_plane: LocalControlPlane
) -> None:
    created = core.create_namespaced_pod(namespace, _pod("a"))
    core.create_namespaced_pod(namespace, _pod("b", app="db"))
    assert (
        created.metadata.uid == nats_get(control_plane, "", "v1", "pods", "a", namespace)["metadata"]["uid"]
    )
    listed = core.list_namespaced_pod(namespace, label_selector="app=web")
    assert [pod.metadata.name for pod in listed.items] == ["a"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)


def test_strategic_merge_patch_merges_containers_and_env_by_name(
    api_client: Any, namespace: str, control_plane: LocalControlPlane
) -> None:
    apps = client.AppsV1Api(api_client)
    template = {"metadata": {"labels": {"app": "web"}}, "spec": _pod("x")["spec"]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }
    apps.create_namespaced_deployment(namespace, deployment)
    patch = {
        "metadata": {"labels": {"tier": "front"}},
        "spec": {
            "template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}]}]}}
        },
    }
    patched = apps.patch_namespaced_deployment("web", namespace, patch, _content_type=SMP)
    container = patched.spec.template.spec.containers[0]
    assert (container.name, container.image) == ("web", "nginx:1.27")
    assert [(e.name, e.value) for e in container.env] == [("A", "1"), ("B", "2")]
    stored = nats_get(control_plane, "apps", "v1", "deployments", "web", namespace)
    assert stored["metadata"]["labels"] == {"tier": "front"}
    assert stored["metadata"]["generation"] == 2


def test_watch_streams_added_and_deleted_events(core: Any, namespace: str) -> None:
    start = core.list_namespaced_pod(namespace).metadata.resource_version
    core.create_namespaced_pod(namespace, _pod("w"))
    core.delete_namespaced_pod("w", namespace)
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_pod, namespace, resource_version=start, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            break
    assert seen == [("ADDED", "w"), ("DELETED", "w")]


def test_delete_of_a_missing_pod_is_not_found(core: Any, namespace: str) -> None:
    with pytest.raises(ApiException) as missing:
        core.delete_namespaced_pod("nope", namespace)
    assert missing.value.status == 404
    assert '"reason":"NotFound"' in missing.value.body.replace(" ", "")
