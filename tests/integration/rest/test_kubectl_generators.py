"""kubectl's generator commands, which send protobuf bodies, against the real API server over HTTPS.

``kubectl create namespace|deployment|service``, ``kubectl debug`` and ``kubectl drain``'s DELETE write
``application/vnd.kubernetes.protobuf``; ``kubectl expose`` and ``kubectl run`` write JSON. Each test checks
kubectl's output and the object as the NATS front serves it; the stored object must hold what kubectl's
``--dry-run=client -o json`` says it sent.
"""

from __future__ import annotations

import http.client
import json
import ssl
import uuid
from typing import Any

from services.apiserver.local_cluster import LocalControlPlane
from tests.integration.rest.conftest import Kubectl, nats_get

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _contains(stored: Any, sent: Any) -> bool:
    """Whether every field kubectl sent is in the stored object (which also has defaults and status)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(_contains(stored.get(k), v) for k, v in sent.items())
    if isinstance(sent, list):
        return isinstance(stored, list) and len(stored) == len(sent) and all(map(_contains, stored, sent))
    return bool(stored == sent)


def _sent(kubectl: Kubectl, *args: str) -> Any:
    """What kubectl would send for a generator command: its client-side dry run as JSON."""
    sent = json.loads(kubectl.ok(*args, "--dry-run=client", "-o", "json"))
    sent.pop("status", None)
    return sent


def _post(
    cp: LocalControlPlane, path: str, body: bytes, content_type: str = PROTOBUF
) -> tuple[int, Any, str]:
    """POST a raw body as the admin; the status code, the JSON reply and the Warning header."""
    assert cp.pki is not None
    context = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    host = cp.https_url.removeprefix("https://")
    connection = http.client.HTTPSConnection(host, context=context, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {cp.tokens['admin']}", "Content-Type": content_type}
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read()), response.getheader("Warning") or ""
    finally:
        connection.close()


def _ld(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    assert field < 16 and len(data) < 128  # one-byte tags and lengths are all these bodies need
    return bytes([field << 3 | 2, len(data)]) + data


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + _ld(1, _ld(1, api_version) + _ld(2, kind)) + _ld(2, raw)


def test_create_namespace(kubectl: Kubectl, control_plane: LocalControlPlane) -> None:
    name = _unique("gen-ns")
    assert kubectl.ok("create", "namespace", name).strip() == f"namespace/{name} created"
    stored = nats_get(control_plane, "", "v1", "namespaces", name)
    assert stored["metadata"]["name"] == name and stored["metadata"]["uid"]
    assert "namespace" not in stored["metadata"]
    done = kubectl("create", "namespace", name)
    assert done.returncode == 1
    assert done.stderr.strip() == f'Error from server (AlreadyExists): namespaces "{name}" already exists'


def test_create_deployment_stores_replicas_image_ports_labels_and_selector(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    args = (
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=3",
        "--port=8080",
        "-n",
        namespace,
    )
    sent = _sent(kubectl, *args)
    assert kubectl.ok(*args).strip() == "deployment.apps/web created"
    stored = nats_get(control_plane, "apps", "v1", "deployments", "web", namespace)
    assert _contains(stored, sent)
    assert stored["metadata"]["labels"] == {"app": "web"}
    assert stored["spec"]["replicas"] == 3
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert stored["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    (container,) = stored["spec"]["template"]["spec"]["containers"]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.25")
    assert container["ports"][0]["containerPort"] == 8080
    managers = {entry["manager"] for entry in stored["metadata"].get("managedFields", [])}
    assert managers <= {"kubectl-create"}
    wide = kubectl.ok("get", "deployment", "web", "-n", namespace, "-o", "wide")
    assert "nginx:1.25" in wide and "app=web" in wide


def test_create_deployment_with_several_images_and_default_replicas(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    args = ("create", "deployment", "multi", "--image=nginx", "--image=busybox:1.36", "-n", namespace)
    sent = _sent(kubectl, *args)
    kubectl.ok(*args)
    stored = nats_get(control_plane, "apps", "v1", "deployments", "multi", namespace)
    assert _contains(stored, sent)
    assert stored["spec"]["replicas"] == 1
    containers = stored["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx"), ("busybox", "busybox:1.36")]


def test_create_deployment_server_dry_run_stores_nothing(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    out = kubectl.ok("create", "deployment", "dry", "--image=nginx", "--dry-run=server", "-n", namespace)
    assert out.strip() == "deployment.apps/dry created (server dry run)"
    assert nats_get(control_plane, "apps", "v1", "deployments", "dry", namespace) is None


def test_create_service_clusterip_and_nodeport(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    cluster_ip = ("create", "service", "clusterip", "front", "--tcp=80:8080", "-n", namespace)
    sent = _sent(kubectl, *cluster_ip)
    assert kubectl.ok(*cluster_ip).strip() == "service/front created"
    stored = nats_get(control_plane, "", "v1", "services", "front", namespace)
    assert _contains(stored, sent)
    assert stored["spec"]["type"] == "ClusterIP" and stored["spec"]["clusterIP"]
    assert stored["spec"]["selector"] == {"app": "front"}
    assert stored["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]

    node_port = (
        "create",
        "service",
        "nodeport",
        "edge",
        "--tcp=80:8080",
        "--node-port=30080",
        "-n",
        namespace,
    )
    assert kubectl.ok(*node_port).strip() == "service/edge created"
    stored = nats_get(control_plane, "", "v1", "services", "edge", namespace)
    assert stored["spec"]["type"] == "NodePort"
    assert stored["spec"]["ports"][0]["nodePort"] == 30080
    assert stored["spec"]["ports"][0]["targetPort"] == 8080
    out = kubectl.ok("get", "service", "edge", "-n", namespace)
    assert "NodePort" in out and "80:30080/TCP" in out


def test_create_service_headless_and_external_name(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    kubectl.ok("create", "service", "clusterip", "quiet", "--clusterip=None", "-n", namespace)
    assert nats_get(control_plane, "", "v1", "services", "quiet", namespace)["spec"]["clusterIP"] == "None"
    kubectl.ok("create", "service", "externalname", "far", "--external-name=example.com", "-n", namespace)
    stored = nats_get(control_plane, "", "v1", "services", "far", namespace)
    assert (stored["spec"]["type"], stored["spec"]["externalName"]) == ("ExternalName", "example.com")


def test_expose_a_deployment_made_by_create_deployment(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    kubectl.ok("create", "deployment", "api", "--image=nginx", "-n", namespace)
    out = kubectl.ok("expose", "deployment", "api", "--port=80", "--target-port=8080", "-n", namespace)
    assert out.strip() == "service/api exposed"
    stored = nats_get(control_plane, "", "v1", "services", "api", namespace)
    assert stored["spec"]["selector"] == {"app": "api"}
    assert stored["spec"]["ports"][0]["port"] == 80 and stored["spec"]["ports"][0]["targetPort"] == 8080


def test_debug_node_and_debug_copy_create_pods_from_protobuf(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    node = _unique("gen-node")
    kubectl.ok("create", "-f", "-", stdin=f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n")
    out = kubectl.ok("debug", f"node/{node}", "--image=busybox", "-n", namespace)
    pod_name = out.split("Creating debugging pod ", 1)[1].split()[0]
    pod = nats_get(control_plane, "", "v1", "pods", pod_name, namespace)
    spec = pod["spec"]
    assert spec["nodeName"] == node
    assert spec["hostPID"] is True and spec["hostNetwork"] is True
    assert spec["volumes"][0]["hostPath"]["path"] == "/"
    assert spec["containers"][0]["volumeMounts"] == [{"name": "host-root", "mountPath": "/host"}]

    kubectl.ok("run", "app", "--image=busybox", "--env=X=1", "--port=80", "-n", namespace, "--", "sleep", "9")
    kubectl.ok(
        "debug", "app", "--copy-to=app-copy", "--image=busybox:1.36", "--container=app", "-n", namespace
    )
    copy = nats_get(control_plane, "", "v1", "pods", "app-copy", namespace)
    (container,) = copy["spec"]["containers"]
    assert container["image"] == "busybox:1.36"
    assert container["args"] == ["sleep", "9"]
    assert container["env"] == [{"name": "X", "value": "1"}]


def test_protobuf_delete_options_carry_the_grace_period(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    node = _unique("gen-node")
    kubectl.ok("create", "-f", "-", stdin=f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n")
    pod = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: held\nspec:\n  nodeName: {node}\n"
    kubectl.ok(
        "create", "-n", namespace, "-f", "-", stdin=pod + "  containers:\n  - name: c\n    image: busybox\n"
    )
    # kubectl drain --disable-eviction --grace-period=7 deletes each pod with this body: DeleteOptions{7}.
    body = b"k8s\x00" + _ld(1, _ld(1, "v1") + _ld(2, "DeleteOptions")) + _ld(2, b"\x08\x07")
    assert control_plane.pki is not None
    context = ssl.create_default_context(cafile=str(control_plane.pki.ca_cert))
    connection = http.client.HTTPSConnection(
        control_plane.https_url.removeprefix("https://"), context=context
    )
    try:
        headers = {"Authorization": f"Bearer {control_plane.tokens['admin']}", "Content-Type": PROTOBUF}
        connection.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/held", body=body, headers=headers)
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    stored = nats_get(control_plane, "", "v1", "pods", "held", namespace)
    assert stored["metadata"]["deletionGracePeriodSeconds"] == 7


def test_garbage_protobuf_bodies_are_a_400_and_store_nothing(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    bodies = [
        b"k8s\x00\xff\xff\xff",  # a truncated varint
        b"\x00\x01\x02garbage",  # no protobuf prefix
        _envelope("apps/v1", "Deployment", _ld(1, _ld(1, "bad")) + b"\x12\x7f"),  # spec longer than the body
        _envelope("apps/v1", "Deployment", _ld(1, _ld(1, b"\xff\xfe"))),  # a name that is not UTF-8
    ]
    for body in bodies:
        code, status, _ = _post(control_plane, path, body)
        assert code == 400, status
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "BadRequest", 400)
        assert status["message"].startswith("error decoding protobuf body: ")
    listed = json.loads(kubectl.ok("get", "deployments", "-n", namespace, "-o", "json"))
    assert listed["items"] == []


def test_unknown_protobuf_fields_are_skipped_without_a_warning(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    # A Namespace whose metadata carries field 15, which no Kubernetes version has used. kube-apiserver's
    # protobuf decoder has no strict mode, so fieldValidation does not apply: no error, no warning.
    for validation in ("Strict", "Warn", "Ignore"):
        name = f"{namespace}-{validation.lower()}"
        body = _envelope("v1", "Namespace", _ld(1, _ld(1, name) + _ld(15, "future")))
        code, created, warning = _post(
            control_plane, f"/api/v1/namespaces?fieldValidation={validation}", body
        )
        assert code == 201, created
        assert created["metadata"]["name"] == name
        assert warning == ""
        assert nats_get(control_plane, "", "v1", "namespaces", name)["metadata"]["name"] == name
