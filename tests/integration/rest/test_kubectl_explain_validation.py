"""The real kubectl against Kubernetes' schemas: `kubectl explain`, and unknown fields under `--validate`."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
import yaml

from tests.integration.rest.conftest import Kubectl
from tests.manifests import MANIFESTS

NGINX_DEPLOYMENT = MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml"
NAME = "nginx-deployment"
TYPO = "spec.template.spec.containers[0].imagePullPolicyy"


def _with_typo() -> str:
    obj = yaml.safe_load(NGINX_DEPLOYMENT.read_text())
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    return yaml.safe_dump(obj)


def _stored(kubectl: Kubectl, namespace: str) -> Any:
    done = kubectl("get", "-n", namespace, "deployment", NAME, "-o", "json")
    return json.loads(done.stdout) if done.returncode == 0 else None


# --- explain ---------------------------------------------------------------------------------------------


def test_explain_pods_prints_kubernetes_description_and_fields(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "pods")
    assert "KIND:       Pod\nVERSION:    v1\n" in out
    assert "Pod is a collection of containers that can run on a host." in out
    for field in ("apiVersion\t<string>", "metadata\t<ObjectMeta>", "spec\t<PodSpec>", "status\t<PodStatus>"):
        assert field in out


def test_explain_a_nested_field_of_a_deployment(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "deployment.spec.strategy")
    assert "GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out
    assert 'Type of deployment. Can be "Recreate" or "RollingUpdate".' in out


def test_explain_recursive_lists_every_container_field(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "pod.spec.containers", "--recursive")
    assert "FIELD: containers <[]Container>" in out
    for field in ("imagePullPolicy\t<string>", "livenessProbe\t<Probe>", "httpGet\t<HTTPGetAction>"):
        assert field in out
    assert "limits\t<map[string]Quantity>" in out


@pytest.mark.parametrize(
    ("resource", "kind"),
    [
        ("nodes", "Node"),
        ("namespaces", "Namespace"),
        ("events", "Event"),
        ("replicasets", "ReplicaSet"),
        ("leases", "Lease"),
        ("endpointslices", "EndpointSlice"),
    ],
)
def test_explain_every_served_kind(kubectl: Kubectl, resource: str, kind: str) -> None:
    assert f"KIND:       {kind}\n" in kubectl.ok("explain", resource)


def test_explain_names_int_or_string_fields(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "service.spec.ports")
    assert "targetPort\t<IntOrString>" in out and "port\t<integer> -required-" in out


def test_explain_the_resource_metrics_kinds(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "podmetrics")
    assert "GROUP:      metrics.k8s.io\nKIND:       PodMetrics\nVERSION:    v1beta1\n" in out
    assert "containers\t<[]ContainerMetrics> -required-" in out


# --- unknown fields ----------------------------------------------------------------------------------------


def test_apply_of_a_typo_fails_with_the_strict_decoding_error_and_stores_nothing(
    kubectl: Kubectl, namespace: str
) -> None:
    done = kubectl("apply", "-n", namespace, "-f", "-", stdin=_with_typo())
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
        f'handled as a Deployment: strict decoding error: unknown field "{TYPO}"'
    )
    assert _stored(kubectl, namespace) is None


def test_validate_warn_prints_the_warning_and_stores_the_object_without_the_field(
    kubectl: Kubectl, namespace: str
) -> None:
    done = kubectl("apply", "--validate=warn", "-n", namespace, "-f", "-", stdin=_with_typo())
    assert done.returncode == 0, done.stderr
    assert f'Warning: unknown field "{TYPO}"' in done.stderr
    container = _stored(kubectl, namespace)["spec"]["template"]["spec"]["containers"][0]
    assert "imagePullPolicyy" not in container and container["image"] == "nginx:1.14.2"


def test_validate_false_stores_the_object_silently(kubectl: Kubectl, namespace: str) -> None:
    done = kubectl("create", "--validate=false", "-n", namespace, "-f", "-", stdin=_with_typo())
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    assert _stored(kubectl, namespace) is not None


def test_client_side_apply_patch_with_a_typo_is_refused_and_changes_nothing(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.ok("apply", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    before = _stored(kubectl, namespace)
    done = kubectl("apply", "-n", namespace, "-f", "-", stdin=_with_typo())
    assert done.returncode == 1
    assert f'strict decoding error: unknown field "{TYPO}"' in done.stderr
    assert _stored(kubectl, namespace) == before


def test_server_side_apply_with_a_typo_fails_as_its_typed_conversion_does(
    kubectl: Kubectl, namespace: str
) -> None:
    done = kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=_with_typo())
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error from server: failed to create typed patch object ({namespace}/{NAME}; apps/v1, "
        'Kind=Deployment): .spec.template.spec.containers[name="nginx"].imagePullPolicyy: '
        "field not declared in schema"
    )
    assert _stored(kubectl, namespace) is None


@pytest.mark.parametrize("patch_type", ["merge", "strategic", "json"])
def test_kubectl_patch_warns_by_default_and_drops_the_field(
    kubectl: Kubectl, namespace: str, patch_type: str
) -> None:
    kubectl.ok("create", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    patch = (
        '[{"op": "add", "path": "/spec/paused2", "value": true}]'
        if patch_type == "json"
        else '{"spec": {"paused2": true, "replicas": 2}}'
    )
    done = kubectl("patch", "-n", namespace, "deployment", NAME, f"--type={patch_type}", "-p", patch)
    assert done.returncode == 0, done.stderr
    assert 'Warning: unknown field "spec.paused2"' in done.stderr
    stored = _stored(kubectl, namespace)
    assert "paused2" not in stored["spec"]


def test_a_body_without_a_valid_token_is_refused_401_before_it_is_read(kubectl: Kubectl) -> None:
    cp = kubectl.cp
    assert cp.pki is not None
    request = urllib.request.Request(
        cp.https_url + "/api/v1/namespaces/default/pods?fieldValidation=Strict",
        data=b'{"apiVersion": "v1", "kind": "Pod", "kind": "Pod", "metadata": {"name": "x"}}',
        method="POST",
        headers={"Authorization": "Bearer not-a-token", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=context, timeout=30)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["reason"] == "Unauthorized"
