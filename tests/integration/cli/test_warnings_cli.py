"""Warnings and field validation over a real control plane: the client hears them, the CLI prints them.

The module's control plane and the ``kubenats`` and ``namespace`` fixtures come from the conftest files.
The API server answers a write with an unknown field as its ``fieldValidation`` asks (``Warn`` by
default: dropped, one ``Warning`` each); ``ApiClient`` hands each warning to ``on_warning``, and
``kubenats apply|create`` print them as kubectl does and send kubectl's ``--validate`` (``strict`` unless
told otherwise). A body that names a field twice, which only a raw NATS request can send, is held to
the same directive as on the REST front.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from nats.aio.client import Client

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus, subjects
from shared.apiclient import ApiClient, resource
from shared.apiprotocol import AUTHORIZATION_HEADER
from shared.apiwarnings import WARNING_HEADER, parse_header_list
from shared.errors import ApiError
from tests.integration.cli.conftest import Cli
from tests.manifests import MANIFESTS, needs_manifests

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS = MANIFESTS / "kubernetes-examples" / "redis-master-deployment.yaml"
PODS = resource("", "v1", "pods")
TYPO = "imagePulPolicy"
TYPO_FIELD = f"spec.template.spec.containers[0].{TYPO}"
# A field name no header may mangle: quotes, commas, a backslash, and rich's markup brackets.
ODD_KEY = 'we"ird, [b]key\\'


@pytest.fixture
async def nats_client(control_plane: LocalControlPlane) -> AsyncIterator[Client]:
    nc = await bus.connect(control_plane.url, name="warnings-test")
    yield nc
    await nc.close()


def pod_with_unknown_fields(name: str, namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], "foo": 1, ODD_KEY: True},
    }


def typo_manifest(tmp_path: Path) -> Path:
    """The redis example with a misspelled ``imagePullPolicy`` in its container."""
    document = yaml.safe_load(REDIS.read_text())
    document["spec"]["template"]["spec"]["containers"][0][TYPO] = "IfNotPresent"
    path = tmp_path / "redis-typo.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


async def test_api_client_hears_each_warning_of_a_create_with_unknown_fields(
    control_plane: LocalControlPlane, nats_client: Client
) -> None:
    heard: list[str] = []
    client = ApiClient(nats_client, control_plane.tokens["admin"], on_warning=heard.append)
    namespace = f"warn-{uuid.uuid4().hex[:6]}"
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    created = await client.create(pod_with_unknown_fields("odd", namespace))
    on_create = list(heard)
    await client.get(PODS, "odd", namespace)

    assert sorted(on_create) == sorted(['unknown field "spec.foo"', f'unknown field "spec.{ODD_KEY}"'])
    assert heard == on_create  # a read carries no warning
    assert "foo" not in created["spec"] and ODD_KEY not in created["spec"]


async def test_a_failing_warning_handler_does_not_fail_a_write_that_succeeded(
    control_plane: LocalControlPlane, nats_client: Client
) -> None:
    heard: list[str] = []

    def refuse(text: str) -> None:
        heard.append(text)
        raise RuntimeError("the handler's own bug")

    client = ApiClient(nats_client, control_plane.tokens["admin"], on_warning=refuse)
    namespace = f"warn-{uuid.uuid4().hex[:6]}"
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    created = await client.create(pod_with_unknown_fields("heard", namespace))

    assert created["metadata"]["name"] == "heard"
    assert sorted(heard) == sorted(['unknown field "spec.foo"', f'unknown field "spec.{ODD_KEY}"'])
    assert (await client.get(PODS, "heard", namespace))["metadata"]["uid"] == created["metadata"]["uid"]


async def test_api_client_with_strict_validation_is_refused_and_nothing_is_stored(
    control_plane: LocalControlPlane, nats_client: Client
) -> None:
    heard: list[str] = []
    admin = control_plane.tokens["admin"]
    client = ApiClient(nats_client, admin, on_warning=heard.append, field_validation="Strict")
    namespace = f"warn-{uuid.uuid4().hex[:6]}"
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    with pytest.raises(ApiError) as refused:
        await client.create(pod_with_unknown_fields("strict", namespace))
    with pytest.raises(ApiError) as missing:
        await client.get(PODS, "strict", namespace)

    assert refused.value.code == 400 and refused.value.reason == "BadRequest"
    assert 'strict decoding error: unknown field "spec.foo"' in refused.value.message
    assert missing.value.code == 404
    assert heard == []


@needs_manifests
def test_apply_with_validate_warn_prints_the_warning_and_stores_the_object_without_the_field(
    kubenats: Cli, namespace: str, tmp_path: Path
) -> None:
    manifest = typo_manifest(tmp_path)

    applied = kubenats("apply", "-f", str(manifest), "-n", namespace, "--validate=warn")
    shown = kubenats("get", "deployment", "redis-master", "-n", namespace, "-o", "json")

    assert applied.exit_code == 0, applied.output
    assert applied.stdout.strip() == "deployment.apps/redis-master created"
    assert applied.stderr.splitlines() == [f'Warning: unknown field "{TYPO_FIELD}"']
    container = json.loads(shown.stdout)["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "master" and TYPO not in container


@needs_manifests
def test_apply_warns_of_an_unknown_field_a_later_manifest_adds(
    kubenats: Cli, namespace: str, tmp_path: Path
) -> None:
    first = kubenats("apply", "-f", str(REDIS), "-n", namespace)
    again = kubenats("apply", "-f", str(typo_manifest(tmp_path)), "-n", namespace, "--validate", "warn")

    assert first.exit_code == 0 and first.stderr == "", first.output
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "deployment.apps/redis-master configured"
    assert again.stderr.splitlines() == [f'Warning: unknown field "{TYPO_FIELD}"']


@needs_manifests
def test_apply_is_strict_by_default_and_refuses_the_typo_with_kubectls_message(
    kubenats: Cli, namespace: str, tmp_path: Path
) -> None:
    manifest = typo_manifest(tmp_path)

    refused = kubenats("apply", "-f", str(manifest), "-n", namespace)
    strict = kubenats("create", "-f", "-", "-n", namespace, "--validate=strict", stdin=manifest.read_text())
    shown = kubenats("get", "deployment", "redis-master", "-n", namespace)

    expected = (
        f'Error from server (BadRequest): error when creating "{manifest}": Deployment in version "v1" '
        f'cannot be handled as a Deployment: strict decoding error: unknown field "{TYPO_FIELD}"'
    )
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.strip() == expected
    assert strict.exit_code == 1
    assert strict.stderr.strip() == expected.replace(f'"{manifest}"', '"STDIN"')
    assert shown.exit_code == 1
    assert 'deployments.apps "redis-master" not found' in shown.stderr


@needs_manifests
def test_create_from_stdin_with_validate_ignore_drops_the_field_silently(
    kubenats: Cli, namespace: str, tmp_path: Path
) -> None:
    text = typo_manifest(tmp_path).read_text()

    created = kubenats("create", "-f", "-", "-n", namespace, "--validate=false", stdin=text)
    shown = kubenats("get", "deployment", "redis-master", "-n", namespace, "-o", "json")

    assert created.exit_code == 0 and created.stderr == "", created.output
    container = json.loads(shown.stdout)["spec"]["template"]["spec"]["containers"][0]
    assert TYPO not in container


def test_an_unknown_validate_value_is_refused_as_kubectl_refuses_it(kubenats: Cli, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))

    result = kubenats("apply", "-f", str(manifest), "--validate=maybe")

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        'error: invalid - validate option "maybe"; must be one of: strict (or true), warn, ignore (or false)'
    )


@pytest.mark.parametrize(
    ("directive", "warnings"),
    [("", ['duplicate field "metadata.labels.app"']), ("Ignore", [])],
)
async def test_a_nats_create_with_a_duplicate_field_warns_unless_ignored_and_keeps_the_last_value(
    control_plane: LocalControlPlane, nats_client: Client, directive: str, warnings: list[str]
) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    data = duplicate_label_request(name, directive)

    response = await bus.request_with_headers(
        nats_client, subjects.api("", "v1", "namespaces", "create"), data, headers=admin(control_plane)
    )

    header = response.header(WARNING_HEADER)
    assert (parse_header_list(header) if header else []) == warnings
    assert response.body["metadata"]["labels"]["app"] == "second"


async def test_a_strict_nats_create_with_a_duplicate_field_is_refused(
    control_plane: LocalControlPlane, nats_client: Client
) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    data = duplicate_label_request(name, "Strict")

    with pytest.raises(ApiError) as refused:
        await bus.request(
            nats_client, subjects.api("", "v1", "namespaces", "create"), data, headers=admin(control_plane)
        )

    assert refused.value.code == 400
    assert refused.value.message == (
        'Namespace in version "v1" cannot be handled as a Namespace: '
        'strict decoding error: duplicate field "metadata.labels.app"'
    )


def admin(control_plane: LocalControlPlane) -> dict[str, str]:
    return {AUTHORIZATION_HEADER: f"Bearer {control_plane.tokens['admin']}"}


def duplicate_label_request(name: str, directive: str) -> bytes:
    """A Namespace create whose raw JSON names the label ``app`` twice (no encoder writes that)."""
    body = (
        f'{{"apiVersion": "v1", "kind": "Namespace", '
        f'"metadata": {{"name": "{name}", "labels": {{"app": "first", "app": "second"}}}}}}'
    )
    validation = f', "fieldValidation": "{directive}"' if directive else ""
    return f'{{"body": {body}{validation}}}'.encode()


@needs_manifests
def test_replace_warns_of_the_typo_under_warn_and_refuses_it_by_default(
    kubenats: Cli, namespace: str, tmp_path: Path
) -> None:
    manifest = typo_manifest(tmp_path)
    assert kubenats("apply", "-f", str(REDIS), "-n", namespace).exit_code == 0

    refused = kubenats("replace", "-f", str(manifest), "-n", namespace)
    replaced = kubenats("replace", "-f", str(manifest), "-n", namespace, "--validate=warn")

    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        f'Error from server (BadRequest): error when replacing "{manifest}": Deployment in version "v1" '
        f'cannot be handled as a Deployment: strict decoding error: unknown field "{TYPO_FIELD}"'
    )
    assert replaced.exit_code == 0, replaced.output
    assert replaced.stdout.strip() == "deployment.apps/redis-master replaced"
    assert replaced.stderr.splitlines() == [f'Warning: unknown field "{TYPO_FIELD}"']


@needs_manifests
def test_patch_prints_the_warning_of_each_unknown_field_it_sets_and_tells_a_no_op(
    kubenats: Cli, namespace: str
) -> None:
    assert kubenats("apply", "-f", str(REDIS), "-n", namespace).exit_code == 0
    document = json.dumps({"spec": {"replicas": 2, "foo": 1, "bar": {"baz": True}}})

    patched = kubenats(
        "patch", "deployment", "redis-master", "-n", namespace, "--type", "merge", "-p", document
    )
    again = kubenats("patch", "deployment/redis-master", "-n", namespace, "--type=merge", "-p", document)
    shown = kubenats("get", "deployment/redis-master", "-n", namespace, "-o", "json")

    assert again.stdout.strip() == "deployment.apps/redis-master patched (no change)", again.output
    assert patched.exit_code == 0, patched.output
    assert patched.stdout.strip() == "deployment.apps/redis-master patched"
    assert sorted(patched.stderr.splitlines()) == [
        'Warning: unknown field "spec.bar"',
        'Warning: unknown field "spec.foo"',
    ]
    spec = json.loads(shown.stdout)["spec"]
    assert spec["replicas"] == 2 and "foo" not in spec and "bar" not in spec
