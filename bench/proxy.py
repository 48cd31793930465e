"""A benchmark of kube-proxy: request latency through a node's proxy to a local and to a remote endpoint,
against a direct NATS request/reply to the same responder (the floor).

    .venv/bin/python bench/proxy.py [--runs 3] [--requests 2000] [--quick]

It starts a ``LocalControlPlane`` (nats-server, 3 etcd members, an API server), two kube-proxy processes
(``worker-1`` and ``worker-2``), a Service ``bench/echo`` whose only endpoint, ``10.244.1.10:8080`` on
``worker-1``, is a responder in this process answering with the request's bytes. Then, in each run, one
client sends ``--requests`` sequential 64-byte requests each way:

- ``direct``: to the endpoint's own subject ``pod.10-244-1-10.8080`` (no proxy — the floor);
- ``local``: to ``node.worker-1.svc.bench.echo`` (the proxy on the endpoint's node);
- ``remote``: to ``node.worker-2.svc.bench.echo`` (the proxy of another node, which must go remote).

On one machine "remote" crosses the same nats-server as "local"; the difference the proxy makes is the
extra hop, which is what this measures. It prints p50 and p99 per run and way, then the medians over runs
and each way's overhead over ``direct`` (p50 ratio and added milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import load, percentile, render_table
from nats.aio.client import Client
from nats.aio.msg import Msg

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus, subjects
from shared.apiclient import ApiClient
from shared.procs import ServiceProcess

NAMESPACE = "bench"
POD_IP = "10.244.1.10"
NODES = ("worker-1", "worker-2")


async def setup(admin: ApiClient) -> None:
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    await admin.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo", "namespace": NAMESPACE},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    await admin.create(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "echo-1",
                "namespace": NAMESPACE,
                "labels": {"kubernetes.io/service-name": "echo"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 8080}],
            "endpoints": [{"addresses": [POD_IP], "nodeName": "worker-1", "conditions": {"ready": True}}],
        }
    )


async def sequential(nc: Client, subject: str, count: int) -> list[float]:
    payload = b"x" * 64
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        msg = await nc.request(subject, payload, timeout=5)
        latencies.append(time.perf_counter() - started)
        bus.raise_for_error(msg)
    return latencies


async def wait_forwarding(nc: Client, subject: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        msg = await nc.request(subject, b"warm", timeout=5)
        if not (msg.headers or {}).get("Nats-Service-Error-Code"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{subject} never forwarded: {msg.data!r}")
        await asyncio.sleep(0.2)


async def run(cp: LocalControlPlane, runs: int, count: int) -> None:
    nc = await bus.connect(cp.url, name="bench-proxy")
    pod_nc = await bus.connect(cp.url, name="bench-pod")

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    await pod_nc.subscribe(subjects.pod_endpoint(POD_IP, 8080), cb=echo)
    await setup(ApiClient(nc, cp.tokens["admin"]))
    ways = {
        "direct": subjects.pod_endpoint(POD_IP, 8080),
        "local": subjects.node_service("worker-1", NAMESPACE, "echo"),
        "remote": subjects.node_service("worker-2", NAMESPACE, "echo"),
    }
    for subject in ways.values():
        await wait_forwarding(nc, subject)
        await sequential(nc, subject, 200)  # warm-up
    figures: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    for n in range(1, runs + 1):
        for way, subject in ways.items():
            latencies = await sequential(nc, subject, count)
            p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
            figures[way].append((p50, p99))
            print(f"run {n} {way:>6}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  ({load()})", flush=True)
    stats: dict[str, Any] = await bus.request(nc, subjects.node_proxy_stats("worker-2"), {})
    await nc.close()
    await pod_nc.close()
    report(figures)
    print(f"\nworker-2 proxy: {json.dumps({k: stats[k] for k in ('requests', 'local', 'remote', 'errors')})}")


def report(figures: dict[str, list[tuple[float, float]]]) -> None:
    floor = statistics.median(p50 for p50, _ in figures["direct"])
    rows = [["way", "p50 ms", "p99 ms", "p50 vs direct", "added p50 ms"]]
    for way, values in figures.items():
        p50 = statistics.median(v[0] for v in values)
        p99 = statistics.median(v[1] for v in values)
        rows.append([way, f"{p50:.3f}", f"{p99:.3f}", f"{p50 / floor:.2f}x", f"{p50 - floor:+.3f}"])
    print(f"\nmedians over {len(next(iter(figures.values())))} runs:")
    print(render_table(rows, "l"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="1 run of 300 requests")
    args = parser.parse_args()
    runs, count = (1, 300) if args.quick else (args.runs, args.requests)
    with LocalControlPlane(apiservers=1, nodes=NODES) as cp:
        token_file = cp.etcd.root / "tokens.csv"
        proxies = [
            ServiceProcess(
                f"proxy-{node}",
                "services.proxy",
                ["--nats", cp.url, "--node", node, "--token-file", str(token_file)],
                cp.etcd.root / "logs",
                ready_line="proxy ready",
            ).start()
            for node in NODES
        ]
        try:
            asyncio.run(run(cp, runs, count))
        finally:
            for proxy in proxies:
                proxy.terminate()


if __name__ == "__main__":
    main()
