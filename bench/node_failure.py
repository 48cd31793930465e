"""A benchmark of node failure repair: from ``chaos.node.<node>.crash`` to every replacement pod Running.

    .venv/bin/python bench/node_failure.py [--quick] [--runs 3] [--replicas 6]

For each timing profile it starts a whole cluster the way ``make up`` does (3 control-plane replicas, 3
workers with their runtimes; no kube-proxies, which take no part in a repair) on free ports in a temporary
state dir, runs a Deployment of ``--replicas`` nginx pods, and then, ``--runs`` times: crashes the worker
running most of them, follows the Node, the pods and the Deployment through watches, and times each phase
from the crash — detection (the Node's Ready condition turns Unknown), taint (``unreachable:NoExecute``),
eviction (every pod of the node is deleted), replacements scheduled (as many new pods bound), replacements
Running, and the Deployment available again. The node then recovers before the next run.

Profiles: ``fast`` is ``infra/topology.yaml``'s (node grace 5 s, eviction toleration 5 s, heartbeat 1 s);
``kubernetes`` is Kubernetes' defaults (node grace 50 s as since 1.32, 40 s before; the
``DefaultTolerationSeconds`` 300 s; kubelet Lease renewed every 10 s; leader lease 15/10/2 s), one run:
about six minutes. ``--quick`` runs the fast profile once and skips the Kubernetes one.

Kubernetes' reference: grace + toleration ≈ 50 + 300 = 350 s before a dead node's pods are even evicted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import load, render_table
from shared import subjects
from shared.apiclient import ApiClient, resource
from shared.apiwatch import ApiWatch
from shared.cluster import up
from shared.tokenfile import token_for_user
from shared.topology import Topology, validate_topology
from tests.clusters import cluster_dir, free_port_topology

Object = dict[str, Any]

NODES = resource("", "v1", "nodes")
PODS = resource("", "v1", "pods")
DEPLOYMENTS = resource("apps", "v1", "deployments")
NAMESPACE = "bench-node-failure"
UNREACHABLE = "node.kubernetes.io/unreachable"
PHASES = ("detection", "taint", "eviction", "scheduled", "running", "available")
PHASE_TITLES = {
    "detection": "Ready=Unknown",
    "taint": "tainted",
    "eviction": "evicted",
    "scheduled": "scheduled",
    "running": "Running",
    "available": "available",
}
FAST: dict[str, float] = {
    "node_grace_period_seconds": 5,
    "eviction_toleration_seconds": 5,
    "leader_lease_seconds": 3,
    "leader_renew_deadline_seconds": 2,
    "leader_retry_period_seconds": 0.5,
    "node_heartbeat_seconds": 1,
}
KUBERNETES: dict[str, float] = {
    "node_grace_period_seconds": 50,
    "eviction_toleration_seconds": 300,
    "leader_lease_seconds": 15,
    "leader_renew_deadline_seconds": 10,
    "leader_retry_period_seconds": 2,
    "node_heartbeat_seconds": 10,
}
PROFILES: dict[str, dict[str, float]] = {"fast": FAST, "kubernetes": KUBERNETES}
REFERENCE = {"detection": 50.0, "taint": 50.0, "eviction": 350.0}
"""Kubernetes' defaults: Unknown and tainted after the 50 s grace, evicted 300 s later."""


def profile_topology(timings: dict[str, float], workers: int) -> Topology:
    data = free_port_topology(workers=workers, proxy=False).model_dump(mode="json")
    data["timings"] = timings
    return validate_topology(data)


def deployment(replicas: int) -> Object:
    labels = {"app": "web"}
    container = {
        "name": "web",
        "image": "nginx:1.27",
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
            },
        },
    }


def condition(obj: Object, kind: str) -> str:
    for found in obj.get("status", {}).get("conditions") or []:
        if found.get("type") == kind:
            return str(found.get("status"))
    return ""


def available(deploy: Object) -> bool:
    wanted = deploy["spec"].get("replicas", 1)
    status = deploy.get("status", {})
    return bool(status.get("availableReplicas", 0) == wanted and not status.get("unavailableReplicas"))


