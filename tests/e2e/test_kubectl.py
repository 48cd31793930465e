"""The real kubectl against a whole cluster, through the kubeconfig `make up` writes: the everyday commands
on real kubelets, a scheduler and controllers — rollouts, node maintenance, logs and top."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest
import yaml

from shared.apiclient import ApiClient, resource
from tests.clusters import Cluster
from tests.e2e.test_quickstart import eventually
from tests.kubectl import require_kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODS = resource("", "v1", "pods")
NODES = resource("", "v1", "nodes")


def kubectl(cluster: Cluster, *args: str, stdin: str | None = None, timeout: float = 90) -> str:
    kubectl = require_kubectl()
    env = {**os.environ, "KUBECONFIG": str(cluster.paths.kubeconfig)}
    done = subprocess.run(
        [str(kubectl), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def web(namespace: str, image: str = "nginx:1.27") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {
                        "labels": {"app": "web"},
                        "annotations": {"sim.kubenats.io/log-interval": "1s", "sim.kubenats.io/cpu": "50m"},
                    },
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": image,
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                            }
                        ]
                    },
                },
            },
        }
    )


async def run(cluster: Cluster, *args: str, stdin: str | None = None, timeout: float = 90) -> str:
    # kubectl blocks; in a thread the test's own event loop (and its API client) keeps going.
    return await asyncio.to_thread(kubectl, cluster, *args, stdin=stdin, timeout=timeout)


async def test_rollouts_with_the_real_kubectl(cluster: Cluster, admin: ApiClient, namespace: str) -> None:
    await run(cluster, "apply", "-f", "-", stdin=web(namespace))
    status = await run(cluster, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    await run(cluster, "set", "image", "deployment/web", "web=nginx:1.28", "-n", namespace)
    updated = await run(cluster, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    await run(cluster, "rollout", "undo", "deployment/web", "-n", namespace)
    await run(cluster, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    images = await run(
        cluster,
        "get",
        "deployment",
        "web",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )
    restarted = await run(cluster, "rollout", "restart", "deployment/web", "-n", namespace)
    described = await run(cluster, "describe", "deployment", "web", "-n", namespace)

    assert 'deployment "web" successfully rolled out' in status
    assert 'deployment "web" successfully rolled out' in updated
    assert images == "nginx:1.27"
    assert "deployment.apps/web restarted" in restarted
    assert "Replicas:" in described and "3 desired" in described


async def test_logs_and_top_with_the_real_kubectl(cluster: Cluster, admin: ApiClient, namespace: str) -> None:
    await run(cluster, "apply", "-f", "-", stdin=web(namespace))
    await run(cluster, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    pod = (await admin.list(PODS, namespace, label_selector="app=web"))["items"][0]["metadata"]["name"]

    async def has_lines() -> bool:
        return bool((await run(cluster, "logs", pod, "-n", namespace, "--tail=2")).strip())

    await eventually(has_lines, 30, "the pod logged a line")
    nodes = await run(cluster, "top", "nodes")
    pods = await run(cluster, "top", "pods", "-n", namespace)

    assert nodes.splitlines()[0].split()[:2] == ["NAME", "CPU(cores)"]
    assert any(line.startswith("worker-1") for line in nodes.splitlines())
    assert sum(line.startswith("web-") for line in pods.splitlines()) == 3


async def test_cordon_and_drain_move_pods_off_a_node(
    cluster: Cluster, admin: ApiClient, namespace: str
) -> None:
    await run(cluster, "apply", "-f", "-", stdin=web(namespace))
    await run(cluster, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    try:
        drained = await run(
            cluster,
            "drain",
            "worker-2",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=90s",
            timeout=120,
        )
        node = await admin.get(NODES, "worker-2")
        described = await run(cluster, "describe", "node", "worker-2")

        async def all_on_worker_1() -> bool:
            pods = (await admin.list(PODS, namespace, label_selector="app=web"))["items"]
            running = [
                p
                for p in pods
                if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]
            ]
            return len(running) == 3 and {p["spec"]["nodeName"] for p in running} == {"worker-1"}

        await eventually(all_on_worker_1, 90, "every web pod runs on worker-1")
    finally:
        await run(cluster, "uncordon", "worker-2")

    assert "node/worker-2 drained" in drained
    assert node["spec"].get("unschedulable") is True
    assert "Unschedulable:" in described and "true" in described
    assert (await admin.get(NODES, "worker-2"))["spec"].get("unschedulable") in (None, False)
