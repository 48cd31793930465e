"""A benchmark of Deployment scale-up: pods Running per second for a 1,000-replica Deployment on hollow nodes.

    .venv/bin/python bench/scale.py [--quick] [--replicas 1000] [--nodes 100]

It starts a control plane the way ``make up`` does (3 replicas of nats-server, etcd, API server, scheduler
and controller manager under supervisord, on free ports in a temporary state dir) whose one worker host
runs a single hollow-node kubelet process (``python -m services.kubelet --nodes 'node-{1..N}'``, in-process
runtimes) in place of the usual kubelet, runtime and kube-proxy; the control-plane hosts run no kubelet.
Kubelet Leases are renewed every 10 s, Kubernetes' default (node grace 50 s to match), so heartbeats do not
crowd out the work measured; leader election keeps ``make up``'s fast timings.

Once every hollow Node is Ready it creates a Deployment of ``--replicas`` pods (pause image, 10m cpu,
16Mi each) and follows its pods through one watch: the time each is first seen, bound to a node and
Running. It prints the time to all created, bound and Running, throughput in pods per second, pod startup
latency (created → Running) p50/p99, and the CPU each component used. ``--quick``: 100 pods, 20 nodes.

Kubernetes' references: kube-controller-manager's API client is limited to 20 requests/s (burst 30) by
default, so its ReplicaSet controller creates about 20 pods/s; the SIG Scalability SLO for stateless pod
startup latency is p99 ≤ 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import cpu_seconds, load, percentile, render_table
from shared.apiclient import ApiClient, resource
from shared.cluster import up
from shared.cluster.tokens import identities
from shared.tokenfile import UserInfo, generate_token_file, token_for_user
from shared.topology import Topology, validate_topology
from tests.clusters import Cluster, cluster_dir, free_port_topology

Object = dict[str, Any]

NODES = resource("", "v1", "nodes")
PODS = resource("", "v1", "pods")
DEPLOYMENTS = resource("apps", "v1", "deployments")
NAMESPACE = "bench-scale"
NODE_PREFIX = "node"
COMPONENTS = ("apiserver", "etcd", "scheduler", "controller-manager", "hollow-nodes", "nats")
TIMINGS = {
    "node_grace_period_seconds": 50,
    "eviction_toleration_seconds": 300,
    "leader_lease_seconds": 3,
    "leader_renew_deadline_seconds": 2,
    "leader_retry_period_seconds": 0.5,
    "node_heartbeat_seconds": 10,
}
REFERENCE_CREATE_PER_S = 20
REFERENCE_STARTUP_P99_S = 5.0


def hollow_topology(nodes: int) -> Topology:
    """``make up``'s control plane, and one worker host whose only program runs ``nodes`` hollow nodes."""
    data = free_port_topology(workers=1, kubelet=False, runtime=False, proxy=False).model_dump(mode="json")
    data["workers"]["name_prefix"] = "hollow"
    data["timings"] = TIMINGS
    # Doubled braces: a literal brace pattern, not a placeholder.
    pattern = f"{NODE_PREFIX}-{{{{1..{nodes}}}}}"
    data["components"]["hollow-nodes"] = {
        "role": "worker",
        "enabled": True,
        "module": "services.kubelet",
        "priority": 60,
        "args": [
            *("--nats", "{nats}", "--nodes", pattern, "--token-file", "{token_file}"),
            *("--lease-seconds", "{node_heartbeat_seconds}", "--cpu", "4", "--memory", "8Gi"),
        ],
    }
    return validate_topology(data)


def write_tokens(cluster: Cluster, nodes: int) -> None:
    """The cluster's identities plus one per hollow node, written before ``up`` so it keeps them."""
    hollow = [
        UserInfo(f"system:node:{NODE_PREFIX}-{n}", f"uid-node-{NODE_PREFIX}-{n}", ("system:nodes",))
        for n in range(1, nodes + 1)
    ]
    cluster.paths.token_file.parent.mkdir(parents=True, exist_ok=True)
    generate_token_file(cluster.paths.token_file, [*identities(cluster.topology), *hollow])


def deployment(replicas: int) -> Object:
    labels = {"app": "scale"}
    container = {
        "name": "pause",
        "image": "registry.k8s.io/pause:3.9",
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "scale", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


async def ready_nodes(api: ApiClient) -> int:
    count = 0
    for node in (await api.list(NODES))["items"]:
        conditions = node.get("status", {}).get("conditions") or []
        count += any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return count


@dataclass
class ScaleUp:
    """When each pod was first seen, bound and Running, in seconds since the Deployment was created."""

    replicas: int
    started: float
    seen: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)
    all_running: asyncio.Event = field(default_factory=asyncio.Event)

    def on_pod(self, pod: Object) -> None:
        now = time.monotonic() - self.started
        name = pod["metadata"]["name"]
        self.seen.setdefault(name, now)
        if pod["spec"].get("nodeName"):
            self.bound.setdefault(name, now)
        if pod.get("status", {}).get("phase") == "Running":
            self.running.setdefault(name, now)
            if len(self.running) >= self.replicas:
                self.all_running.set()

    def startup_latencies(self) -> list[float]:
        return [at - self.seen[name] for name, at in self.running.items()]


