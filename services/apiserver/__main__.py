"""``python -m services.apiserver``: one API server replica serving Kubernetes objects over NATS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from services.apiserver.admission import DEFAULT_SERVICE_CIDR, Admission
from services.apiserver.auth import TokenAuthenticator
from services.apiserver.registry import Registry
from services.apiserver.service import ApiService
from services.apiserver.storage import ObjectStorage
from services.etcd.client.nats import NatsEtcdClient
from shared.bus import connect
from shared.config import ServiceFlags, parse_flags
from shared.lifecycle import run_service
from shared.logging import configure, get_logger

log = get_logger("apiserver")


class ApiServerFlags(ServiceFlags):
    """An API server replica: the cluster's single gateway to the store, with authentication."""

    name: str = Field(description="this replica's name, e.g. cp-1")
    token_file: Path = Field(description="tokens in kube-apiserver's --token-auth-file format")
    service_cidr: str = Field(default=DEFAULT_SERVICE_CIDR, description="range Service cluster IPs come from")


async def main(flags: ApiServerFlags, stop: asyncio.Event) -> None:
    authenticator = TokenAuthenticator.from_file(flags.token_file)
    nc = await connect(flags.servers, name=f"apiserver-{flags.name}")
    storage = ObjectStorage(NatsEtcdClient(nc))
    registry = Registry(storage, Admission(storage, flags.service_cidr))
    service = ApiService(nc, registry, authenticator, replica=flags.name)
    await service.start()
    log.info("apiserver ready", replica=flags.name, tokens=len(authenticator))
    await stop.wait()
    await service.stop()
    await nc.drain()
    log.info("apiserver stopped", replica=flags.name)


def cli() -> None:
    flags = parse_flags(ApiServerFlags, prog="python -m services.apiserver")
    configure(flags.log_level)
    if not flags.token_file.is_file():
        raise SystemExit(f"error: --token-file {flags.token_file}: no such file")
    run_service(lambda stop: main(flags, stop))


if __name__ == "__main__":
    cli()
