"""The ``kubenats`` object commands against a real control plane: apply, get, scale, delete."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import yaml
from nats.aio.msg import Msg
from typer.testing import CliRunner, Result

from services.apiserver.local_cluster import LocalControlPlane
from shared.cli import app
from tests.integration.cli.conftest import Cli
from tests.manifests import MANIFESTS, needs_manifests

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS = MANIFESTS / "kubernetes-examples" / "redis-master-deployment.yaml"


@needs_manifests
def test_apply_creates_then_reports_unchanged_then_configures(
    kubenats: Cli, namespace: str, tmp_path: Path
) -> None:
    created = kubenats("apply", "-f", str(REDIS), "-n", namespace)
    again = kubenats("apply", "-f", str(REDIS), "-n", namespace)
    changed = tmp_path / "redis.yaml"
    document = yaml.safe_load(REDIS.read_text())
    document["spec"]["replicas"] = 3
    changed.write_text(yaml.safe_dump(document))
    configured = kubenats("apply", "-f", str(changed), "-n", namespace)
    shown = kubenats("get", "deploy", document["metadata"]["name"], "-n", namespace, "-o", "json")

    assert created.stdout.strip() == "deployment.apps/redis-master created", created.output
    assert again.stdout.strip() == "deployment.apps/redis-master unchanged", again.output
    assert configured.stdout.strip() == "deployment.apps/redis-master configured", configured.output
    assert yaml.safe_load(shown.stdout)["spec"]["replicas"] == 3


def test_get_prints_kubectl_columns_and_wide_ones(kubenats: Cli, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    assert kubenats("create", "-f", "-", "-n", namespace, stdin=yaml.safe_dump(pod)).exit_code == 0

    table = kubenats("get", "pods", "-n", namespace).stdout.splitlines()
    wide = kubenats("get", "po", "-n", namespace, "-o", "wide", "-l", "app=web").stdout.splitlines()
    every = kubenats("get", "pods", "-A").stdout.splitlines()
    names = kubenats("get", "pod/web", "-n", namespace, "-o", "name").stdout.strip()

    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["web", "0/1", "Pending", "0"]
    assert wide[0].split()[5:7] == ["IP", "NODE"]
    assert every[0].split()[:2] == ["NAMESPACE", "NAME"] and any(namespace in line for line in every)
    assert names == "pod/web"


def test_missing_object_is_reported_in_kubectls_words(kubenats: Cli, namespace: str) -> None:
    result = kubenats("get", "pod", "nothing", "-n", namespace)
    assert result.exit_code == 1
    assert 'Error from server (NotFound): pods "nothing" not found' in result.output


def test_unknown_resource_type_is_refused(kubenats: Cli) -> None:
    result = kubenats("get", "widgets")
    assert result.exit_code == 1 and 'doesn\'t have a resource type "widgets"' in result.output


def test_scale_then_delete_waits_until_gone(kubenats: Cli, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "nginx"}]},
            },
        },
    }
    assert kubenats("apply", "-f", "-", "-n", namespace, stdin=yaml.safe_dump(deployment)).exit_code == 0

    scaled = kubenats("scale", "deployment/api", "--replicas", "4", "-n", namespace)
    replicas = yaml.safe_load(kubenats("get", "deploy", "api", "-n", namespace, "-o", "yaml").stdout)
    deleted = kubenats("delete", "deployment", "api", "-n", namespace)
    after = kubenats("get", "deployments", "-n", namespace)

    assert scaled.stdout.strip() == "deployment.apps/api scaled"
    assert replicas["spec"]["replicas"] == 4
    assert deleted.stdout.strip() == 'deployment.apps "api" deleted', deleted.output
    assert "No resources found" in after.output


def test_a_bad_token_is_a_login_error(control_plane: LocalControlPlane, tmp_path: Path) -> None:
    args = ["get", "pods", "--server", control_plane.url, "--token", "nope", "--state-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "You must be logged in to the server (Unauthorized)" in result.output


def test_cordon_and_uncordon_toggle_unschedulable(kubenats: Cli) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n-{uuid.uuid4().hex[:6]}"}}
    name = node["metadata"]["name"]
    assert kubenats("create", "-f", "-", stdin=yaml.safe_dump(node)).exit_code == 0

    cordoned = kubenats("cordon", name)
    again = kubenats("cordon", name)
    status = kubenats("get", "nodes", name).stdout.splitlines()[1].split()[1]
    uncordoned = kubenats("uncordon", name)
    spec = yaml.safe_load(kubenats("get", "node", name, "-o", "yaml").stdout).get("spec", {})

    assert cordoned.stdout.strip() == f"node/{name} cordoned"
    assert again.stdout.strip() == f"node/{name} already cordoned"
    assert status.endswith("SchedulingDisabled")
    assert uncordoned.stdout.strip() == f"node/{name} uncordoned"
    assert not spec.get("unschedulable")


async def test_chaos_commands_publish_the_documented_subjects(
    control_plane: LocalControlPlane, tmp_path: Path
) -> None:
    from shared import bus

    nc = await bus.connect(control_plane.url, name="chaos-observer")
    seen: list[tuple[str, bytes]] = []

    async def record(msg: Msg) -> None:
        seen.append((msg.subject, msg.data))

    subscription = await nc.subscribe("chaos.>", cb=record)
    await nc.flush()
    base = ["--server", control_plane.url, "--state-dir", str(tmp_path)]
    runner = CliRunner()
    for args in (
        ["node", "crash", "worker-2"],
        ["pod", "web-0"],
        ["partition", "cp-1", "cp-2,cp-3"],
        ["latency", "cp-1", "--delay-ms", "50"],
        ["reset"],
    ):
        result = await asyncio.to_thread(runner.invoke, app, ["chaos", *args, *base])
        assert result.exit_code == 0, result.output
    await asyncio.sleep(0.2)
    await subscription.unsubscribe()
    await nc.close()

    assert seen == [
        ("chaos.node.worker-2.crash", b""),
        ("chaos.pod.default.web-0.kill", b""),
        ("chaos.network.partition", b'{"groups": [["cp-1"], ["cp-2", "cp-3"]]}'),
        ("chaos.network.latency", b'{"delay_ms":50.0,"jitter_ms":0.0,"replicas":["cp-1"]}'),
        ("chaos.reset", b""),
    ]


def test_describe_shows_the_pod_and_the_events_about_it(kubenats: Cli, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "described", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "described.1"},
        "involvedObject": {"kind": "Pod", "name": "described", "namespace": namespace},
        "reason": "Scheduled",
        "message": "Successfully assigned it",
        "type": "Normal",
        "source": {"component": "default-scheduler"},
    }
    for obj in (pod, event):
        assert kubenats("create", "-f", "-", "-n", namespace, stdin=yaml.safe_dump(obj)).exit_code == 0

    shown = kubenats("describe", "pod", "described", "-n", namespace)

    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["Name:", "described"]
    assert any(line.split()[:2] == ["Image:", "nginx:1.27"] for line in lines)
    assert lines[lines.index("Events:") + 3].split()[:2] == ["Normal", "Scheduled"]
    assert lines[-1].endswith("Successfully assigned it")


def test_nats_req_and_pub_work_like_the_nats_cli(control_plane: LocalControlPlane, tmp_path: Path) -> None:
    def nats(*args: str) -> Result:
        where = ["--server", control_plane.url, "--state-dir", str(tmp_path)]
        return CliRunner().invoke(app, ["nats", *args, *where])

    bearer = f"Authorization:Bearer {control_plane.tokens['admin']}"
    listed = nats("req", "api.core.v1.namespaces.list", "{}", "-H", bearer)
    refused = nats("req", "api.core.v1.namespaces.list", "{}")
    published = nats("pub", "chaos.reset", "")

    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["kind"] == "NamespaceList"
    assert json.loads(refused.stdout)["code"] == 401
    assert published.stdout.strip() == 'Published 0 bytes to "chaos.reset"'
