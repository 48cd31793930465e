"""A whole cluster for the e2e tests, started as `make up` starts one: every component of the default
topology under supervisord, on free ports in a temporary state dir, with two workers to keep it small.

One cluster serves every e2e module of a run (it takes a while to start); tests that break something
heal it before they end, and each works in its own namespace.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shared.apiclient import ApiClient
from shared.cli import app
from shared.cluster import up
from shared.tokenfile import token_for_user
from tests.clusters import Cluster, cluster_dir, free_port_topology

WORKERS = 2
UP_TIMEOUT = 180.0

Cli = Callable[..., Result]


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    with cluster_dir(free_port_topology(workers=WORKERS)) as running:
        up(running.topology, running.paths, timeout=UP_TIMEOUT)
        running.remember_pids()
        yield running


@pytest.fixture
async def admin(cluster: Cluster) -> AsyncIterator[ApiClient]:
    client = await ApiClient.connect(cluster.topology.nats_urls(), admin_token(cluster), name="e2e-admin")
    yield client
    await client.close()


def admin_token(cluster: Cluster) -> str:
    return token_for_user(cluster.paths.token_file, "admin")


@pytest.fixture
def kubenats(cluster: Cluster) -> Cli:
    """Run one `kubenats` command against the cluster, as a user would from the checkout."""
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--state-dir", str(cluster.paths.root)], input=stdin)

    return invoke


@pytest.fixture
def namespace(kubenats: Cli) -> str:
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    manifest = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
    created = kubenats("apply", "-f", "-", stdin=manifest)
    assert created.exit_code == 0, created.output
    return name


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
