"""A control plane (nats-server, 3 etcd members, API server replicas) per test module, and clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient, resource

PODS = resource("", "v1", "pods")
NAMESPACES = resource("", "v1", "namespaces")
SERVICES = resource("", "v1", "services")
NODES = resource("", "v1", "nodes")
DEPLOYMENTS = resource("apps", "v1", "deployments")


@pytest.fixture
async def client_for(control_plane: LocalControlPlane) -> AsyncIterator[Callable[[str], ApiClient]]:
    """``client_for("viewer")``: a client holding that identity's token (connections closed after)."""
    clients: list[ApiClient] = []
    from shared import bus

    nc = await bus.connect(control_plane.url, name="api-test")

    def make(identity: str) -> ApiClient:
        token = control_plane.tokens.get(identity, "not-a-token")
        client = ApiClient(nc, token, retry_for=5)
        clients.append(client)
        return client

    yield make
    await nc.close()


@pytest.fixture
async def admin(client_for: Callable[[str], ApiClient]) -> ApiClient:
    return client_for("admin")


@pytest.fixture
async def namespace(admin: ApiClient) -> str:
    """A fresh namespace for the test."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def pod(name: str, namespace: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], **spec},
    }
