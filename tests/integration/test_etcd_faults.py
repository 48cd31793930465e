"""Our etcd cluster under concurrent load while members are killed, paused and restarted.

After every fault: every acknowledged write is still there, the recorded history of reads, writes and
compare-and-sets is linearizable (checked per key against a register model), and a watch over the
workload's keys saw every revision exactly once, in order.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Iterator

import pytest

from services.etcd.client.api import Compare, EtcdError, PutOp, WatchEvent
from services.etcd.client.nats import NatsEtcdClient
from services.etcd.local_cluster import LocalEtcdCluster
from shared.linearizability import Cas, History, Read, Write, check
from shared.procs import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PREFIX = "/faults/"
KEYS = [f"{PREFIX}k{n}" for n in range(8)]
CLIENTS = 6


class Workload:
    """Clients doing random reads, writes and compare-and-sets, every operation recorded."""

    def __init__(self, url: str, seed: int) -> None:
        self.url = url
        self.history = History()
        self.acked: dict[str, str] = {}
        self.rng = random.Random(seed)
        self.values = itertools.count(1)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[NatsEtcdClient] = []

    async def start(self) -> None:
        for n in range(CLIENTS):
            client = await NatsEtcdClient.connect(self.url, name=f"load-{n}")
            client.retry_for = 2.0
            self._clients.append(client)
            self._tasks.append(asyncio.create_task(self._run(n, client)))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        for client in self._clients:
            await client.close()

    async def _run(self, n: int, kv: NatsEtcdClient) -> None:
        while not self._stop.is_set():
            key = self.rng.choice(KEYS)
            roll = self.rng.random()
            if roll < 0.4:
                await self._read(n, kv, key)
            elif roll < 0.8:
                await self._write(n, kv, key, f"v{next(self.values)}")
            else:
                await self._cas(n, kv, key, f"v{next(self.values)}")

    async def _read(self, n: int, kv: NatsEtcdClient, key: str) -> None:
        op = self.history.invoke(n, Read(key))
        try:
            result = await kv.range(key)
        except EtcdError:
            self.history.fail(op)  # a read that failed changed nothing
            await asyncio.sleep(0.05)
            return
        self.history.ok(op, result.kvs[0].value if result.kvs else None)

    async def _write(self, n: int, kv: NatsEtcdClient, key: str, value: str) -> None:
        op = self.history.invoke(n, Write(key, value))
        try:
            await kv.put(key, value)
        except EtcdError:
            self.history.info(op)  # it may have been applied: the outcome is unknown
            await asyncio.sleep(0.05)
            return
        self.history.ok(op)
        self.acked[key] = value

    async def _cas(self, n: int, kv: NatsEtcdClient, key: str, value: str) -> None:
        try:
            # Half the time the expectation comes from a (possibly stale) local read, half the time
            # it is "absent": both kinds of compare get exercised, succeeding and failing.
            current = await kv.range(key, serializable=True) if self.rng.random() < 0.5 else None
        except EtcdError:
            await asyncio.sleep(0.05)
            return
        expected = current.kvs[0].value if current and current.kvs else None
        compare = (
            Compare(key, "value", "=", expected)
            if expected is not None
            else Compare(key, "create_revision", "=", 0)
        )
        op = self.history.invoke(n, Cas(key, expected, value))
        try:
            result = await kv.txn([compare], [PutOp(key, value)], [])
        except EtcdError:
            self.history.info(op)
            await asyncio.sleep(0.05)
            return
        self.history.ok(op, result.succeeded)


@pytest.fixture
def cluster() -> Iterator[LocalEtcdCluster]:
    # Short snapshot interval: restarted members catch up from snapshots as well as from the log.
    with LocalEtcdCluster(extra_args=["--snapshot-entries", "300", "--request-timeout", "2"]) as started:
        yield started


async def leader_process(cluster: LocalEtcdCluster, kv: NatsEtcdClient) -> ServiceProcess:
    for _ in range(100):
        status = await kv.status()
        leader = next((m.name for m in status.members if m.is_leader), None)
        if leader is not None:
            return cluster.members[leader]
        await asyncio.sleep(0.1)
    raise AssertionError("no leader")


async def run_with_fault(
    cluster: LocalEtcdCluster, fault: Callable[[NatsEtcdClient], Awaitable[None]], seed: int
) -> None:
    kv = await NatsEtcdClient.connect(cluster.url, name="observer")
    start = (await kv.range(PREFIX, prefix=True)).header.revision
    watch = await kv.watch(PREFIX, prefix=True, start_revision=start + 1)
    seen: list[WatchEvent] = []
    workload = Workload(cluster.url, seed)
    await workload.start()
    await asyncio.sleep(1.0)
    await fault(kv)
    await asyncio.sleep(1.5)
    await workload.stop()

    # Nothing acknowledged is lost: the final state, read after the fault, joins the history as reads,
    # so the check proves each key holds the last write a linearizable order allows.
    final = await kv.range(PREFIX, prefix=True)
    stored = {item.key: item.value for item in final.kvs}
    for key in KEYS:
        op = workload.history.invoke("final", Read(key))
        workload.history.ok(op, stored.get(key))
    assert set(workload.acked) <= set(stored), "a key with an acknowledged write is missing"
    result = check(workload.history, timeout=60)
    assert result.linearizable, result.explain()

    # The watch saw every revision of the workload once, in order.
    async with asyncio.timeout(15):
        async for response in watch:
            seen.extend(response.events)
            if seen and seen[-1].kv.mod_revision >= final.header.revision:
                break
    revisions = [event.kv.mod_revision for event in seen]
    assert revisions == list(range(start + 1, final.header.revision + 1))
    await watch.cancel()
    await kv.close()


async def test_leader_kill_loses_nothing(cluster: LocalEtcdCluster) -> None:
    async def kill_leader(kv: NatsEtcdClient) -> None:
        process = await leader_process(cluster, kv)
        process.kill()
        await asyncio.sleep(2.0)
        await asyncio.to_thread(process.start)

    await run_with_fault(cluster, kill_leader, seed=1)


async def test_member_paused_ten_seconds_loses_nothing(cluster: LocalEtcdCluster) -> None:
    async def pause_leader(kv: NatsEtcdClient) -> None:
        process = await leader_process(cluster, kv)
        process.pause()
        await asyncio.sleep(10.0)
        process.resume()

    await run_with_fault(cluster, pause_leader, seed=2)


async def test_rolling_restart_of_every_member_loses_nothing(cluster: LocalEtcdCluster) -> None:
    async def roll(kv: NatsEtcdClient) -> None:
        for process in cluster.members.values():
            process.kill()
            await asyncio.sleep(0.5)
            await asyncio.to_thread(process.start)
            await asyncio.sleep(1.0)

    await run_with_fault(cluster, roll, seed=3)


async def test_whole_cluster_killed_and_restarted_loses_nothing(cluster: LocalEtcdCluster) -> None:
    async def kill_all(kv: NatsEtcdClient) -> None:
        for process in cluster.members.values():
            process.kill()
        await asyncio.sleep(0.5)
        await asyncio.gather(*(asyncio.to_thread(p.start) for p in cluster.members.values()))

    await run_with_fault(cluster, kill_all, seed=4)
