"""Three Raft members as separate OS processes over a real nats-server: kill the leader, lose nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from shared import bus, subjects
from shared.errors import ApiError
from shared.procs import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MEMBERS = ("m1", "m2", "m3")
CLUSTER = "demo"


class DemoCluster:
    def __init__(self, nats_url: str, root: Path) -> None:
        self.members = {
            name: ServiceProcess(
                name,
                "services.etcd.raftio.demo",
                [
                    *("--nats", nats_url, "--name", name, "--peers", ",".join(MEMBERS)),
                    *("--data-dir", str(root / name), "--cluster", CLUSTER),
                    # Small snapshot intervals, so a member that was down catches up through a snapshot.
                    *("--snapshot-entries", "100", "--catch-up-entries", "20"),
                ],
                root / "logs",
                ready_line="raft demo member ready",
            )
            for name in MEMBERS
        }

    def start_all(self) -> None:
        for process in self.members.values():
            process.start()

    def stop_all(self) -> None:
        for process in self.members.values():
            process.terminate()


@pytest.fixture
def cluster(nats_url: str, tmp_path: Path) -> Iterator[DemoCluster]:
    demo = DemoCluster(nats_url, tmp_path)
    try:
        demo.start_all()
        yield demo
    finally:
        demo.stop_all()


async def status(nc: Client, member: str) -> dict[str, Any]:
    reply: dict[str, Any] = await bus.request(
        nc, subjects.raft_demo(CLUSTER, "status", member), {}, timeout=2
    )
    return reply


async def wait_for_leader(nc: Client, members: tuple[str, ...], timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaders = {(await status(nc, m))["leader"] for m in members}
        if len(leaders) == 1 and "" not in leaders:
            return leaders.pop()
        await asyncio.sleep(0.1)
    raise AssertionError(f"no agreed leader among {members} within {timeout}s")


async def put(nc: Client, key: str, value: str, timeout: float = 1.0) -> None:
    await bus.request(nc, subjects.raft_demo(CLUSTER, "put"), {"key": key, "value": value}, timeout=timeout)


async def put_retrying(nc: Client, key: str, value: str, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await put(nc, key, value)
            return
        except ApiError as error:
            if error.code != 503 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


class Writers:
    """Concurrent writers that record every acknowledged write; failures are retried as a client would."""

    def __init__(self, nc: Client, count: int = 4) -> None:
        self.nc = nc
        self.acked: dict[str, str] = {}
        self.errors = 0
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._write(w)) for w in range(count)]

    async def _write(self, writer: int) -> None:
        n = 0
        while not self._stop.is_set():
            key, value = f"w{writer}-{n}", f"v{n}"
            try:
                await put(self.nc, key, value)
            except ApiError:
                self.errors += 1
                await asyncio.sleep(0.05)
                continue
            self.acked[key] = value
            n += 1

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


async def test_leader_kill_fails_over_and_restarted_member_catches_up_by_snapshot(
    cluster: DemoCluster, nc: Client
) -> None:
    leader = await wait_for_leader(nc, MEMBERS)
    writers = Writers(nc)
    await asyncio.sleep(1.0)

    cluster.members[leader].kill()
    killed_at = time.monotonic()
    survivors = tuple(m for m in MEMBERS if m != leader)
    while True:
        try:
            await put(nc, "probe", "after-kill", timeout=0.5)
            break
        except ApiError:
            assert time.monotonic() - killed_at < 10, "no commit within 10 s of the leader kill"
    failover = time.monotonic() - killed_at
    assert failover < 3.0, f"first commit after the leader kill took {failover:.2f}s"

    # Write far past the snapshot interval, so the dead member can only catch up from a snapshot.
    new_leader = await wait_for_leader(nc, survivors)
    start_index = (await status(nc, new_leader))["applied"]
    while (await status(nc, new_leader))["applied"] < start_index + 300:
        await asyncio.sleep(0.1)
    await asyncio.to_thread(cluster.members[leader].start)

    await writers.stop()
    assert len(writers.acked) > 300
    # The restarted member answers "no leader" (503) until it hears from the leader; a client retries.
    await put_retrying(nc, "last", "write", within=10)
    deadline = time.monotonic() + 20
    while True:
        states = [await status(nc, m) for m in MEMBERS]
        if len({(s["applied"], s["digest"]) for s in states}) == 1:
            break
        assert time.monotonic() < deadline, f"members did not converge: {states}"
        await asyncio.sleep(0.2)

    assert "raft snapshot restored" in cluster.members[leader].output()
    assert states[0]["keys"] == len(writers.acked) + 2  # every writer key, the probe, "last"
    for key, value in writers.acked.items():
        reply = await bus.request(nc, subjects.raft_demo(CLUSTER, "get"), {"key": key})
        assert reply["value"] == value, f"acknowledged write {key}={value} is missing"


async def test_full_restart_keeps_every_acknowledged_write(cluster: DemoCluster, nc: Client) -> None:
    await wait_for_leader(nc, MEMBERS)
    for n in range(150):
        await put(nc, f"k{n}", str(n))
    cluster.stop_all()
    for process in cluster.members.values():
        process.kill()
    cluster.start_all()
    await wait_for_leader(nc, MEMBERS)
    for n in range(150):
        assert (await bus.request(nc, subjects.raft_demo(CLUSTER, "get"), {"key": f"k{n}"}))["value"] == str(
            n
        )