@dataclass
class Repair:
    """One node's failure as the watches see it; ``marks`` holds each phase's seconds since the crash."""

    node: str
    victims: set[str]
    before: set[str]
    crashed_at: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)
    evicted: set[str] = field(default_factory=set)
    replacements: dict[str, Object] = field(default_factory=dict)
    deployment_available: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def mark(self, phase: str) -> None:
        if phase not in self.marks and self.crashed_at:
            self.marks[phase] = time.monotonic() - self.crashed_at
            if phase == "available":
                self.done.set()

    def on_node(self, node: Object) -> None:
        if node["metadata"]["name"] != self.node:
            return
        if condition(node, "Ready") == "Unknown":
            self.mark("detection")
        taints = node.get("spec", {}).get("taints") or []
        if any(t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute" for t in taints):
            self.mark("taint")

    def on_pod(self, kind: str, pod: Object) -> None:
        name = pod["metadata"]["name"]
        if name in self.victims:
            if kind == "DELETED" or "deletionTimestamp" in pod["metadata"]:
                self.evicted.add(name)
                if self.evicted == self.victims:
                    self.mark("eviction")
            return
        if name in self.before or kind == "DELETED":
            return
        self.replacements[name] = pod
        wanted = len(self.victims)
        if sum(bool(p["spec"].get("nodeName")) for p in self.replacements.values()) >= wanted:
            self.mark("scheduled")
        if sum(p.get("status", {}).get("phase") == "Running" for p in self.replacements.values()) >= wanted:
            self.mark("running")
            self.check_available()

    def on_deployment(self, deploy: Object) -> None:
        self.deployment_available = available(deploy)
        self.check_available()

    def check_available(self) -> None:
        if self.deployment_available and "running" in self.marks:
            self.mark("available")


@asynccontextmanager
async def following(watches: list[tuple[ApiWatch, Any]]) -> AsyncIterator[None]:
    """Feed each watch's events to its handler while the block runs."""

    async def pump(watch: ApiWatch, handle: Any) -> None:
        async for event in watch:
            handle(event["type"], event["object"])

    tasks = [asyncio.create_task(pump(w, h)) for w, h in watches]
    try:
        yield
    finally:
        for watch, _ in watches:
            await watch.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting until {what}")
        await asyncio.sleep(0.5)


async def running_pods(api: ApiClient) -> list[Object]:
    pods = (await api.list(PODS, NAMESPACE))["items"]
    return [
        p
        for p in pods
        if p.get("status", {}).get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]
    ]


async def node_healthy(api: ApiClient, name: str) -> bool:
    node = await api.get(NODES, name)
    taints = node.get("spec", {}).get("taints") or []
    return condition(node, "Ready") == "True" and not any(t.get("key") == UNREACHABLE for t in taints)


async def deployment_available(api: ApiClient) -> bool:
    return available(await api.get(DEPLOYMENTS, "web", NAMESPACE))


async def one_repair(api: ApiClient, timeout: float) -> Repair:
    """Crash the worker with most of the Deployment's pods and follow the repair to its end."""
    pods = await running_pods(api)
    by_node: dict[str, set[str]] = {}
    for pod in pods:
        by_node.setdefault(pod["spec"]["nodeName"], set()).add(pod["metadata"]["name"])
    node = max(sorted(by_node), key=lambda n: len(by_node[n]))
    listed_pods = await api.list(PODS, NAMESPACE)
    repair = Repair(node, by_node[node], {p["metadata"]["name"] for p in listed_pods["items"]})
    listed_nodes = await api.list(NODES)
    listed_deployments = await api.list(DEPLOYMENTS, NAMESPACE)
    watches = [
        (
            await api.watch(NODES, resource_version=listed_nodes["metadata"]["resourceVersion"]),
            lambda _kind, obj: repair.on_node(obj),
        ),
        (
            await api.watch(PODS, NAMESPACE, resource_version=listed_pods["metadata"]["resourceVersion"]),
            repair.on_pod,
        ),
        (
            await api.watch(
                DEPLOYMENTS, NAMESPACE, resource_version=listed_deployments["metadata"]["resourceVersion"]
            ),
            lambda _kind, obj: repair.on_deployment(obj),
        ),
    ]
    async with following(watches):
        repair.crashed_at = time.monotonic()
        await api.nc.publish(subjects.chaos("node", node, "crash"), b"")
        try:
            await asyncio.wait_for(repair.done.wait(), timeout)
        finally:
            await api.nc.publish(subjects.chaos("node", node, "recover"), b"")
    await wait_for(lambda: node_healthy(api, node), 120, f"{node} is Ready and untainted again")
    await wait_for(lambda: deployment_available(api), 120, "the Deployment is available")
    return repair


