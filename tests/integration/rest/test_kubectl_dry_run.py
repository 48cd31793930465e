"""Server-side dry run with the real kubectl: apply, create, delete and diff show a change and make none."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.integration.rest.conftest import Kubectl
from tests.manifests import MANIFESTS

NGINX_DEPLOYMENT = MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml"
NAME = "nginx-deployment"


def _changed_manifest(replicas: int, image: str) -> str:
    obj = yaml.safe_load(NGINX_DEPLOYMENT.read_text())
    obj["spec"]["replicas"] = replicas
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return yaml.safe_dump(obj)


def _get(kubectl: Kubectl, namespace: str) -> Any:
    return json.loads(kubectl.ok("get", "-n", namespace, "deployment", NAME, "-o", "json"))


def _absent(kubectl: Kubectl, namespace: str) -> bool:
    done = kubectl("get", "-n", namespace, "deployment", NAME)
    return done.returncode == 1 and "NotFound" in done.stderr


def test_create_and_apply_with_server_dry_run_store_nothing(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.ok("create", "--dry-run=server", "-n", namespace, "-f", str(NGINX_DEPLOYMENT), "-o", "json")
    would_be = json.loads(out)
    assert (
        would_be["metadata"]["uid"] and would_be["spec"]["strategy"]["type"] == "RollingUpdate"
    )  # defaulted
    assert _absent(kubectl, namespace)
    for mode in ("--server-side", "--server-side=false"):
        out = kubectl.ok("apply", mode, "--dry-run=server", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
        assert out.strip().startswith(f"deployment.apps/{NAME} ") and out.strip().endswith("(server dry run)")
        assert _absent(kubectl, namespace)


def test_apply_dry_run_on_a_changed_manifest_shows_the_change_and_keeps_the_object(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    before = _get(kubectl, namespace)
    changed = _changed_manifest(replicas=5, image="nginx:1.16.1")
    out = kubectl.ok(
        "apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-", "-o", "json", stdin=changed
    )
    assert json.loads(out)["spec"]["replicas"] == 5
    assert _get(kubectl, namespace) == before


def test_delete_with_server_dry_run_keeps_the_object(kubectl: Kubectl, namespace: str) -> None:
    kubectl.ok("apply", "--server-side", "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    before = _get(kubectl, namespace)
    out = kubectl.ok("delete", "--dry-run=server", "-n", namespace, "deployment", NAME)
    assert out.strip() == f'deployment.apps "{NAME}" deleted from {namespace} namespace (server dry run)'
    assert _get(kubectl, namespace) == before


@pytest.mark.parametrize("server_side", [False, True], ids=["client-side", "server-side"])
def test_diff_prints_the_change_exits_1_and_changes_nothing(
    kubectl: Kubectl, namespace: str, server_side: bool
) -> None:
    mode = [f"--server-side={str(server_side).lower()}"]
    kubectl.ok("apply", *mode, "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    before = _get(kubectl, namespace)
    same = kubectl("diff", *mode, "-n", namespace, "-f", str(NGINX_DEPLOYMENT))
    assert (same.returncode, same.stdout) == (0, ""), same.stderr
    changed = _changed_manifest(replicas=5, image="nginx:1.16.1")
    done = kubectl("diff", *mode, "-n", namespace, "-f", "-", stdin=changed)
    assert done.returncode == 1, done.stderr
    assert "-  replicas: 3" in done.stdout and "+  replicas: 5" in done.stdout
    assert "+      - image: nginx:1.16.1" in done.stdout
    assert _get(kubectl, namespace) == before


def test_unknown_dry_run_value_is_a_bad_request(kubectl: Kubectl, namespace: str) -> None:
    # kubectl only sends "All"; --raw reaches the server with any value.
    done = kubectl(
        "create",
        "--raw",
        f"/api/v1/namespaces/{namespace}/pods?dryRun=Some",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error from server (BadRequest)"), done.stderr
    assert 'dryRun: Unsupported value: "Some": supported values: "All"' in done.stderr
