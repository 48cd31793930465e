"""Raft on its own: 3 members in 3 processes over a real nats-server, measured from a client.

Prints, as the median over several runs: sequential proposal latency (p50, p99), throughput with 64
proposals in flight, and failover time (leader SIGKILL → next committed proposal). Goals to aim at
(not tests): sequential p50 under 2 ms, ≥ 5,000 commits/s with 64 in flight, failover under 1 s.

    .venv/bin/python bench/raft_cluster.py [--runs 3] [--seq 500] [--burst 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import percentile
from nats.aio.client import Client

from shared import bus, subjects
from shared.errors import ApiError
from shared.natsserver import NatsServer
from shared.procs import ServiceProcess

MEMBERS = ("m1", "m2", "m3")
CLUSTER = "bench"


async def leader_of(nc: Client, members: tuple[str, ...]) -> str:
    while True:
        leaders = set()
        for member in members:
            try:
                reply = await bus.request(nc, subjects.raft_demo(CLUSTER, "status", member), {}, timeout=1)
                leaders.add(str(reply["leader"]))
            except ApiError:
                leaders.add("")
        if len(leaders) == 1 and "" not in leaders:
            return leaders.pop()
        await asyncio.sleep(0.05)


async def put_on(nc: Client, key: str, timeout: float = 2.0) -> None:
    await bus.request(
        nc, subjects.raft_demo(CLUSTER, "put"), {"key": key, "value": "x" * 100}, timeout=timeout
    )


async def one_run(url: str, root: Path, seq: int, burst: int) -> dict[str, float]:
    procs = {
        m: ServiceProcess(
            m,
            "services.etcd.raftio.demo",
            ["--nats", url, "--name", m, "--peers", ",".join(MEMBERS), "--data-dir", str(root / m)]
            + ["--cluster", CLUSTER, "--log-level", "WARNING"],
            root / "logs",
            ready_line="",
        )
        for m in MEMBERS
    }
    for p in procs.values():
        p.start()
    nc = await bus.connect(url, name="bench")
    try:
        leader = await leader_of(nc, MEMBERS)
        latencies = []
        for n in range(seq):
            t = time.perf_counter()
            await put_on(nc, f"s{n}")
            latencies.append(time.perf_counter() - t)

        in_flight = asyncio.Semaphore(64)

        async def limited(n: int) -> None:
            async with in_flight:
                await put_on(nc, f"b{n}", timeout=10)

        t = time.perf_counter()
        await asyncio.gather(*(limited(n) for n in range(burst)))
        throughput = burst / (time.perf_counter() - t)

        procs[leader].kill()
        killed = time.perf_counter()
        while True:
            try:
                await put_on(nc, "after-kill", timeout=0.25)
                break
            except ApiError:
                pass
        failover = time.perf_counter() - killed
    finally:
        await nc.close()
        for p in procs.values():
            p.terminate()
    return {
        "seq_p50_ms": statistics.median(latencies) * 1000,
        "seq_p99_ms": percentile(latencies, 0.99) * 1000,
        "commits_per_s_64": throughput,
        "failover_s": failover,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seq", type=int, default=500)
    parser.add_argument("--burst", type=int, default=5000)
    args = parser.parse_args()
    results = []
    with NatsServer() as server:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="kubenats-bench-raft-") as root:
                result = await one_run(server.url, Path(root), args.seq, args.burst)
            results.append(result)
            print(f"run {run + 1}: " + "  ".join(f"{k}={v:.2f}" for k, v in result.items()), flush=True)
    goals = {"seq_p50_ms": "< 2", "seq_p99_ms": "", "commits_per_s_64": ">= 5000", "failover_s": "< 1"}
    print(f"\n{'figure':<18} {'median':>10} {'min':>10} {'max':>10}  goal")
    for key, goal in goals.items():
        values = [r[key] for r in results]
        med, lo, hi = statistics.median(values), min(values), max(values)
        print(f"{key:<18} {med:>10.2f} {lo:>10.2f} {hi:>10.2f}  {goal}")


if __name__ == "__main__":
    asyncio.run(main())
