"""A benchmark of the scheduler: pods per second from creation to bound, and per-pod latency.

    .venv/bin/python bench/scheduler.py [--quick] [--pods 1000] [--clients 32]

It starts one ``LocalControlPlane(apiservers=3)`` and one scheduler replica (``python -m
services.scheduler``, default configuration, so the adaptive ``percentageOfNodesToScore``), waits until
the scheduler holds its Lease, and then, for 100 and for 1,000 nodes: creates the Node objects through
the API (32 cpu, 128Gi, 110 pods each — hollow nodes: no kubelet), creates the pods (100m cpu, 128Mi
each) from ``--clients`` concurrent tasks as fast as the API server takes them, and watches the
namespace until every pod is bound. Throughput is pods divided by the time from the first create call
to the last binding seen; a pod's latency is from its create call to the watch event that shows it bound.
The nodes and pods of one size are deleted before the next. ``--quick`` runs 20 and 100 nodes with 100
pods, a smoke run.

Kubernetes' scheduler_perf requires at least 680 pods/s for its 5,000-node scheduling test; the table
prints that reference beside our figures. The figures include the API server's create and bind work and
the event writes on the same 2-core machine, which scheduler_perf's in-process API server does not share.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import Interrupted, StopFlag, cpu_seconds, load, percentile, render_table

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient, resource
from shared.procs import ServiceProcess

STOP = StopFlag()
PODS = resource("", "v1", "pods")
NODES = resource("", "v1", "nodes")
LEASES = resource("coordination.k8s.io", "v1", "leases")
REFERENCE_PODS_PER_S = 680
REFERENCE_NODES = 5000
FULL = ((100, 1000), (1000, 1000))
QUICK = ((20, 100), (100, 100))


def node(name: str) -> dict[str, Any]:
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"capacity": allocatable, "allocatable": allocatable},
    }


def pod(name: str, namespace: str) -> dict[str, Any]:
    requests = {"cpu": "100m", "memory": "128Mi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {"name": "app", "image": "registry.k8s.io/pause:3.9", "resources": {"requests": requests}}
            ]
        },
    }


async def in_parallel(clients: int, count: int, call: Any) -> None:
    next_n = 0

    async def worker() -> None:
        nonlocal next_n
        while next_n < count and not STOP.requested:
            n, next_n = next_n, next_n + 1
            await call(n)

    await asyncio.gather(*(worker() for _ in range(clients)))


async def wait_for_leader(api: ApiClient, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            spec = (await api.get(LEASES, "kube-scheduler", "kube-system")).get("spec") or {}
            if spec.get("holderIdentity"):
                return str(spec["holderIdentity"])
        except Exception:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the scheduler never took its lease")


async def measure(
    api: ApiClient, nodes: int, pods: int, clients: int, scheduler_pid: int
) -> dict[str, float]:
    namespace = f"bench-{nodes}"
    await api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    names = [f"hollow-{nodes}-{i:04}" for i in range(nodes)]
    await in_parallel(clients, nodes, lambda n: api.create(node(names[n])))
    await asyncio.sleep(1.0)  # the scheduler's node informer catches up before the clock starts
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    all_bound = asyncio.Event()
    watch = await api.watch(PODS, namespace)

    async def follow() -> None:
        async for event in watch:
            obj = event.get("object") or {}
            name = (obj.get("metadata") or {}).get("name")
            if name and (obj.get("spec") or {}).get("nodeName") and name not in bound:
                bound[name] = time.perf_counter()
                if len(bound) == pods:
                    all_bound.set()

    follower = asyncio.create_task(follow())
    cpu_before = cpu_seconds([scheduler_pid])

    async def create(n: int) -> None:
        name = f"p-{n:05}"
        created[name] = time.perf_counter()
        await api.create(pod(name, namespace), namespace)

    started = time.perf_counter()
    await in_parallel(clients, pods, create)
    created_all = time.perf_counter()
    try:
        await asyncio.wait_for(all_bound.wait(), timeout=max(120, pods / 5))
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await watch.stop()
    finished = max(bound.values()) if bound else time.perf_counter()
    latencies = [bound[name] - created[name] for name in bound if name in created]
    figures = {
        "nodes": nodes,
        "pods": pods,
        "bound": len(bound),
        "pods_per_s": len(bound) / (finished - started),
        "create_per_s": pods / (created_all - started),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "scheduler_cpu_ms_per_pod": (cpu_seconds([scheduler_pid]) - cpu_before) / max(1, len(bound)) * 1000,
    }
    await in_parallel(clients, pods, lambda n: api.delete(PODS, f"p-{n:05}", namespace, 0))
    await in_parallel(clients, nodes, lambda n: api.delete(NODES, names[n]))
    return figures


async def bench(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else tuple((n, args.pods) for n, _ in FULL)
    print(f"sizes (nodes, pods)={sizes} clients={args.clients} cpus={os.cpu_count()}  {load()}", flush=True)
    results = []
    with LocalControlPlane(apiservers=3) as cp:
        token_file = cp.etcd.root / "tokens.csv"
        scheduler = ServiceProcess(
            "scheduler-cp-1",
            "services.scheduler",
            ["--nats", cp.url, "--name", "cp-1", "--token-file", str(token_file)],
            cp.etcd.root / "logs",
            ready_line="scheduler ready",
        )
        scheduler.start(timeout=60)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, STOP.request)
        nc = await bus.connect(cp.url, name="bench-scheduler")
        try:
            api = ApiClient(nc, cp.tokens["admin"], retry_for=30)
            print(f"scheduler leader: {await wait_for_leader(api)}", flush=True)
            for nodes, pods in sizes:
                STOP.checkpoint()
                figures = await measure(api, nodes, pods, args.clients, scheduler.pid)
                results.append(figures)
                print(
                    f"nodes={nodes} pods={pods} bound={figures['bound']} {figures['pods_per_s']:.0f} pods/s "
                    f"(created at {figures['create_per_s']:.0f}/s) p50={figures['p50_ms']:.0f}ms "
                    f"p99={figures['p99_ms']:.0f}ms "
                    f"scheduler cpu {figures['scheduler_cpu_ms_per_pod']:.2f} ms/pod",
                    flush=True,
                )
        finally:
            await nc.close()
            scheduler.terminate()
    rows = [("nodes", "pods", "pods/s", "create/s", "p50 ms", "p99 ms", "sched cpu ms/pod", "reference")]
    for r in results:
        rows.append(
            (
                f"{r['nodes']:.0f}",
                f"{r['pods']:.0f}",
                f"{r['pods_per_s']:.0f}",
                f"{r['create_per_s']:.0f}",
                f"{r['p50_ms']:.0f}",
                f"{r['p99_ms']:.0f}",
                f"{r['scheduler_cpu_ms_per_pod']:.2f}",
                f"≥ {REFERENCE_PODS_PER_S} pods/s at {REFERENCE_NODES} nodes (scheduler_perf)",
            )
        )
    print(f"\n{load()}\n")
    print(render_table(rows, "rr"))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run with small sizes")
    parser.add_argument("--pods", type=int, default=1000, help="pods per size (default 1000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent create calls (default 32)")
    args = parser.parse_args()
    try:
        return asyncio.run(bench(args))
    except (Interrupted, KeyboardInterrupt):
        print("interrupted: the control plane is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
