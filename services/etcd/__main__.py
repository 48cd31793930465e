"""``python -m services.etcd``: one etcd member (MVCC store on Raft) serving ARCHITECTURE.md §2 over NATS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field, field_validator

from services.etcd.raftio.driver import DriverConfig
from services.etcd.server import EtcdServer, ServerConfig
from services.etcd.service import EtcdService
from shared.bus import connect
from shared.config import ServiceFlags, parse_flags
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.subjects import token

log = get_logger("etcd")


class EtcdFlags(ServiceFlags):
    """An etcd member: a Raft-replicated MVCC key-value store with etcd's semantics, over NATS."""

    name: str = Field(description="this member's id, e.g. cp-1")
    peers: str = Field(description="comma-separated ids of every member, this one included")
    data_dir: Path = Field(description="directory for the write-ahead log and snapshots")
    cluster: str = Field(default="etcd", description="Raft group name (raft.<cluster>.<member>)")
    tick_ms: int = Field(default=50, ge=1, description="milliseconds per Raft tick (heartbeat)")
    election_ticks: int = Field(default=10, ge=2, description="election timeout in ticks (randomised ×1–2)")
    snapshot_entries: int = Field(default=10_000, ge=1, description="applied entries between snapshots")
    request_timeout: float = Field(default=5.0, gt=0, description="seconds before a request fails with 503")

    @field_validator("name", "cluster")
    @classmethod
    def _subject_token(cls, value: str) -> str:
        return token(value)

    @property
    def peer_ids(self) -> tuple[str, ...]:
        return tuple(token(p.strip()) for p in self.peers.split(",") if p.strip())


async def main(flags: EtcdFlags, stop: asyncio.Event) -> None:
    if flags.name not in flags.peer_ids:
        raise SystemExit(f"error: --name {flags.name} is not among --peers {flags.peers}")
    nc = await connect(flags.servers, name=f"etcd-{flags.name}")
    raft = DriverConfig(
        tick_interval=flags.tick_ms / 1000,
        election_ticks=flags.election_ticks,
        snapshot_entries=flags.snapshot_entries,
        catch_up_entries=min(5_000, flags.snapshot_entries),
    )
    server = EtcdServer(
        nc,
        flags.name,
        flags.peer_ids,
        flags.data_dir,
        cluster=flags.cluster,
        config=ServerConfig(request_timeout=flags.request_timeout, raft=raft),
    )
    await server.start()
    service = EtcdService(server)
    await service.start()
    log.info("etcd member ready", member=flags.name, peers=flags.peers, data_dir=flags.data_dir)
    await stop.wait()
    await service.stop()
    await server.stop()
    await nc.drain()
    log.info("etcd member stopped", member=flags.name)


def cli() -> None:
    flags = parse_flags(EtcdFlags, prog="python -m services.etcd")
    configure(flags.log_level)
    run_service(lambda stop: main(flags, stop))


if __name__ == "__main__":
    cli()
