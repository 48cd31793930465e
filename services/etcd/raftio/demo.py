"""A Raft member replicating a small key-value register: Raft on its own, for tests and benchmarks.

``python -m services.etcd.raftio.demo --name m1 --peers m1,m2,m3 --data-dir DIR`` runs one member over
NATS. It answers ``raftdemo.<cluster>.put`` and ``.get`` (any member, queue group) and
``raftdemo.<cluster>.<member>.status`` (that member). The state machine keeps a digest chained over
every applied command, so replicas that applied the same commands in the same order have equal digests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.etcd.raftio.driver import DriverConfig, NoLeaderError, RaftMember
from services.etcd.raftio.transport import NatsTransport
from shared import subjects
from shared.bus import MicroService, RequestContext, connect
from shared.config import ServiceFlags, parse_flags
from shared.errors import ApiError, unavailable
from shared.lifecycle import run_service
from shared.logging import configure, get_logger

log = get_logger("raft-demo")


class Register:
    """A deterministic map of keys to values, with a digest over the order commands were applied in."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.digest = ""
        self.applied = 0

    def apply(self, index: int, data: bytes) -> dict[str, Any]:
        command = json.loads(data)
        self.values[command["key"]] = command["value"]
        self.digest = hashlib.sha256(f"{self.digest}|{index}|".encode() + data).hexdigest()
        self.applied = index
        return {"index": index}

    def snapshot(self) -> bytes:
        return json.dumps({"values": self.values, "digest": self.digest, "applied": self.applied}).encode()

    def restore(self, data: bytes) -> None:
        state = json.loads(data)
        self.values, self.digest, self.applied = state["values"], state["digest"], state["applied"]


class DemoFlags(ServiceFlags):
    name: str = Field(description="this member's id")
    peers: str = Field(description="comma-separated ids of every member, this one included")
    data_dir: Path = Field(description="directory for the WAL and snapshots")
    cluster: str = Field(default="demo", description="Raft group name (subject token)")
    tick_ms: int = Field(default=50, ge=1, description="milliseconds per Raft tick")
    snapshot_entries: int = Field(default=10_000, ge=1, description="applied entries between snapshots")
    catch_up_entries: int = Field(default=5_000, ge=0, description="entries kept behind a snapshot")


class PutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1)
    value: str


class GetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1)
    serializable: bool = False


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DemoService:
    def __init__(self, member: RaftMember, register: Register) -> None:
        self.member = member
        self.register = register

    async def put(self, request: PutRequest, context: RequestContext) -> dict[str, Any]:
        payload = json.dumps({"key": request.key, "value": request.value}).encode()
        try:
            result: dict[str, Any] = await self.member.propose(payload)
        except NoLeaderError as error:
            raise unavailable(f"no leader: {error}") from None
        except TimeoutError:
            raise ApiError(504, "proposal not applied in time") from None
        return result

    async def get(self, request: GetRequest, context: RequestContext) -> dict[str, Any]:
        if not request.serializable:
            try:
                await self.member.read_index()
            except (NoLeaderError, TimeoutError) as error:
                raise unavailable(f"no linearizable read: {error!r}") from None
        return {"key": request.key, "value": self.register.values.get(request.key)}

    async def status(self, request: Empty, context: RequestContext) -> dict[str, Any]:
        status = self.member.status()
        return {
            "member": self.member.id,
            "term": status.term,
            "leader": status.lead,
            "role": str(status.role),
            "commit": status.commit,
            "applied": self.member.applied,
            "last_index": status.last_index,
            "digest": self.register.digest,
            "keys": len(self.register.values),
        }


async def main(flags: DemoFlags, stop: asyncio.Event) -> None:
    nc = await connect(flags.servers, name=f"raftdemo-{flags.name}")
    register = Register()
    config = DriverConfig(
        tick_interval=flags.tick_ms / 1000,
        snapshot_entries=flags.snapshot_entries,
        catch_up_entries=flags.catch_up_entries,
    )
    member = RaftMember(
        flags.name,
        [p.strip() for p in flags.peers.split(",") if p.strip()],
        flags.data_dir,
        register,
        NatsTransport(nc, flags.cluster, flags.name),
        config,
    )
    await member.start()
    demo = DemoService(member, register)
    service = MicroService(nc, "raftdemo", description="Raft demo register", queue_group=flags.cluster)
    service.add_endpoint("put", subjects.raft_demo(flags.cluster, "put"), PutRequest, demo.put)
    service.add_endpoint("get", subjects.raft_demo(flags.cluster, "get"), GetRequest, demo.get)
    service.add_endpoint(
        "status",
        subjects.raft_demo(flags.cluster, "status", flags.name),
        Empty,
        demo.status,
        queue_group=f"{flags.cluster}-{flags.name}",
    )
    await service.start()
    log.info("raft demo member ready", member=flags.name, cluster=flags.cluster, data_dir=flags.data_dir)
    await stop.wait()
    await service.stop()
    await member.stop()
    await nc.drain()
    log.info("raft demo member stopped", member=flags.name)


def cli() -> None:
    flags = parse_flags(DemoFlags, prog="python -m services.etcd.raftio.demo")
    configure(flags.log_level)
    run_service(lambda stop: main(flags, stop))


if __name__ == "__main__":
    cli()