def component_pids(cluster: Cluster) -> dict[str, list[int]]:
    pids = cluster.pids()
    return {c: [pid for name, pid in pids.items() if name.endswith(f"-{c}") and pid > 0] for c in COMPONENTS}


async def scale_up(api: ApiClient, replicas: int, timeout: float) -> tuple[ScaleUp, float]:
    await api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    listed = await api.list(PODS, NAMESPACE)
    watch = await api.watch(PODS, NAMESPACE, resource_version=listed["metadata"]["resourceVersion"])
    progress = ScaleUp(replicas, time.monotonic())

    async def follow() -> None:
        async for event in watch:
            if event["type"] != "DELETED":
                progress.on_pod(event["object"])

    following = asyncio.create_task(follow())
    try:
        await api.create(deployment(replicas), NAMESPACE)
        await asyncio.wait_for(progress.all_running.wait(), timeout)
        while True:
            status = (await api.get(DEPLOYMENTS, "scale", NAMESPACE)).get("status", {})
            if status.get("availableReplicas", 0) >= replicas:
                return progress, time.monotonic() - progress.started
            await asyncio.sleep(0.2)
    finally:
        await watch.stop()
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)


def report(progress: ScaleUp, available_after: float, cpu: dict[str, float], nodes: int) -> str:
    n = progress.replicas
    created, bound, running = (max(d.values()) for d in (progress.seen, progress.bound, progress.running))
    latencies = progress.startup_latencies()
    rows = [
        ["stage", "all done after s", "pods/s", "reference"],
        [
            "created (first seen)",
            f"{created:.1f}",
            f"{n / created:.1f}",
            f"~{REFERENCE_CREATE_PER_S}/s (20 QPS)",
        ],
        ["bound to a node", f"{bound:.1f}", f"{n / bound:.1f}", ""],
        ["Running", f"{running:.1f}", f"{n / running:.1f}", ""],
        ["Deployment available", f"{available_after:.1f}", f"{n / available_after:.1f}", ""],
    ]
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    lines = [
        f"{n} replicas on {nodes} hollow nodes (one kubelet process); {load()}",
        render_table(rows, "l"),
        f"pod startup latency (first seen → Running): p50 {p50:.2f} s, p99 {p99:.2f} s "
        f"(SLO reference: p99 ≤ {REFERENCE_STARTUP_P99_S:g} s)",
        "CPU seconds during the scale-up: " + ", ".join(f"{c} {s:.1f}" for c, s in cpu.items()),
    ]
    return "\n".join(lines)


async def bench(args: argparse.Namespace) -> int:
    replicas, nodes = (100, 20) if args.quick else (args.replicas, args.nodes)
    print(f"replicas={replicas} nodes={nodes}  {load()}", flush=True)
    with cluster_dir(hollow_topology(nodes)) as cluster:
        write_tokens(cluster, nodes)
        began = time.monotonic()
        await asyncio.to_thread(up, cluster.topology, cluster.paths, 300.0)
        token = token_for_user(cluster.paths.token_file, "admin")
        api = await ApiClient.connect(cluster.topology.nats_urls(), token, name="bench-scale")
        api.timeout = 20.0
        try:
            deadline = time.monotonic() + 300
            while (ready := await ready_nodes(api)) < nodes:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {ready}/{nodes} hollow nodes Ready after 300 s")
                await asyncio.sleep(1)
            print(
                f"cluster up, {nodes} hollow nodes Ready after {time.monotonic() - began:.0f} s", flush=True
            )
            pids = component_pids(cluster)
            before = {c: cpu_seconds(p) for c, p in pids.items()}
            progress, available_after = await scale_up(api, replicas, timeout=max(300.0, replicas / 2))
            cpu = {c: cpu_seconds(p) - before[c] for c, p in pids.items()}
        finally:
            await api.close()
    print()
    print(report(progress, available_after, cpu, nodes))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 replicas on 20 hollow nodes")
    parser.add_argument("--replicas", type=int, default=1000, help="Deployment replicas (default 1000)")
    parser.add_argument("--nodes", type=int, default=100, help="hollow nodes (default 100)")
    try:
        return asyncio.run(bench(parser.parse_args()))
    except KeyboardInterrupt:
        print("interrupted: the cluster is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
