"""Fixtures of the etcd contract suite: a store per backend and module, a client and a key prefix per test.

``kv`` is parametrized over :data:`BACKENDS`, so every contract test runs once per backend. Each module
gets its own cluster of each backend; tests share it, each under a key prefix of its own, and nothing but
the test itself writes to the store while it runs (so revision arithmetic holds).

A machine without an ``etcd`` binary skips the real-etcd half with a plain message — except under
``CI=true``, where that is a failure: CI must run both halves.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest

from services.etcd.client.api import KVClient
from shared.etcdcluster import EtcdCluster, EtcdNotInstalledError

BACKENDS = ["etcd", "kubenats"]
"""The stores the contract runs against: ``"etcd"`` is a real etcd cluster (Debian's etcd-server),
``"kubenats"`` three members of our own etcd service over a real nats-server."""

ETCD_MISSING = (
    "real etcd not installed: the real-etcd half of the contract suite did not run; "
    "`apt-get install etcd-server`"
)


@dataclass(frozen=True)
class Backend:
    """A running store and how to get a client of it."""

    name: str
    connect: Callable[[], Awaitable[KVClient]]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


@contextmanager
def real_etcd() -> Iterator[Backend]:
    from services.etcd.client.etcd3 import RealEtcdClient

    try:
        cluster = EtcdCluster(size=3)
    except EtcdNotInstalledError as error:
        if in_ci():
            pytest.fail(f"{ETCD_MISSING} — and under CI=true that is a failure ({error})", pytrace=False)
        pytest.skip(ETCD_MISSING)
    with cluster:

        async def connect() -> KVClient:
            return await RealEtcdClient.connect(cluster.endpoints)

        yield Backend("etcd", connect)


@contextmanager
def kubenats_etcd() -> Iterator[Backend]:
    from services.etcd.client.nats import NatsEtcdClient
    from services.etcd.local_cluster import LocalEtcdCluster

    with LocalEtcdCluster() as cluster:

        async def connect() -> KVClient:
            return await NatsEtcdClient.connect(cluster.url)

        yield Backend("kubenats", connect)


def start_backend(name: str) -> AbstractContextManager[Backend]:
    """Start a store of the named backend; leaving the context stops it and leaves no process behind."""
    if name == "etcd":
        return real_etcd()
    if name == "kubenats":
        return kubenats_etcd()
    raise ValueError(f"unknown contract backend {name!r}")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """One running store of the backend, shared by the tests of a module."""
    with start_backend(request.param) as started:
        yield started


@pytest.fixture
async def kv(backend: Backend) -> AsyncIterator[KVClient]:
    """A client of the module's store, closed after the test."""
    client = await backend.connect()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix no other test uses: ``/contract/<test>/<random>/``."""
    return f"/contract/{request.node.originalname}/{uuid.uuid4().hex[:8]}/"
