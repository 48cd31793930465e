"""How a CLI command reaches the cluster: the NATS servers, the bearer token, and kubectl-style errors.

Servers come from ``--server`` (env ``KUBENATS_NATS``, then ``NATS_URL``), else from the running cluster's
topology in the state directory. The token comes from ``--token`` (env ``KUBENATS_TOKEN``), else the
cluster's admin token, as a kubeconfig written by ``kubeadm`` gives its first user cluster-admin.

On the bus the CLI logs in as the cluster's ``user`` NATS identity (``shared.cluster.natsauth``), whose
password it reads from the state directory; ``KUBENATS_NATS_USER=admin`` picks another identity there, and
credentials already in the URLs or both ``KUBENATS_NATS_USER`` and ``KUBENATS_NATS_PASSWORD`` win.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from shared.apiclient import ApiClient
from shared.bus import NATS_PASSWORD_ENV, NATS_USER_ENV, parse_servers
from shared.cluster import StatePaths, running_topology
from shared.cluster.natsauth import USER, load_credentials, without_credentials
from shared.cluster.tokens import ADMIN, token_of
from shared.errors import ApiError

T = TypeVar("T")

err = Console(stderr=True, highlight=False, soft_wrap=True)

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server", "-s", envvar="KUBENATS_NATS", help="NATS server URLs, comma-separated", show_default=False
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="KUBENATS_TOKEN", help="bearer token [default: the cluster's admin]"),
]
StateDirOption = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="KUBENATS_STATE_DIR", help="the cluster's state directory"),
]


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send requests and as whom."""

    servers: str
    """Comma-separated server URLs, with the NATS user and password in them when the cluster has those."""
    token: str

    @property
    def shown(self) -> str:
        """The servers as messages may show them: without the password."""
        return without_credentials(self.servers)


def resolve(server: str | None, token: str | None, state_dir: Path | None) -> Target:
    paths = StatePaths.at(state_dir)
    servers = server or os.environ.get("NATS_URL")
    if not servers:
        topology = running_topology(paths)
        if topology is None:
            raise fail(f"no cluster found in {paths.root}: start one with `make up` or pass --server")
        servers = ",".join(topology.nats_urls())
    servers = _logged_in(servers, paths)
    if token is None:
        try:
            token = token_of(paths, ADMIN)
        except (OSError, KeyError):
            raise fail(f"no token given and none found in {paths.token_file}: pass --token") from None
    return Target(servers, token)


def _logged_in(servers: str, paths: StatePaths) -> str:
    """``servers`` carrying the NATS credentials the CLI uses, unless they or the environment have some."""
    urls = parse_servers(servers)
    if any("@" in url for url in urls) or (
        os.environ.get(NATS_USER_ENV) and os.environ.get(NATS_PASSWORD_ENV)
    ):
        return servers
    try:
        credentials = load_credentials(paths)
    except (OSError, ValueError) as error:
        raise fail(f"cannot read the cluster's NATS credentials: {error}") from None
    if credentials is None:
        return servers  # a cluster without credentials, or servers of someone else's
    try:
        return ",".join(credentials.urls(urls, os.environ.get(NATS_USER_ENV) or USER))
    except KeyError as error:
        raise fail(f"{error.args[0]} (in {paths.nats_credentials})") from None


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {escape(message)}")
    return typer.Exit(code)


def print_warning(text: str) -> None:
    """A warning the server sent with its reply, on stderr as kubectl prints it: ``Warning: <text>``."""
    err.print(f"Warning: {escape(text)}")


def server_error(error: ApiError) -> typer.Exit:
    """kubectl's words for a server's ``Status``: ``Error from server (NotFound): pods "x" not found``."""
    if error.code == 401:
        err.print("error: You must be logged in to the server (Unauthorized)")
    elif not error.reason:  # StatusReasonUnknown
        err.print(f"Error from server: {escape(error.message)}")
    else:
        err.print(f"Error from server ({escape(error.reason)}): {escape(error.message)}")
    return typer.Exit(1)


@asynccontextmanager
async def connected(target: Target) -> AsyncIterator[ApiClient]:
    client = await ApiClient.connect(
        target.servers, target.token, name="kubenats-cli", on_warning=print_warning
    )
    client.retry_for = 5.0
    try:
        yield client
    finally:
        await client.close()


def run(target: Target, action: Callable[[ApiClient], Awaitable[T]]) -> T:
    """Run ``action`` with a connected client; a server error becomes kubectl's message and exit 1."""

    async def main() -> T:
        async with connected(target) as client:
            return await action(client)

    try:
        return asyncio.run(main())
    except ApiError as error:
        raise server_error(error) from None
    except (OSError, TimeoutError) as error:
        raise fail(f"cannot reach the cluster at {target.shown}: {error}") from None
