"""A benchmark of our etcd service against a real etcd: one workload through ``KVClient``, 3 members each.

    .venv/bin/python bench/kv.py [--runs 3] [--quick] [--only ours|etcd] [--profile DIR]

Each run starts a fresh real etcd (``shared.etcdcluster.EtcdCluster``), measures it and stops it, then does
the same with a fresh cluster of ours (``services.etcd.local_cluster.LocalEtcdCluster``), so the two never
compete for the CPU and, alternating, see much the same background load. Figures: sequential put latency
(100-byte values, p50 and p99); puts/s and linearizable single-key gets/s with 64 requests in flight; watch
delivery latency, from a put returning to its event arriving at a watch on the same client (0 when the event
came first, which is common, so also how often that happened and the latency from the put being sent); and
leader-kill failover (SIGKILL the leader, then a client that starts a put attempt every 20 ms until one
succeeds; etcd's client is connected to a surviving member, as ours is to the surviving nats-server; the
killed member is restarted and the cluster settles before the next repetition). Both stores run with their
default timing: ours elects after 0.5–1 s without a leader (10–20 ticks of 50 ms), etcd after 1–2 s. Because
throughput on a shared 2-core machine depends on what else runs, it also prints the CPU time the cluster's
processes (members, and for ours the nats-server) used per put and per get during the bursts.

The table shows the median over runs (failover: over every repetition of every run), the ratio ours/etcd
and the min–max. ``--profile DIR`` also records py-spy profiles (raw, collapsed stacks) of our members and
of this client process during our two bursts (which makes those bursts slower).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import Interrupted, StopFlag, cpu_seconds, load, percentile, py_spy, render_table
from nats.aio.client import Client

from services.etcd.client import EtcdError, KVClient
from services.etcd.client.etcd3 import RealEtcdClient
from services.etcd.client.nats import NatsEtcdClient
from services.etcd.local_cluster import LocalEtcdCluster
from shared import bus, subjects
from shared.errors import ApiError
from shared.etcdcluster import EtcdCluster, EtcdMember

STOP = StopFlag()

VALUE = "v" * 100
IN_FLIGHT = 64
PROBE_INTERVAL = 0.02
"""Seconds between put attempts while waiting for a new leader."""
PROBE_TIMEOUT = 1.0
"""Timeout of one put attempt during failover (a new attempt starts every ``PROBE_INTERVAL`` anyway)."""
REFERENCE = (
    "Reference (issue 4): on this machine etcd 3.4 did about 3,000 puts/s with 64 in flight, 1.6 ms "
    "sequential put p50, 1.1–1.4 s failover. Goal: match or beat etcd's throughput and failover here."
)


@dataclass(frozen=True, slots=True)
class Sizes:
    seq_puts: int
    burst_puts: int
    burst_gets: int
    watch_puts: int
    failovers: int


FULL = Sizes(seq_puts=1000, burst_puts=10_000, burst_gets=10_000, watch_puts=300, failovers=3)
QUICK = Sizes(seq_puts=100, burst_puts=500, burst_gets=500, watch_puts=50, failovers=1)


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    label: str
    better: str  # "lower" or "higher"
    fmt: str


FIGURES = (
    Figure("seq_p50_ms", "seq put p50 (ms)", "lower", ".2f"),
    Figure("seq_p99_ms", "seq put p99 (ms)", "lower", ".2f"),
    Figure("puts_per_s", f"puts/s, {IN_FLIGHT} in flight", "higher", ",.0f"),
    Figure("gets_per_s", f"lin. gets/s, {IN_FLIGHT} in flight", "higher", ",.0f"),
    Figure("watch_p50_ms", "watch: put reply → event p50 (ms)", "lower", ".2f"),
    Figure("watch_p99_ms", "watch: put reply → event p99 (ms)", "lower", ".2f"),
    Figure("watch_early_pct", "watch: event before reply (%)", "-", ".0f"),
    Figure("watch_e2e_p50_ms", "watch: put sent → event p50 (ms)", "lower", ".2f"),
    Figure("watch_e2e_p99_ms", "watch: put sent → event p99 (ms)", "lower", ".2f"),
    Figure("failover_s", "leader-kill failover (s)", "lower", ".2f"),
    Figure("cpu_us_put", "cluster CPU per put (µs)", "lower", ",.0f"),
    Figure("cpu_us_get", "cluster CPU per lin. get (µs)", "lower", ",.0f"),
)

Result = dict[str, list[float]]
"""One run of one store: figure key → samples (one each, except ``failover_s``: one per repetition)."""


class Store(Protocol):
    """A running 3-member cluster, as the benchmark drives it."""

    label: str
    client: KVClient

    async def leader(self) -> str:
        """The current leader's name, once the members agree on one."""
        ...

    def pid(self, name: str) -> int: ...

    def server_pids(self) -> list[int]:
        """Every process of the cluster (not the client): members, and a nats-server if it has one."""
        ...

    def kill(self, name: str) -> None:
        """SIGKILL the member's process."""
        ...

    async def restart(self, name: str) -> None:
        """Start a killed member again and wait until the cluster is whole and settled."""
        ...

    async def probe_client(self, avoid: str) -> KVClient:
        """A client with short timeouts and no retries of its own, for the failover probe; it should not
        depend on the member ``avoid`` (the one about to be killed) for its connection."""
        ...


