"""Services on a whole cluster: a pod behind a Service crashing under steady traffic costs a bounded number
of errors — the requests that reach it before its kubelet notices and its EndpointSlice drops it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import yaml

from shared import bus, subjects
from shared.apiclient import ApiClient, resource
from tests.clusters import Cluster
from tests.e2e.conftest import Cli
from tests.e2e.test_quickstart import deployments_ready, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODS = resource("", "v1", "pods")
RATE = 40.0
"""Requests per second the test sends."""
DETECTION_BUDGET = 4.0
"""Seconds of traffic that may fail: the kubelet's relist (1 s), its status write, the endpoint
controller's update and the proxies' watch, with room for a loaded machine."""


def echo_service(replicas: int) -> str:
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "echo"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "echo"}},
            "template": {
                "metadata": {"labels": {"app": "echo"}, "annotations": {"sim.kubenats.io/startup": "2s"}},
                "spec": {
                    "containers": [
                        {
                            "name": "echo",
                            "image": "example.com/echo:1",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    return yaml.safe_dump_all([service, deployment])


async def test_a_crashing_endpoint_costs_a_bounded_number_of_errors(
    cluster: Cluster, admin: ApiClient, kubenats: Cli, namespace: str
) -> None:
    applied = await asyncio.to_thread(kubenats, "apply", "-f", "-", "-n", namespace, stdin=echo_service(2))
    assert applied.exit_code == 0, applied.output
    await eventually(lambda: deployments_ready(admin, namespace, ("echo",)), 90, "echo is available")
    nc = await bus.connect(cluster.topology.nats_urls(), name="e2e-traffic")
    outcomes: list[tuple[float, bool]] = []
    stop = asyncio.Event()

    async def one(sent_at: float) -> None:
        try:
            reply = await nc.request(subjects.service(namespace, "echo"), b"hello", timeout=5)
            ok = not (reply.headers or {}).get("Nats-Service-Error-Code")
        except Exception:
            ok = False
        outcomes.append((sent_at, ok))

    async def traffic() -> None:
        tasks = []
        while not stop.is_set():
            tasks.append(asyncio.create_task(one(time.monotonic())))
            await asyncio.sleep(1 / RATE)
        await asyncio.gather(*tasks)

    sender = asyncio.create_task(traffic())
    try:
        await asyncio.sleep(2)
        victim = (await admin.list(PODS, namespace, label_selector="app=echo"))["items"][0]
        killed_at = time.monotonic()
        await nc.publish(
            subjects.chaos("pod", namespace, subjects.name_token(victim["metadata"]["name"]), "kill"), b""
        )

        async def restarted_and_ready() -> bool:
            pod = await admin.get(PODS, victim["metadata"]["name"], namespace)
            statuses = pod.get("status", {}).get("containerStatuses") or []
            return (
                bool(statuses) and statuses[0].get("restartCount", 0) >= 1 and statuses[0].get("ready", False)
            )

        await eventually(restarted_and_ready, 60, "the killed pod restarted and is ready again")
        await asyncio.sleep(2)
    finally:
        stop.set()
        await sender
        await nc.close()

    before = [ok for at, ok in outcomes if at < killed_at]
    after = [ok for at, ok in outcomes if at >= killed_at]
    failed = after.count(False)
    assert all(before), "requests failed before anything was broken"
    assert failed <= RATE * DETECTION_BUDGET, f"{failed} of {len(after)} requests failed after the kill"
    assert all(ok for at, ok in outcomes[-int(RATE) :]), "requests still fail after the pod is back"
