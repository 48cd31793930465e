"""A benchmark of reads served by the kubelets through the API server: ``pods/log`` and ``metrics.k8s.io``.

    .venv/bin/python bench/logs_metrics.py [--nodes 20] [--requests 100]

It starts one ``LocalControlPlane`` (a nats-server, 3 etcd members, one API server replica) and one kubelet
process with N hollow nodes (in-process runtimes), binds one pod per node whose container writes a line
every 100 ms, and once they run measures over NATS, one request at a time: a ``pods/log`` read of the last
100 lines (API server → the pod's kubelet), a ``NodeMetricsList`` (every node's kubelet asked at once),
and an all-namespace ``PodMetricsList``. It prints p50/p99 latencies per kind of request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import load, percentile, render_table
from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient, resource
from shared.podlogs import PodLogOptions
from shared.procs import ServiceProcess

PODS = resource("", "v1", "pods")
TICKING = {
    "sim.kubenats.io/startup": "100ms",
    "sim.kubenats.io/log-interval": "100ms",
    "sim.kubenats.io/log-line": "{container}: tick {n}",
}


def pod(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"ticker-{n}", "namespace": "default", "annotations": TICKING},
        "spec": {"containers": [{"name": "app", "image": "registry.example/ticker:1"}]},
    }


async def running(admin: ApiClient) -> int:
    listed = await admin.list(PODS, "default")
    return sum(p.get("status", {}).get("phase") == "Running" for p in listed["items"])


async def timed(requests: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    took = []
    for _ in range(requests):
        start = time.perf_counter()
        await call()
        took.append((time.perf_counter() - start) * 1000)
    return took


async def run(args: argparse.Namespace) -> None:
    names = tuple(f"worker-{n}" for n in range(1, args.nodes + 1))
    with LocalControlPlane(apiservers=1, nodes=names) as cp:
        kubelet = ServiceProcess(
            "kubelet-hollow",
            "services.kubelet",
            ["--nats", cp.url, "--nodes", f"worker-{{1..{args.nodes}}}", "--token-file"]
            + [str(cp.etcd.root / "tokens.csv"), "--status-interval", "1"],
            cp.etcd.root / "logs",
            ready_line="kubelet ready",
        )
        kubelet.start()
        nc = await bus.connect(cp.url, name="bench-logs")
        admin = ApiClient(nc, cp.tokens["admin"], timeout=20)
        try:
            for n, node in enumerate(names, 1):
                await admin.create(pod(n))
                await admin.bind(f"ticker-{n}", node, "default")
            deadline = time.monotonic() + 120
            while await running(admin) < args.nodes and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            await asyncio.sleep(12)  # about 100 lines per container
            tail = PodLogOptions(tail_lines=100)
            rows = [["request", "count", "p50 ms", "p99 ms"]]
            for label, call, count in (
                ("pods/log tail 100", lambda: admin.logs("ticker-1", "default", tail), args.requests),
                (f"NodeMetricsList ({args.nodes} nodes)", admin.node_metrics, args.requests // 5),
                ("PodMetricsList (all)", admin.pod_metrics, args.requests // 5),
            ):
                took = await timed(count, call)
                rows.append(
                    [label, str(count), f"{percentile(took, 0.5):.1f}", f"{percentile(took, 0.99):.1f}"]
                )
            lines = len((await admin.logs("ticker-1", "default", tail)).entries)
            print(render_table(rows, "l"))
            print(f"lines per log read: {lines}; {load()}")
        finally:
            await nc.close()
            kubelet.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
