"""``DELETE`` on a collection path over HTTPS: the official Python client's ``delete_collection_*`` and raw
requests with ``DeleteOptions`` bodies, answered as kube-apiserver answers them; and, sharing the control
plane, the ``Completed`` row condition of finished pods in server-side Tables."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from services.apiserver.local_cluster import LocalControlPlane
from tests.integration.rest.conftest import Kubectl, nats_get

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _pod(name: str, app: str, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": spec,
    }


def _names(core: Any, namespace: str) -> list[str]:
    return sorted(p.metadata.name for p in core.list_namespaced_pod(namespace).items)


def _https(
    cp: LocalControlPlane,
    method: str,
    path: str,
    body: Any = None,
    identity: str = "admin",
    accept: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    """A raw request; the status code and the JSON reply, success or not."""
    assert cp.pki is not None
    request = urllib.request.Request(
        cp.https_url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {cp.tokens.get(identity, identity)}",
            "Content-Type": "application/json",
            "Accept": accept,
        },
    )
    context = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- the official Python client ---------------------------------------------------------------------------


def test_python_client_deletes_the_pods_its_label_selector_matches(
    core: Any, namespace: str, control_plane: LocalControlPlane
) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_pod(namespace, _pod(name, app))

    reply = core.delete_collection_namespaced_pod(namespace, label_selector="app=web")

    assert reply.kind == "PodList"  # kube-apiserver answers the list, which the client reads as a Status
    assert _names(core, namespace) == ["c"]
    assert nats_get(control_plane, "", "v1", "pods", "a", namespace) is None
    assert nats_get(control_plane, "", "v1", "pods", "c", namespace) is not None


def test_python_client_reply_is_the_pod_list_as_it_was_listed(core: Any, namespace: str) -> None:
    core.create_namespaced_pod(namespace, _pod("a", "web", node="worker-1"))

    raw = core.delete_collection_namespaced_pod(namespace, _preload_content=False)

    listed = json.loads(raw.data)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "PodList")
    assert [p["metadata"]["name"] for p in listed["items"]] == ["a"]
    assert "deletionTimestamp" not in listed["items"][0]["metadata"]
    # The bound pod is terminating gracefully, not gone.
    assert core.read_namespaced_pod("a", namespace).metadata.deletion_grace_period_seconds == 30


def test_python_client_dry_run_in_delete_options_deletes_nothing(core: Any, namespace: str) -> None:
    core.create_namespaced_pod(namespace, _pod("a", "web"))

    core.delete_collection_namespaced_pod(namespace, body=client.V1DeleteOptions(dry_run=["All"]))

    assert _names(core, namespace) == ["a"]


def test_python_client_deletes_cluster_scoped_nodes_by_label(core: Any) -> None:
    batch = uuid.uuid4().hex[:8]
    for name, doomed in (("a", "yes"), ("b", "no")):
        core.create_node(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"{name}-{batch}", "labels": {"batch": batch, "doomed": doomed}},
            }
        )

    core.delete_collection_node(label_selector=f"batch={batch},doomed=yes")

    left = core.list_node(label_selector=f"batch={batch}").items
    assert [n.metadata.name for n in left] == [f"b-{batch}"]


def test_python_client_has_no_namespace_collection_delete_and_the_server_refuses_it(
    control_plane: LocalControlPlane, namespace: str
) -> None:
    assert not hasattr(client.CoreV1Api, "delete_collection_namespace")  # Kubernetes does not serve it

    code, status = _https(
        control_plane, "DELETE", f"/api/v1/namespaces?fieldSelector=metadata.name%3D{namespace}"
    )

    assert (code, status["kind"], status["reason"]) == (405, "Status", "MethodNotAllowed")
    assert nats_get(control_plane, "", "v1", "namespaces", namespace) is not None


def test_python_client_viewer_is_forbidden(
    control_plane: LocalControlPlane, core: Any, namespace: str
) -> None:
    assert control_plane.pki is not None
    core.create_namespaced_pod(namespace, _pod("a", "web"))
    configuration = client.Configuration()
    configuration.host = control_plane.https_url
    configuration.ssl_ca_cert = str(control_plane.pki.ca_cert)
    configuration.api_key = {"authorization": control_plane.tokens["viewer"]}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(configuration) as viewer_api, pytest.raises(ApiException) as refused:
        client.CoreV1Api(viewer_api).delete_collection_namespaced_pod(namespace)

    assert refused.value.status == 403
    assert json.loads(refused.value.body or "{}")["message"] == (
        f'pods is forbidden: User "viewer" cannot deletecollection resource "pods" in API group "" '
        f'in the namespace "{namespace}"'
    )
    assert _names(core, namespace) == ["a"]


# --- raw HTTPS ---------------------------------------------------------------------------------------------


def test_delete_options_body_sets_the_grace_period_of_every_pod(
    control_plane: LocalControlPlane, core: Any, namespace: str
) -> None:
    for name in ("a", "b"):
        core.create_namespaced_pod(namespace, _pod(name, "web", node="worker-1"))
    core.create_namespaced_pod(namespace, _pod("keep", "db", node="worker-1"))

    code, reply = _https(
        control_plane,
        "DELETE",
        f"/api/v1/namespaces/{namespace}/pods?labelSelector=app%3Dweb",
        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 7},
    )

    assert (code, reply["kind"]) == (200, "PodList")
    assert [p["metadata"]["name"] for p in reply["items"]] == ["a", "b"]
    for name in ("a", "b"):
        assert core.read_namespaced_pod(name, namespace).metadata.deletion_grace_period_seconds == 7
    assert core.read_namespaced_pod("keep", namespace).metadata.deletion_timestamp is None

    code, _ = _https(
        control_plane,
        "DELETE",
        f"/api/v1/namespaces/{namespace}/pods?labelSelector=app%3Dweb",
        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0},
    )
    assert code == 200 and _names(core, namespace) == ["keep"]


def test_dry_run_query_and_propagation_policy_body(
    control_plane: LocalControlPlane, api_client: Any, namespace: str
) -> None:
    apps: Any = client.AppsV1Api(api_client)
    template = {"metadata": {"labels": {"app": "web"}}, "spec": _pod("x", "web")["spec"]}
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
        },
    )
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"

    code, reply = _https(control_plane, "DELETE", f"{path}?dryRun=All", {"propagationPolicy": "Foreground"})
    assert (code, reply["kind"]) == (200, "DeploymentList")
    assert apps.read_namespaced_deployment("web", namespace).metadata.finalizers is None

    code, _ = _https(control_plane, "DELETE", path, {"propagationPolicy": "Foreground"})
    meta = apps.read_namespaced_deployment("web", namespace).metadata
    assert code == 200 and meta.finalizers == ["foregroundDeletion"] and meta.deletion_timestamp is not None


def test_all_namespaces_path_is_not_allowed_and_is_authorized_first(
    control_plane: LocalControlPlane, core: Any, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, _pod("a", "web"))

    code, status = _https(control_plane, "DELETE", "/api/v1/pods")
    assert (code, status["reason"]) == (405, "MethodNotAllowed")
    assert status["message"] == "the server does not allow this method on the requested resource"

    code, status = _https(control_plane, "DELETE", "/api/v1/pods", identity="viewer")
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'pods is forbidden: User "viewer" cannot deletecollection resource "pods" in API group "" '
        "at the cluster scope"
    )
    assert _names(core, namespace) == ["a"]


def test_bad_label_selector_is_a_bad_request_and_deletes_nothing(
    control_plane: LocalControlPlane, core: Any, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, _pod("a", "web"))

    code, status = _https(
        control_plane, "DELETE", f"/api/v1/namespaces/{namespace}/pods?labelSelector=app+in+%28web"
    )

    assert (code, status["kind"], status["code"]) == (400, "Status", 400)
    assert _names(core, namespace) == ["a"]


def test_discovery_lists_deletecollection_for_pods_and_not_for_namespaces(
    control_plane: LocalControlPlane,
) -> None:
    code, resources = _https(control_plane, "GET", "/api/v1")

    verbs = {entry["name"]: entry["verbs"] for entry in resources["resources"]}
    assert (
        code == 200 and "deletecollection" in verbs["pods"] and "deletecollection" not in verbs["namespaces"]
    )


def test_delete_options_body_without_a_content_type_is_read_as_json(core: Any, namespace: str) -> None:
    # The Python client sends DeleteOptions with no Content-Type; kube-apiserver reads such a body as JSON.
    core.create_namespaced_pod(namespace, _pod("a", "web", node="worker-1"))

    core.delete_namespaced_pod("a", namespace, body=client.V1DeleteOptions(grace_period_seconds=0))

    assert _names(core, namespace) == []


def test_kubectl_api_resources_filters_on_the_advertised_verb(kubectl: Kubectl) -> None:
    names = set(kubectl.ok("api-resources", "--verbs=deletecollection", "-o", "name").split())

    assert {"pods", "nodes", "services", "deployments.apps", "leases.coordination.k8s.io"} <= names
    assert "namespaces" not in names
    assert "pods.metrics.k8s.io" not in names


# --- table row conditions ----------------------------------------------------------------------------------

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_table_rows_of_finished_pods_carry_the_completed_condition(
    control_plane: LocalControlPlane, core: Any, namespace: str
) -> None:
    for name in ("done", "up"):
        core.create_namespaced_pod(namespace, _pod(name, "web"))
    core.patch_namespaced_pod_status(
        "done", namespace, {"status": {"phase": "Succeeded"}}, _content_type="application/merge-patch+json"
    )

    code, table = _https(control_plane, "GET", f"/api/v1/namespaces/{namespace}/pods", accept=TABLE)

    rows = {row["cells"][0]: row for row in table["rows"]}
    assert code == 200 and table["kind"] == "Table"
    assert rows["done"]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert "conditions" not in rows["up"]
