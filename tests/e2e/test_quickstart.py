"""The README quickstart, step by step, on a whole cluster: apply the examples, watch pods run, crash a
worker, watch them move, and read the API with a raw NATS request as the `nats` CLI would send it.

The `nats` CLI lines of the README are sent here through nats-py with the same subject and payload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared import bus, subjects
from shared.apiclient import ApiClient, resource
from tests.clusters import Cluster
from tests.e2e.conftest import EXAMPLES, Cli, admin_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PODS = resource("", "v1", "pods")
DEPLOYMENTS = resource("apps", "v1", "deployments")
NODES = resource("", "v1", "nodes")
# make up's timings: node grace 5 s + eviction toleration 5 s, plus scheduling and start-up.
MOVE_WITHIN = 60.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"timed out after {timeout:g} s waiting until {what}"
        await asyncio.sleep(0.5)


async def deployments_ready(admin: ApiClient, namespace: str, names: tuple[str, ...]) -> bool:
    for name in names:
        status = (await admin.get(DEPLOYMENTS, name, namespace)).get("status", {})
        spec = (await admin.get(DEPLOYMENTS, name, namespace))["spec"]
        if status.get("availableReplicas", 0) != spec.get("replicas", 1):
            return False
    return True


async def proxy_stats(nc: Client) -> dict[str, int]:
    """The proxies' counters summed over the workers."""
    stats = [await bus.request(nc, subjects.node_proxy_stats(f"worker-{n}"), {}) for n in (1, 2)]
    return {key: sum(s[key] for s in stats) for key in ("requests", "local", "remote", "errors")}


def running_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        p
        for p in pods
        if p.get("status", {}).get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]
    ]


async def test_quickstart(cluster: Cluster, admin: ApiClient, kubenats: Cli, namespace: str) -> None:
    urls = cluster.topology.nats_urls()
    nc = await bus.connect(urls, name="e2e-quickstart")
    changes: list[str] = []

    async def seen(msg: Msg) -> None:
        changes.append(msg.subject)

    # nats sub 'watch.core.v1.pods.>'
    watching = await nc.subscribe(subjects.watch_events_of("", "v1", "pods"), cb=seen)
    try:
        # The CLI runs its own event loop, so it runs in a thread here, as in a second shell.
        applied = await asyncio.to_thread(kubenats, "apply", "-f", str(EXAMPLES), "-n", namespace)
        assert applied.exit_code == 0, applied.output
        assert "deployment.apps/frontend created" in applied.stdout

        await eventually(
            lambda: deployments_ready(admin, namespace, ("db", "frontend")),
            90,
            "db and frontend are available",
        )
        table = await asyncio.to_thread(kubenats, "get", "pods", "-o", "wide", "-n", namespace)
        rows = [line.split() for line in table.stdout.splitlines()[1:]]
        assert len(rows) == 5 and {row[2] for row in rows} == {"Running"}, table.stdout
        assert all(row[6].startswith("worker-") for row in rows), (
            "pods landed on a tainted control-plane node"
        )
        assert any(namespace in subject for subject in changes), "no pod change was published on watch.…"

        # The frontend's traffic reaches the database through kube-proxy, on the same node when it can;
        # once both are up (the counts before include the frontend calling a database still starting).
        before = await proxy_stats(nc)
        await asyncio.sleep(3)
        after = await proxy_stats(nc)
        sent = after["requests"] - before["requests"]
        assert sent >= 3 * 5 * 2, f"the frontend sent only {sent} requests in 3 s"
        assert after["errors"] - before["errors"] <= sent * 0.01
        db_nodes = {
            p["spec"]["nodeName"]
            for p in (await admin.list(PODS, namespace, label_selector="app=db"))["items"]
        }
        if db_nodes == {"worker-1", "worker-2"}:
            assert after["remote"] == before["remote"], (
                "a request crossed nodes though a local db pod was ready"
            )

        # nats pub chaos.node.worker-2.crash ''
        on_worker_2 = [
            p["metadata"]["name"]
            for p in (await admin.list(PODS, namespace))["items"]
            if p["spec"].get("nodeName") == "worker-2"
        ]
        await nc.publish(subjects.chaos("node", "worker-2", "crash"), b"")

        async def moved() -> bool:
            pods = running_pods((await admin.list(PODS, namespace))["items"])
            names = {p["metadata"]["name"] for p in pods}
            return (
                len(pods) == 5
                and all(p["spec"]["nodeName"] == "worker-1" for p in pods)
                and not names & set(on_worker_2)
                and await deployments_ready(admin, namespace, ("db", "frontend"))
            )

        await eventually(moved, MOVE_WITHIN, "the pods of the crashed worker-2 run on worker-1")

        # nats req api.core.v1.pods.list '{"namespace": "…"}' -H "Authorization:Bearer $(… cluster token)"
        headers = {"Authorization": f"Bearer {admin_token(cluster)}"}
        reply = await nc.request(
            subjects.api("", "v1", "pods", "list"),
            json.dumps({"namespace": namespace}).encode(),
            headers=headers,
        )
        listed = json.loads(reply.data)
        assert listed["kind"] == "PodList" and len(running_pods(listed["items"])) == 5
    finally:
        await nc.publish(subjects.chaos("node", "worker-2", "recover"), b"")
        await watching.unsubscribe()
        await nc.close()

    async def worker_2_ready() -> bool:
        node = await admin.get(NODES, "worker-2")
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        taints = node.get("spec", {}).get("taints") or []
        return conditions.get("Ready") == "True" and not any("unreachable" in t["key"] for t in taints)

    await eventually(worker_2_ready, MOVE_WITHIN, "worker-2 is back and Ready")