# --- the two stores ------------------------------------------------------------------------------------


class RealEtcd:
    label = "etcd"

    def __init__(self, cluster: EtcdCluster, client: RealEtcdClient) -> None:
        self.cluster = cluster
        self.client: KVClient = client

    def _member(self, name: str) -> EtcdMember:
        return next(m for m in self.cluster.members if m.name == name)

    async def leader(self) -> str:
        return (await asyncio.to_thread(self.cluster.wait_for_leader, 30.0)).name

    def pid(self, name: str) -> int:
        return self._member(name).pid

    def server_pids(self) -> list[int]:
        return [m.pid for m in self.cluster.members]

    def kill(self, name: str) -> None:
        self._member(name).kill()

    async def restart(self, name: str) -> None:
        self._member(name).start()
        await asyncio.to_thread(self.cluster.wait_for_leader, 30.0)

    async def probe_client(self, avoid: str) -> KVClient:
        # gRPC's pick_first connects to the first endpoint that answers: put the doomed member last so the
        # probe measures the election, not gRPC's reconnect back-off (our client's NATS server never dies).
        members = sorted(self.cluster.members, key=lambda m: m.name == avoid)
        return await RealEtcdClient.connect([m.endpoint for m in members], timeout=PROBE_TIMEOUT)


class Ours:
    label = "ours"

    def __init__(self, cluster: LocalEtcdCluster, nc: Client, client: NatsEtcdClient) -> None:
        self.cluster = cluster
        self.nc = nc
        self.client: KVClient = client

    async def _statuses(self) -> dict[str, dict[str, Any]]:
        async def ask(name: str) -> dict[str, Any] | None:
            try:
                reply: dict[str, Any] = await bus.request(
                    self.nc, subjects.etcd_member(name, "status"), {}, timeout=0.5
                )
                return reply
            except ApiError:
                return None

        names = list(self.cluster.members)
        replies = await asyncio.gather(*(ask(name) for name in names))
        return {name: reply for name, reply in zip(names, replies, strict=True) if reply is not None}

    async def leader(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = await self._statuses()
            leaders = [name for name, status in statuses.items() if status["is_leader"]]
            agreed = {status["leader"] for status in statuses.values()}
            if len(statuses) > len(self.cluster.members) // 2 and len(leaders) == 1 and len(agreed) == 1:
                return leaders[0]
            await asyncio.sleep(0.05)
        raise RuntimeError(f"our cluster has no leader after {timeout:.0f}s")

    def pid(self, name: str) -> int:
        return self.cluster.members[name].pid

    def server_pids(self) -> list[int]:
        nats = self.cluster.nats.process if self.cluster.nats is not None else None
        return [p.pid for p in self.cluster.members.values()] + ([nats.pid] if nats is not None else [])

    def kill(self, name: str) -> None:
        self.cluster.members[name].kill()

    async def restart(self, name: str, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.cluster.members[name].start)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = await self.leader()
            statuses = await self._statuses()
            commit = statuses.get(leader, {}).get("commit", 0)
            if len(statuses) == len(self.cluster.members) and all(
                s["applied"] >= commit for s in statuses.values()
            ):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{name} did not catch up within {timeout:.0f}s")

    async def probe_client(self, avoid: str) -> KVClient:
        return NatsEtcdClient(self.nc, timeout=PROBE_TIMEOUT, retry_for=0.0)


@contextlib.asynccontextmanager
async def real_etcd() -> AsyncIterator[Store]:
    with EtcdCluster(size=3) as cluster:
        client = await RealEtcdClient.connect(cluster.endpoints)
        try:
            yield RealEtcd(cluster, client)
        finally:
            await client.close()


@contextlib.asynccontextmanager
async def ours() -> AsyncIterator[Store]:
    with LocalEtcdCluster() as cluster:
        nc = await bus.connect(cluster.url, name="bench-kv")
        client = NatsEtcdClient(nc)
        try:
            await client.put("bench/ready", VALUE)  # retried until the members have elected a leader
            yield Ours(cluster, nc, client)
        finally:
            await client.close()
            await nc.close()


STORES: dict[str, Callable[[], contextlib.AbstractAsyncContextManager[Store]]] = {
    "etcd": real_etcd,
    "ours": ours,
}


# --- the workload --------------------------------------------------------------------------------------


async def sequential_puts(client: KVClient, count: int) -> list[float]:
    latencies = []
    for n in range(count):
        started = time.perf_counter()
        await client.put(f"bench/seq/{n}", VALUE)
        latencies.append(time.perf_counter() - started)
    return latencies


async def in_flight(count: int, one: Callable[[int], Awaitable[object]]) -> float:
    """Run ``one(n)`` for n in ``range(count)`` with ``IN_FLIGHT`` at a time; calls per second."""
    next_n = 0

    async def worker() -> None:
        nonlocal next_n
        while next_n < count:
            n, next_n = next_n, next_n + 1
            await one(n)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return count / (time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class WatchTimes:
    after_reply: list[float]
    """Put returned → its event arrived; 0 when the event arrived first."""
    end_to_end: list[float]
    """Put sent → its event arrived."""
    early: int
    """Events that arrived before their put's reply."""


async def watch_latencies(client: KVClient, count: int) -> WatchTimes:
    """Put ``count`` keys one after another under a prefix watched on the same client, each put waiting
    for the previous one's event."""
    arrivals: dict[int, float] = {}
    arrived = asyncio.Event()
    watch = await client.watch("bench/watch/", prefix=True)

    async def consume() -> None:
        async for response in watch:
            now = time.perf_counter()
            for event in response.events:
                arrivals[event.kv.mod_revision] = now
            if response.events:
                arrived.set()

    consumer = asyncio.create_task(consume())
    after_reply, end_to_end, early = [], [], 0
    try:
        for n in range(count):
            sent = time.perf_counter()
            revision = (await client.put(f"bench/watch/{n}", VALUE)).header.revision
            returned = time.perf_counter()
            async with asyncio.timeout(10):
                while revision not in arrivals:
                    arrived.clear()
                    await arrived.wait()
            arrival = arrivals.pop(revision)
            early += arrival < returned
            after_reply.append(max(arrival - returned, 0.0))
            end_to_end.append(arrival - sent)
    finally:
        await watch.cancel()
        consumer.cancel()
        await asyncio.wait([consumer])  # unlike awaiting it, never swallows a cancellation of our own
    return WatchTimes(after_reply, end_to_end, early)


async def first_put(client: KVClient, key: str, timeout: float = 30.0) -> None:
    """Start a put attempt every ``PROBE_INTERVAL`` (failed ones are not waited for) until one succeeds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempts: set[asyncio.Task[bool]] = set()

    async def attempt() -> bool:
        try:
            await client.put(key, VALUE)
            return True
        except EtcdError:
            return False

    try:
        next_start = loop.time()
        while loop.time() < deadline:
            STOP.checkpoint()
            if loop.time() >= next_start:
                attempts.add(asyncio.create_task(attempt()))
                next_start = loop.time() + PROBE_INTERVAL
            done, _ = await asyncio.wait(
                attempts, timeout=max(0.0, next_start - loop.time()), return_when=asyncio.FIRST_COMPLETED
            )
            attempts -= done
            if any(task.result() for task in done):
                return
        raise TimeoutError(f"no put succeeded within {timeout:.0f}s of the leader kill")
    finally:
        for task in attempts:
            task.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)


async def failover(store: Store, repetitions: int) -> list[float]:
    times = []
    for rep in range(repetitions):
        STOP.checkpoint()
        leader = await store.leader()
        probe = await store.probe_client(avoid=leader)
        try:
            await probe.put("bench/failover", VALUE)  # connected and warm before the kill
            store.kill(leader)
            killed = time.perf_counter()
            await first_put(probe, f"bench/failover/{rep}")
            times.append(time.perf_counter() - killed)
        finally:
            await probe.close()  # ours shares the store's NATS connection and leaves it open
        await store.restart(leader)
    return times


class Profiler:
    """py-spy on each of our members and on this process while a burst runs (``--profile DIR``).

    With ``--gil`` py-spy keeps only samples of a thread that holds the GIL, which is close to CPU time.
    Without it, on a busy 2-core machine, the time a process spends waiting for a CPU lands mostly in the
    socket ``send`` that woke another process, and hides where the CPU goes."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @contextlib.asynccontextmanager
    async def phase(self, store: Store, name: str, run: int) -> AsyncIterator[None]:
        if self.directory is None or not isinstance(store, Ours):
            yield
            return
        leader = await store.leader()
        targets = {
            f"{'leader' if name == leader else 'follower'}-{name}": process.pid
            for name, process in store.cluster.members.items()
        }
        targets["client"] = os.getpid()
        async with py_spy(targets, self.directory, f"run{run}-{name}"):
            yield


async def measure(store: Store, sizes: Sizes, profiler: Profiler, run: int) -> Result:
    client = store.client
    STOP.checkpoint()
    seq = await sequential_puts(client, sizes.seq_puts)

    pids = store.server_pids()
    STOP.checkpoint()
    async with profiler.phase(store, "puts", run):
        cpu = cpu_seconds(pids)
        puts_per_s = await in_flight(sizes.burst_puts, lambda n: client.put(f"bench/burst/{n}", VALUE))
        cpu_per_put = (cpu_seconds(pids) - cpu) / sizes.burst_puts

    STOP.checkpoint()
    await client.put("bench/get", VALUE)
    async with profiler.phase(store, "gets", run):
        cpu = cpu_seconds(pids)
        gets_per_s = await in_flight(sizes.burst_gets, lambda n: client.range("bench/get"))
        cpu_per_get = (cpu_seconds(pids) - cpu) / sizes.burst_gets

    STOP.checkpoint()
    watch = await watch_latencies(client, sizes.watch_puts)
    failovers = await failover(store, sizes.failovers)
    return {
        "seq_p50_ms": [statistics.median(seq) * 1000],
        "seq_p99_ms": [percentile(seq, 0.99) * 1000],
        "puts_per_s": [puts_per_s],
        "gets_per_s": [gets_per_s],
        "watch_p50_ms": [statistics.median(watch.after_reply) * 1000],
        "watch_p99_ms": [percentile(watch.after_reply, 0.99) * 1000],
        "watch_early_pct": [100 * watch.early / len(watch.after_reply)],
        "watch_e2e_p50_ms": [statistics.median(watch.end_to_end) * 1000],
        "watch_e2e_p99_ms": [percentile(watch.end_to_end, 0.99) * 1000],
        "failover_s": failovers,
        "cpu_us_put": [cpu_per_put * 1e6],
        "cpu_us_get": [cpu_per_get * 1e6],
    }


# --- reporting -----------------------------------------------------------------------------------------


def run_line(run: int, label: str, result: Result, seconds: float) -> str:
    parts = []
    for figure in FIGURES:
        values = ", ".join(format(v, figure.fmt) for v in result[figure.key])
        parts.append(f"{figure.key}={values}")
    return f"run {run} {label:<4} ({seconds:4.0f}s): " + "  ".join(parts)


def table(results: dict[str, list[Result]]) -> str:
    def samples(label: str, key: str) -> list[float]:
        return [v for result in results.get(label, []) for v in result[key]]

    def cell(values: list[float], fmt: str) -> str:
        return format(statistics.median(values), fmt) if values else "-"

    def spread(values: list[float], fmt: str) -> str:
        return f"{min(values):{fmt}}–{max(values):{fmt}}" if values else "-"

    rows = [("figure", "better", "ours", "etcd", "ours/etcd", "ours min–max", "etcd min–max")]
    for figure in FIGURES:
        mine, theirs = samples("ours", figure.key), samples("etcd", figure.key)
        ratio = "-"
        if figure.better != "-" and mine and theirs and statistics.median(theirs) > 0:
            ratio = f"{statistics.median(mine) / statistics.median(theirs):.2f}"
        rows.append(
            (
                figure.label,
                figure.better,
                cell(mine, figure.fmt),
                cell(theirs, figure.fmt),
                ratio,
                spread(mine, figure.fmt),
                spread(theirs, figure.fmt),
            )
        )
    return render_table(rows, "ll")


def on_signal(main_task: asyncio.Task[Any]) -> None:
    STOP.request()
    main_task.cancel()


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per store (default 3)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run with small sizes")
    parser.add_argument("--only", choices=sorted(STORES), help="measure one store only")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy our leader and the client")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    labels = [args.only] if args.only else ["etcd", "ours"]
    profiler = Profiler(args.profile)
    main_task = asyncio.current_task()
    assert main_task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, on_signal, main_task)
    print(f"{sizes}  runs={args.runs}  cpus={os.cpu_count()}  {load()}", flush=True)
    results: dict[str, list[Result]] = {label: [] for label in labels}
    started = time.perf_counter()
    try:
        for run in range(1, args.runs + 1):
            for label in labels:  # one store at a time, alternating, so both see the same background load
                began = time.perf_counter()
                STOP.checkpoint()
                async with STORES[label]() as store:
                    result = await measure(store, sizes, profiler, run)
                results[label].append(result)
                print(run_line(run, label, result, time.perf_counter() - began), flush=True)
    except (Interrupted, asyncio.CancelledError):
        if not STOP.requested:
            raise
        print("interrupted: every cluster is stopped", file=sys.stderr)
        return 130
    print(f"\n{load()}  total {time.perf_counter() - started:.0f}s")
    print(f"medians over {args.runs} run(s) (failover: over every repetition)\n")
    print(table(results))
    print(f"\n{REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
