"""The real kubectl against the API server's HTTPS front: discovery, tables, watch, apply, scale, delete."""

from __future__ import annotations

import json
import time

import yaml

from services.apiserver.local_cluster import LocalControlPlane
from tests.integration.rest.conftest import Kubectl, nats_get
from tests.manifests import MANIFESTS

NGINX_DEPLOYMENT = MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml"
NGINX_POD = MANIFESTS / "kubernetes-website" / "pod-nginx.yaml"
NGINX_SERVICE = MANIFESTS / "kubernetes-website" / "nginx-service.yaml"


def _header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_version_reports_the_server_version(kubectl: Kubectl) -> None:
    out = kubectl.ok("version")
    assert "Client Version: v1.37.1" in out
    assert "Server Version: v1.37.0+kubenats" in out


def test_api_resources_lists_served_kinds_with_short_names(kubectl: Kubectl) -> None:
    # The first row of a name: core pods and nodes come before metrics.k8s.io's.
    lines = kubectl.ok("api-resources").splitlines()[1:]
    rows = {line.split()[0]: line.split() for line in reversed(lines)}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    assert rows["leases"][1:] == ["coordination.k8s.io/v1", "true", "Lease"]


def test_create_then_get_prints_kubectl_standard_columns(kubectl: Kubectl, namespace: str) -> None:
    assert kubectl.ok("create", "-n", namespace, "-f", str(NGINX_POD)).strip() == "pod/nginx created"
    plain = kubectl.ok("get", "pods", "-n", namespace)
    assert _header(plain) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert plain.splitlines()[1].split()[:4] == ["nginx", "0/1", "Pending", "0"]
    wide = kubectl.ok("get", "po", "nginx", "-n", namespace, "-o", "wide")
    assert _header(wide) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    assert wide.splitlines()[1].split()[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_create_of_an_existing_object_is_already_exists(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("create", "-n", namespace, "-f", str(NGINX_POD))
    again = kubectl("create", "-n", namespace, "-f", str(NGINX_POD))
    assert again.returncode == 1
    assert "Error from server (AlreadyExists): error when creating" in again.stderr
    assert 'pods "nginx" already exists' in again.stderr


def test_get_of_a_missing_object_is_kubectl_not_found(kubectl: Kubectl, namespace: str) -> None:
    done = kubectl("get", "pod", "nope", "-n", namespace)
    assert done.returncode == 1
    assert done.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_invalid_object_is_reported_with_its_field(kubectl: Kubectl, namespace: str) -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad"},
        "spec": {"containers": [{"name": "c", "image": ""}]},
    }
    done = kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(bad))
    assert done.returncode == 1
    assert 'The Pod "bad" is invalid: spec.containers[0].image: Required value' in done.stderr


def test_get_json_yaml_label_selector_and_all_namespaces(
    kubectl: Kubectl, namespace: str, control_plane: LocalControlPlane
) -> None:
    kubectl.ok("create", "-n", namespace, "-f", str(NGINX_POD))
    kubectl.ok("run", "other", "-n", namespace, "--image=busybox", "--labels=app=other")
    listed = json.loads(kubectl.ok("get", "pods", "-n", namespace, "-o", "json"))
    assert listed["kind"] == "List"
    assert sorted(item["metadata"]["name"] for item in listed["items"]) == ["nginx", "other"]
    one = yaml.safe_load(kubectl.ok("get", "pod", "other", "-n", namespace, "-o", "yaml"))
    assert one["metadata"]["labels"] == {"app": "other"}
    assert (
        one["metadata"]["uid"]
        == nats_get(control_plane, "", "v1", "pods", "other", namespace)["metadata"]["uid"]
    )
    selected = kubectl.ok("get", "pods", "-n", namespace, "-l", "app=other", "-o", "name")
    assert selected.split() == ["pod/other"]
    everywhere = kubectl.ok("get", "pods", "-A")
    assert _header(everywhere)[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [namespace, "nginx"] for line in everywhere.splitlines())


def test_get_watch_prints_objects_as_they_change(kubectl: Kubectl, namespace: str) -> None:
    watcher = kubectl.popen("get", "pods", "-n", namespace, "-w")
    try:
        time.sleep(1.0)  # let kubectl list and start watching; a pod created before would show all the same
        kubectl.ok("run", "watched", "-n", namespace, "--image=busybox")
        assert watcher.stdout is not None
        header = watcher.stdout.readline().split()
        first = watcher.stdout.readline().split()
    finally:
        watcher.terminate()
        watcher.wait(10)
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert first[:3] == ["watched", "0/1", "Pending"]