async def measure_profile(profile: str, runs: int, replicas: int) -> list[Repair]:
    timings = PROFILES[profile]
    # Longest phase: grace + toleration, then scheduling and start-up on a loaded machine.
    timeout = timings["node_grace_period_seconds"] + timings["eviction_toleration_seconds"] + 120
    repairs: list[Repair] = []
    with cluster_dir(profile_topology(timings, workers=3)) as cluster:
        started = time.monotonic()
        await asyncio.to_thread(up, cluster.topology, cluster.paths, 300.0)
        cluster.remember_pids()
        print(f"[{profile}] cluster up in {time.monotonic() - started:.0f} s", flush=True)
        token = token_for_user(cluster.paths.token_file, "admin")
        api = await ApiClient.connect(cluster.topology.nats_urls(), token, name="bench-node-failure")
        try:
            await api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
            await api.create(deployment(replicas), NAMESPACE)
            await wait_for(lambda: deployment_available(api), 120, f"{replicas} replicas are available")
            for run in range(1, runs + 1):
                repair = await one_repair(api, timeout)
                repairs.append(repair)
                figures = " ".join(f"{p}={repair.marks[p]:.1f}s" for p in PHASES if p in repair.marks)
                print(f"[{profile}] run {run}: {repair.node} lost {len(repair.victims)} pods; {figures}")
        finally:
            await api.close()
    return repairs


def median_of(repairs: list[Repair], phase: str) -> str:
    values = [r.marks[phase] for r in repairs if phase in r.marks]
    return f"{statistics.median(values):.1f}" if values else "-"


def report(results: dict[str, list[Repair]]) -> str:
    header = ["profile", "runs", "pods moved", *(PHASE_TITLES[p] + " s" for p in PHASES)]
    rows = [header]
    for profile, repairs in results.items():
        moved = statistics.median(len(r.victims) for r in repairs)
        rows.append(
            [profile, str(len(repairs)), f"{moved:g}", *(median_of(repairs, phase) for phase in PHASES)]
        )
    reference = [f"{REFERENCE[p]:.0f}" if p in REFERENCE else "-" for p in PHASES]
    rows.append(["kubernetes reference", "-", "-", *reference])
    note = (
        "median seconds from the crash to each phase (cumulative). Reference: Kubernetes' defaults, "
        "50 s node grace (40 s before 1.32) + 300 s DefaultTolerationSeconds ≈ 350 s to eviction."
    )
    return render_table(rows, "l") + "\n" + note


async def bench(args: argparse.Namespace) -> int:
    plan = {"fast": 1} if args.quick else {"fast": args.runs, "kubernetes": args.kubernetes_runs}
    print(f"profiles {plan} replicas={args.replicas}  {load()}", flush=True)
    results = {profile: await measure_profile(profile, runs, args.replicas) for profile, runs in plan.items()}
    print(f"\n{load()}\n")
    print(report(results))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="one fast-profile run, no Kubernetes-timings run"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs with the fast profile (default 3)")
    parser.add_argument(
        "--kubernetes-runs",
        type=int,
        default=1,
        help="runs with Kubernetes' timings, ~6 min each (default 1)",
    )
    parser.add_argument("--replicas", type=int, default=6, help="pods of the Deployment (default 6)")
    try:
        return asyncio.run(bench(parser.parse_args()))
    except KeyboardInterrupt:
        print("interrupted: the clusters are stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
