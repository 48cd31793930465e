"""The `kubenats` CLI's rollout and node-maintenance commands on a whole cluster, with real kubelets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml

from shared.apiclient import ApiClient, resource
from tests.clusters import Cluster
from tests.e2e.conftest import Cli
from tests.e2e.test_quickstart import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODS = resource("", "v1", "pods")
NODES = resource("", "v1", "nodes")
DEPLOYMENTS = resource("apps", "v1", "deployments")


def deployment(image: str) -> str:
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            },
        },
    }
    return yaml.safe_dump(manifest)


async def cli(kubenats: Cli, *args: str, stdin: str | None = None) -> str:
    result = await asyncio.to_thread(kubenats, *args, stdin=stdin)
    assert result.exit_code == 0, f"kubenats {' '.join(args)}:\n{result.output}"
    return str(result.stdout)


async def image_of(admin: ApiClient, namespace: str) -> str:
    found = await admin.get(DEPLOYMENTS, "api", namespace)
    return str(found["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_rollout_commands(cluster: Cluster, admin: ApiClient, kubenats: Cli, namespace: str) -> None:
    await cli(kubenats, "apply", "-f", "-", "-n", namespace, stdin=deployment("nginx:1.27"))
    first = await cli(kubenats, "rollout", "status", "deployment/api", "-n", namespace, "--timeout", "90")
    await cli(kubenats, "apply", "-f", "-", "-n", namespace, stdin=deployment("nginx:1.28"))
    await cli(kubenats, "rollout", "status", "deployment/api", "-n", namespace, "--timeout", "90")
    history = await cli(kubenats, "rollout", "history", "deployment/api", "-n", namespace)
    undone = await cli(kubenats, "rollout", "undo", "deployment/api", "-n", namespace)
    await cli(kubenats, "rollout", "status", "deployment/api", "-n", namespace, "--timeout", "90")
    restarted = await cli(kubenats, "rollout", "restart", "deployment/api", "-n", namespace)

    assert first.strip().endswith('deployment "api" successfully rolled out')
    assert [line.split()[0] for line in history.splitlines()[2:]] == ["1", "2"]
    assert undone.strip() == "deployment.apps/api rolled back"
    assert await image_of(admin, namespace) == "nginx:1.27"
    assert restarted.strip() == "deployment.apps/api restarted"


async def test_drain_moves_pods_and_uncordon_lets_them_back(
    cluster: Cluster, admin: ApiClient, kubenats: Cli, namespace: str
) -> None:
    await cli(kubenats, "apply", "-f", "-", "-n", namespace, stdin=deployment("nginx:1.27"))
    await cli(kubenats, "rollout", "status", "deployment/api", "-n", namespace, "--timeout", "90")
    try:
        drained = await cli(kubenats, "drain", "worker-1", "--timeout", "90")

        async def none_on_worker_1() -> bool:
            pods = (await admin.list(PODS, namespace, label_selector="app=api"))["items"]
            running = [p for p in pods if p["status"].get("phase") == "Running"]
            return len(running) == 2 and all(p["spec"]["nodeName"] != "worker-1" for p in running)

        await eventually(none_on_worker_1, 90, "the api pods run off worker-1")
        cordoned = (await admin.get(NODES, "worker-1"))["spec"].get("unschedulable")
    finally:
        uncordoned = await cli(kubenats, "uncordon", "worker-1")

    assert drained.strip().endswith("node/worker-1 drained")
    assert cordoned is True
    assert uncordoned.strip() == "node/worker-1 uncordoned"