def test_apply_creates_then_updates_in_place(
    kubectl: Kubectl, namespace: str, control_plane: LocalControlPlane, tmp_path: object
) -> None:
    assert kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_DEPLOYMENT)).strip() == (
        "deployment.apps/nginx-deployment created"
    )
    created = nats_get(control_plane, "apps", "v1", "deployments", "nginx-deployment", namespace)
    changed = (
        NGINX_DEPLOYMENT.read_text()
        .replace("nginx:1.14.2", "nginx:1.16.1")
        .replace("replicas: 3", "replicas: 2")
    )
    out = kubectl.ok("apply", "-n", namespace, "-f", "-", stdin=changed)
    assert out.strip() == "deployment.apps/nginx-deployment configured"
    updated = nats_get(control_plane, "apps", "v1", "deployments", "nginx-deployment", namespace)
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["spec"]["replicas"] == 2
    containers = updated["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"], c["ports"]) for c in containers] == [
        ("nginx", "nginx:1.16.1", [{"containerPort": 80, "protocol": "TCP"}])
    ]
    assert kubectl.ok("apply", "-n", namespace, "-f", "-", stdin=changed).strip() == (
        "deployment.apps/nginx-deployment unchanged"
    )
    table = kubectl.ok("get", "deploy", "-n", namespace, "-o", "wide")
    assert _header(table) == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert table.splitlines()[1].split()[1] == "0/2"


def test_apply_of_every_manifest_in_a_multi_document_file(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_SERVICE))
    assert out.strip() == "service/nginx-service created"
    services = kubectl.ok("get", "svc", "-n", namespace)
    assert _header(services) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    row = services.splitlines()[1].split()
    assert (row[0], row[1], row[3], row[4]) == ("nginx-service", "ClusterIP", "<none>", "8000/TCP")


def test_scale_sets_replicas_through_the_scale_subresource(
    kubectl: Kubectl, namespace: str, control_plane: LocalControlPlane
) -> None:
    kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    out = kubectl.ok("scale", "-n", namespace, "deployment/nginx-deployment", "--replicas=5")
    assert out.strip() == "deployment.apps/nginx-deployment scaled"
    assert (
        nats_get(control_plane, "apps", "v1", "deployments", "nginx-deployment", namespace)["spec"][
            "replicas"
        ]
        == 5
    )


def test_delete_waits_until_the_object_is_gone(
    kubectl: Kubectl, namespace: str, control_plane: LocalControlPlane
) -> None:
    # A pod bound to a node is deleted gracefully: it stays, terminating, until its kubelet (here: a
    # forced delete) removes it; kubectl waits for that with a streaming list (sendInitialEvents).
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bound"},
        "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "nginx"}]},
    }
    kubectl.ok("create", "-n", namespace, "-f", "-", stdin=json.dumps(pod))
    deleting = kubectl.popen("delete", "pod", "bound", "-n", namespace, "--timeout=30s")
    try:
        deadline = time.monotonic() + 10
        while "deletionTimestamp" not in (
            nats_get(control_plane, "", "v1", "pods", "bound", namespace) or {}
        ).get("metadata", {}):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert deleting.poll() is None, "kubectl returned before the pod was gone"
        kubectl.ok("delete", "pod", "bound", "-n", namespace, "--grace-period=0", "--force")
        stdout, stderr = deleting.communicate(timeout=20)
    finally:
        if deleting.poll() is None:
            deleting.kill()
            deleting.wait()
    assert deleting.returncode == 0, stderr
    assert stdout.strip() == f'pod "bound" deleted from {namespace} namespace'
    assert nats_get(control_plane, "", "v1", "pods", "bound", namespace) is None


def test_describe_pod_shows_its_containers(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("create", "-n", namespace, "-f", str(NGINX_POD))
    out = kubectl.ok("describe", "pod", "nginx", "-n", namespace)
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(": ") for line in out.splitlines()) if v}
    assert fields["Name"] == "nginx"
    assert fields["Namespace"] == namespace
    assert fields["Image"] == "nginx"
    assert fields["Status"] == "Pending"
    assert fields["Events"] == "<none>"


def test_rollout_status_follows_the_deployment_status(
    kubectl: Kubectl, namespace: str, control_plane: LocalControlPlane
) -> None:
    kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    status = {
        "status": {
            "observedGeneration": 1,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
        }
    }
    kubectl.ok(
        "patch",
        "deployment",
        "nginx-deployment",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    done = kubectl(
        "rollout", "status", "deployment/nginx-deployment", "-n", namespace, "--timeout=20s", timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'deployment "nginx-deployment" successfully rolled out'


def test_a_bad_token_gets_kubectls_login_error(kubectl: Kubectl) -> None:
    done = kubectl.as_user("not-a-token", "get", "pods")
    assert done.returncode == 1
    # With discovery cached kubectl prints the Status message; without, its own words for a 401.
    assert done.stderr.strip().splitlines()[-1] in (
        "error: You must be logged in to the server (Unauthorized)",
        "error: You must be logged in to the server "
        "(the server has asked for the client to provide credentials)",
    )


def test_a_viewer_may_read_but_not_write(kubectl: Kubectl, namespace: str) -> None:
    assert kubectl.as_user("viewer", "get", "pods", "-n", namespace).returncode == 0
    done = kubectl.as_user("viewer", "create", "-n", namespace, "-f", str(NGINX_POD))
    assert done.returncode == 1
    assert "Error from server (Forbidden)" in done.stderr
