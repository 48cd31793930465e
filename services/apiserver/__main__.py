"""``python -m services.apiserver``: one API server replica serving Kubernetes objects over NATS and HTTPS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from services.apiserver.admission import DEFAULT_SERVICE_CIDR, Admission
from services.apiserver.auth import TokenAuthenticator
from services.apiserver.defaults import DEFAULT_TOLERATION_SECONDS
from services.apiserver.handler import RequestHandler
from services.apiserver.kubelets import KubeletClient
from services.apiserver.registry import SYSTEM_NAMESPACES, Registry
from services.apiserver.rest import RestServer
from services.apiserver.service import ApiService
from services.apiserver.storage import ObjectStorage
from services.apiserver.watches import WatchCaches
from services.etcd.client.nats import NatsEtcdClient
from shared.bus import connect
from shared.config import ServiceFlags, parse_flags
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.reachability import Reachability

log = get_logger("apiserver")


class ApiServerFlags(ServiceFlags):
    """An API server replica: the cluster's single gateway to the store, with authentication."""

    name: str = Field(description="this replica's name, e.g. cp-1")
    token_file: Path = Field(description="tokens in kube-apiserver's --token-auth-file format")
    service_cidr: str = Field(default=DEFAULT_SERVICE_CIDR, description="range Service cluster IPs come from")
    default_toleration_seconds: int = Field(
        default=DEFAULT_TOLERATION_SECONDS,
        ge=0,
        description="seconds pods tolerate a not-ready or unreachable node unless they say otherwise",
    )
    https_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="serve the Kubernetes REST API over HTTPS here (0: any free port)",
    )
    https_address: str = Field(default="0.0.0.0", description="address the HTTPS listener binds")
    tls_cert_file: Path | None = Field(default=None, description="the HTTPS serving certificate (PEM)")
    tls_private_key_file: Path | None = Field(default=None, description="its private key (PEM)")


STORE_SECONDS = 3.0
"""How long a request waits for the store, and retries it while it has no leader: less than the 5 s its
NATS callers wait, so that a replica cut off from the store's quorum answers 503 — which they retry on
another replica — instead of leaving them to time out."""


async def main(flags: ApiServerFlags, stop: asyncio.Event) -> None:
    authenticator = TokenAuthenticator.from_file(flags.token_file)
    nc = await connect(flags.servers, name=f"apiserver-{flags.name}")
    reachability = Reachability(nc, flags.name)
    await reachability.start()
    storage = ObjectStorage(
        NatsEtcdClient(nc, timeout=STORE_SECONDS, retry_for=STORE_SECONDS, reachability=reachability)
    )
    registry = Registry(
        storage, Admission(storage, flags.service_cidr), toleration_seconds=flags.default_toleration_seconds
    )
    caches = WatchCaches(storage.kv)
    handler = RequestHandler(registry, authenticator, caches, KubeletClient(nc))
    service = ApiService(nc, handler, replica=flags.name, reachability=reachability)
    registry.publish = service.publish
    await registry.ensure_namespaces(SYSTEM_NAMESPACES)
    await caches.start()
    await service.start()
    rest = None
    if flags.https_port is not None and flags.tls_cert_file and flags.tls_private_key_file:
        rest = RestServer(
            handler,
            cert_file=flags.tls_cert_file,
            key_file=flags.tls_private_key_file,
            host=flags.https_address,
            port=flags.https_port,
        )
        await rest.start()
    fields = {"https_port": rest.port} if rest is not None else {}
    log.info("apiserver ready", replica=flags.name, tokens=len(authenticator), **fields)
    await stop.wait()
    if rest is not None:
        await rest.stop()
    await service.stop()
    await caches.stop()
    await nc.drain()
    log.info("apiserver stopped", replica=flags.name)


def cli() -> None:
    flags = parse_flags(ApiServerFlags, prog="python -m services.apiserver")
    configure(flags.log_level)
    if not flags.token_file.is_file():
        raise SystemExit(f"error: --token-file {flags.token_file}: no such file")
    if flags.https_port is not None:
        for flag, path in (
            ("--tls-cert-file", flags.tls_cert_file),
            ("--tls-private-key-file", flags.tls_private_key_file),
        ):
            if path is None or not path.is_file():
                raise SystemExit(f"error: --https-port needs {flag} naming an existing PEM file (got {path})")
    run_service(lambda stop: main(flags, stop))


if __name__ == "__main__":
    cli()
