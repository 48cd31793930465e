"""``python -m services.proxy``: kube-proxy for one node, forwarding Service requests to pod endpoints."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from services.proxy.service import KubeProxy
from shared.apiclient import ApiClient
from shared.bus import connect
from shared.config import ServiceFlags, parse_flags
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.tokenfile import token_for_user

log = get_logger("proxy")


class ProxyFlags(ServiceFlags):
    """kube-proxy: one per node; prefers endpoints on its own node."""

    node: str = Field(description="the node this proxy runs on, e.g. worker-1")
    token_file: Path = Field(description="token file holding the node's identity system:node:<node>")
    timeout: float = Field(default=5.0, gt=0, description="seconds an endpoint has to answer")


async def main(flags: ProxyFlags, stop: asyncio.Event) -> None:
    token = token_for_user(flags.token_file, f"system:node:{flags.node}")
    nc = await connect(flags.servers, name=f"proxy-{flags.node}")
    proxy = KubeProxy(nc, ApiClient(nc, token), flags.node, timeout=flags.timeout)
    await proxy.start()
    log.info("proxy ready", node=flags.node)
    await stop.wait()
    await proxy.stop()
    await nc.drain()
    log.info("proxy stopped", node=flags.node)


def cli() -> None:
    flags = parse_flags(ProxyFlags, prog="python -m services.proxy")
    configure(flags.log_level)
    if not flags.token_file.is_file():
        raise SystemExit(f"error: --token-file {flags.token_file}: no such file")
    run_service(lambda stop: main(flags, stop))


if __name__ == "__main__":
    cli()
