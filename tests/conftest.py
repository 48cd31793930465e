"""Fixtures shared by every test tier: a real nats-server per module, and clients connected to it.

``KUBENATS_TEST_NATS=container`` runs the same tests against testcontainers' NATS image where a Docker
engine exists; by default the server is the ``nats-server`` binary the project installs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from nats.aio.client import Client

from shared.bus import connect
from shared.natsserver import NatsServer


@contextmanager
def _container_server() -> Iterator[str]:
    from testcontainers.community.nats import NatsContainer

    with NatsContainer() as container:
        yield container.nats_uri()


@contextmanager
def _local_server() -> Iterator[str]:
    with NatsServer() as server:
        yield server.url


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    """The URL of a real NATS server, private to this test module."""
    mode = os.environ.get("KUBENATS_TEST_NATS", "local")
    server = _container_server() if mode == "container" else _local_server()
    with server as url:
        yield url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    """A client connected to the module's server, closed after the test."""
    client = await connect(nats_url, name="test-client")
    yield client
    await client.close()
