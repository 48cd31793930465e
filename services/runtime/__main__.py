"""``python -m services.runtime``: one node's simulated container runtime, serving CRI calls over NATS."""

from __future__ import annotations

import asyncio

from pydantic import Field, field_validator

from services.runtime.core import RuntimeConfig, RuntimeCore
from services.runtime.inprocess import InProcessRuntime
from services.runtime.network import PodNetwork
from services.runtime.service import RuntimeService
from services.runtime.timeline import Timeline
from services.runtime.values import parse_byte_rate
from shared.bus import connect
from shared.clock import RealClock
from shared.config import ServiceFlags, parse_flags
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.subjects import token

log = get_logger("runtime")


class RuntimeFlags(ServiceFlags):
    """A node's container runtime: simulated containers whose behaviour comes from images and annotations."""

    node: str = Field(description="the node this runtime serves, e.g. worker-1 (node.<node>.cri.*)")
    pull_rate: str = Field(default="100Mi/s", description="image download rate, e.g. 100Mi/s or 10Mi")
    pull_latency: float = Field(default=0.1, ge=0, description="seconds every pull waits before bytes move")
    log_lines: int = Field(default=1000, ge=1, description="log lines kept per container")

    @field_validator("node")
    @classmethod
    def _subject_token(cls, value: str) -> str:
        return token(value)

    @field_validator("pull_rate")
    @classmethod
    def _positive_rate(cls, value: str) -> str:
        if parse_byte_rate(value) <= 0:
            raise ValueError("must be greater than 0")
        return value

    def runtime_config(self) -> RuntimeConfig:
        return RuntimeConfig(
            pull_bytes_per_second=parse_byte_rate(self.pull_rate),
            pull_latency=self.pull_latency,
            log_lines=self.log_lines,
        )


async def main(flags: RuntimeFlags, stop: asyncio.Event) -> None:
    nc = await connect(flags.servers, name=f"runtime-{flags.node}")
    clock = RealClock()
    core = RuntimeCore(flags.node, flags.runtime_config(), timeline=Timeline.of(clock))
    network = PodNetwork(nc, core, clock)
    service = RuntimeService(nc, InProcessRuntime(core, clock, network))
    await service.start()
    log.info("runtime ready", node=flags.node, pull_rate=flags.pull_rate)
    await stop.wait()
    await service.stop()
    await network.close()
    await nc.drain()
    log.info("runtime stopped", node=flags.node)


def cli() -> None:
    flags = parse_flags(RuntimeFlags, prog="python -m services.runtime")
    configure(flags.log_level)
    run_service(lambda stop: main(flags, stop))


if __name__ == "__main__":
    cli()
