"""A benchmark of hollow nodes: N kubelets in one process register, stay Ready, and what that process costs.

    .venv/bin/python bench/hollow_nodes.py [--nodes 200] [--seconds 30] [--lease-seconds 10]

It starts one ``LocalControlPlane`` (a nats-server, 3 etcd members, one API server replica) with a token per
node, then ``python -m services.kubelet --nodes 'worker-{1..N}'`` as one process with in-process runtimes
(Kubernetes' default intervals: Lease renewed every 10 s, node status checked every 10 s, PLEG every 1 s).
It reports how long until every Node is registered and Ready, then measures the kubelet process's CPU time
(user + system, from /proc) over ``--seconds`` of steady state, checks that every node is still Ready with a
Lease renewed within its duration, and prints the CPU use in cores and per node, beside the API server's
and etcd's CPU over the same window (the load the heartbeats put on the control plane).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import cpu_seconds, load, render_table
from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient, resource
from shared.models import parse_time
from shared.procs import ServiceProcess

NODES = resource("", "v1", "nodes")
LEASES = resource("coordination.k8s.io", "v1", "leases")


async def ready_nodes(admin: ApiClient, prefix: str) -> int:
    listed = await admin.list(NODES)
    count = 0
    for node in listed.get("items", []):
        if not node["metadata"]["name"].startswith(prefix):
            continue
        ready = [c for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
        count += bool(ready and ready[0]["status"] == "True")
    return count


async def fresh_leases(admin: ApiClient, prefix: str) -> int:
    listed = await admin.list(LEASES, "kube-node-lease")
    now = datetime.now(UTC)
    fresh = 0
    for lease in listed.get("items", []):
        spec = lease.get("spec", {})
        if lease["metadata"]["name"].startswith(prefix) and spec.get("renewTime"):
            age = (now - parse_time(spec["renewTime"])).total_seconds()
            fresh += age <= spec.get("leaseDurationSeconds", 40)
    return fresh


async def run(args: argparse.Namespace) -> None:
    names = tuple(f"worker-{n}" for n in range(1, args.nodes + 1))
    with LocalControlPlane(apiservers=1, nodes=names) as cp:
        token_file = cp.etcd.root / "tokens.csv"
        kubelet = ServiceProcess(
            "kubelet-hollow",
            "services.kubelet",
            [
                "--nats",
                cp.url,
                "--nodes",
                f"worker-{{1..{args.nodes}}}",
                "--token-file",
                str(token_file),
                "--lease-seconds",
                str(args.lease_seconds),
            ],
            cp.etcd.root / "logs",
            ready_line="kubelet ready",
        )
        nc = await bus.connect(cp.url, name="bench-hollow")
        admin = ApiClient(nc, cp.tokens["admin"], timeout=20)
        began = time.monotonic()
        kubelet.start(timeout=300)  # ready once every node registered and listed its pods
        try:
            while await ready_nodes(admin, "worker-") < args.nodes:
                if time.monotonic() - began > 300 or not kubelet.alive():
                    raise SystemExit(f"nodes not Ready in time:\n{kubelet.output()[-2000:]}")
                await asyncio.sleep(1)
            registered = time.monotonic() - began
            await asyncio.sleep(5)  # let start-up settle
            pids = {"kubelet": [kubelet.pid], "apiserver": [p.pid for p in cp.apiservers.values()]}
            pids["etcd"] = [p.pid for p in cp.etcd.members.values()]
            before = {who: cpu_seconds(p) for who, p in pids.items() if p}
            window_began = time.monotonic()
            await asyncio.sleep(args.seconds)
            window = time.monotonic() - window_began
            after = {who: cpu_seconds(p) for who, p in pids.items() if p}
            ready = await ready_nodes(admin, "worker-")
            fresh = await fresh_leases(admin, "worker-")
        finally:
            kubelet.terminate()
            await nc.close()
    rows = [["process", "CPU s", "cores", "ms CPU/s per node"]]
    for who in before:
        used = after[who] - before[who]
        rows.append([who, f"{used:.2f}", f"{used / window:.3f}", f"{1000 * used / window / args.nodes:.2f}"])
    print(f"{args.nodes} hollow nodes in one process; all registered and Ready after {registered:.1f} s")
    print(f"after {window:.0f} s: {ready}/{args.nodes} Ready, {fresh}/{args.nodes} Leases fresh; {load()}")
    print(render_table(rows, "l"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--lease-seconds", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
