"""Server-side apply with the real kubectl: create, update in place, removal, conflicts, managedFields."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient, resource
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from tests.integration.rest.conftest import Kubectl, nats_get
from tests.manifests import MANIFESTS

NGINX_DEPLOYMENT = MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml"
NAME = "nginx-deployment"


def _manifest(replicas: int = 3, image: str = "nginx:1.14.2", ports: bool = True) -> str:
    obj = yaml.safe_load(NGINX_DEPLOYMENT.read_text())
    obj["spec"]["replicas"] = replicas
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["image"] = image
    if not ports:
        del container["ports"]
    return yaml.safe_dump(obj)


def _get(kubectl: Kubectl, namespace: str) -> Any:
    return json.loads(
        kubectl.ok("get", "-n", namespace, "deployment", NAME, "-o", "json", "--show-managed-fields")
    )


def _managers(obj: Any) -> dict[tuple[str, str], Any]:
    return {(m["manager"], m["operation"]): m for m in obj["metadata"]["managedFields"]}


def test_server_side_apply_creates_then_updates_in_place(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    assert out.strip() == f"deployment.apps/{NAME} serverside-applied"
    created = _get(kubectl, namespace)
    applied = _managers(created)[("kubectl", "Apply")]
    assert applied["apiVersion"] == "apps/v1" and applied["fieldsType"] == "FieldsV1"
    assert applied["fieldsV1"]["f:spec"]["f:replicas"] == {}

    changed = _manifest(replicas=2, image="nginx:1.16.1")
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", "-", stdin=changed)
    updated = _get(kubectl, namespace)
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["spec"]["replicas"] == 2
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.16.1"


def test_a_field_removed_from_the_applied_file_is_removed(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", "-", stdin=_manifest(ports=False))
    container = _get(kubectl, namespace)["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in container
    assert container["image"] == "nginx:1.14.2"


def test_conflict_with_client_side_apply_is_reported_and_force_conflicts_wins(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    failed = kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=_manifest(replicas=5))
    assert failed.returncode == 1
    assert (
        'error: Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
        ".spec.replicas"
    ) in failed.stderr
    assert "--force-conflicts" in failed.stderr
    assert _get(kubectl, namespace)["spec"]["replicas"] == 3

    kubectl.ok(
        "apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", stdin=_manifest(replicas=5)
    )
    forced = _get(kubectl, namespace)
    assert forced["spec"]["replicas"] == 5
    assert "f:replicas" in _managers(forced)[("kubectl", "Apply")]["fieldsV1"]["f:spec"]


def test_conflict_with_kubectl_scale_is_reported(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    kubectl.ok("scale", "-n", namespace, f"deployment/{NAME}", "--replicas=6")
    failed = kubectl("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    assert failed.returncode == 1
    assert "error: Apply failed with 1 conflict: conflict with" in failed.stderr
    assert ('conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas') in failed.stderr
    assert _get(kubectl, namespace)["spec"]["replicas"] == 6


def test_get_shows_managed_fields_only_when_asked(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    shown = yaml.safe_load(
        kubectl.ok("get", "-n", namespace, "deployment", NAME, "-o", "yaml", "--show-managed-fields")
    )
    (entry,) = shown["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    assert 'k:{"name":"nginx"}' in entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    hidden = yaml.safe_load(kubectl.ok("get", "-n", namespace, "deployment", NAME, "-o", "yaml"))
    assert "managedFields" not in hidden["metadata"]


def test_apply_over_nats_needs_a_field_manager_and_records_it(
    control_plane: LocalControlPlane, namespace: str
) -> None:
    deployments = resource("apps", "v1", "deployments")
    applied = yaml.safe_load(NGINX_DEPLOYMENT.read_text())

    async def apply_twice() -> Any:
        client = await ApiClient.connect(control_plane.url, control_plane.tokens["admin"], name="ssa-test")
        try:
            request = {
                "namespace": namespace,
                "name": NAME,
                "patch": applied,
                "patchType": "application/apply-patch+yaml",
                "fieldManager": "nats-applier",
            }
            unnamed = ApiRequest.model_validate({**request, "fieldManager": ""})
            with pytest.raises(ApiError) as raised:
                await client.call(deployments, "patch", unnamed)
            assert raised.value.code == 400
            await client.call(deployments, "patch", ApiRequest.model_validate(request))
            applied["spec"]["replicas"] = 1
            return await client.call(deployments, "patch", ApiRequest.model_validate(request))
        finally:
            await client.close()

    result = asyncio.run(apply_twice())
    assert result["spec"]["replicas"] == 1
    assert [(m["manager"], m["operation"]) for m in result["metadata"]["managedFields"]] == [
        ("nats-applier", "Apply")
    ]
    stored = nats_get(control_plane, "apps", "v1", "deployments", NAME, namespace)
    assert stored["metadata"]["uid"] == result["metadata"]["uid"]


def test_moving_from_client_side_to_server_side_apply_hands_fields_over(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    # kubectl rewrites managedFields to hand the client-side apply's fields to its own manager, and keeps
    # the last-applied annotation up to date under a manager of its own.
    assert set(_managers(_get(kubectl, namespace))) == {
        ("kubectl", "Apply"),
        ("kubectl-last-applied", "Apply"),
    }
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", "-", stdin=_manifest(ports=False))
    assert "ports" not in _get(kubectl, namespace)["spec"]["template"]["spec"]["containers"][0]


def test_every_write_records_its_field_manager(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("create", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    kubectl.ok(
        "apply", "--server-side", "--field-manager=team-a", "-n", namespace, "-f", "-", stdin=_manifest()
    )
    managers = _managers(_get(kubectl, namespace))
    assert set(managers) == {("kubectl-create", "Update"), ("team-a", "Apply")}
    # kubectl create owned the defaults the server filled in as well as what it sent.
    assert "f:revisionHistoryLimit" in managers[("kubectl-create", "Update")]["fieldsV1"]["f:spec"]
