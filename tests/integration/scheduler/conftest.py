"""A control plane per test module, scheduler replicas as real processes, and helpers to build the world.

Nodes are cluster-wide, so every test creates its nodes and pods through :class:`World`, which deletes
them afterwards; tests in one module therefore see only their own nodes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient, resource
from shared.errors import ApiError
from shared.models import to_dict
from shared.procs import ServiceProcess
from tests.builders import NodeBuilder, PodBuilder

PODS = resource("", "v1", "pods")
NODES = resource("", "v1", "nodes")
EVENTS = resource("", "v1", "events")
LEASES = resource("coordination.k8s.io", "v1", "leases")
READY_LINE = "scheduler ready"
T = TypeVar("T")

# Short leader-election timings keep fail-over tests quick; they keep Kubernetes' proportions.
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 4.0, 3.0, 1.0


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=1) as started:
        yield started


def token_file(cp: LocalControlPlane) -> Path:
    return cp.etcd.root / "tokens.csv"


def scheduler_process(cp: LocalControlPlane, name: str, *extra: str) -> ServiceProcess:
    args = [
        *("--nats", cp.url, "--name", name, "--token-file", str(token_file(cp))),
        *("--lease-duration", str(LEASE_DURATION), "--renew-deadline", str(RENEW_DEADLINE)),
        *("--retry-period", str(RETRY_PERIOD), *extra),
    ]
    logs = cp.etcd.root / "logs"
    return ServiceProcess(f"scheduler-{name}", "services.scheduler", args, logs, ready_line=READY_LINE)


@pytest.fixture
async def admin(control_plane: LocalControlPlane) -> AsyncIterator[ApiClient]:
    nc = await bus.connect(control_plane.url, name="scheduler-test")
    yield ApiClient(nc, control_plane.tokens["admin"], retry_for=10)
    await nc.close()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 20.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


class World:
    """Creates nodes, a namespace and pods for one test, and removes the nodes and pods afterwards."""

    def __init__(self, admin: ApiClient) -> None:
        self.admin = admin
        self.namespace = f"s-{uuid.uuid4().hex[:8]}"
        self.nodes: list[str] = []

    async def setup(self) -> World:
        await self.admin.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        )
        return self

    async def node(self, builder: NodeBuilder) -> dict[str, Any]:
        obj = to_dict(builder.obj())
        self.nodes.append(obj["metadata"]["name"])
        return await self.admin.create(obj)

    async def pod(self, builder: PodBuilder) -> dict[str, Any]:
        obj = to_dict(builder.namespace(self.namespace).obj())
        return await self.admin.create(obj, self.namespace)

    async def pods(self) -> list[dict[str, Any]]:
        return list((await self.admin.list(PODS, self.namespace)).get("items") or [])

    async def placement(self) -> dict[str, str]:
        """Pod name → node name ("" while pending)."""
        return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in await self.pods()}

    async def all_bound(self, count: int) -> dict[str, str] | None:
        placed = await self.placement()
        return placed if len(placed) == count and all(placed.values()) else None

    async def events_for(self, pod: str, reason: str) -> list[dict[str, Any]]:
        items = (await self.admin.list(EVENTS, self.namespace)).get("items") or []
        return [
            e
            for e in items
            if e.get("reason") == reason and (e.get("involvedObject") or {}).get("name") == pod
        ]

    async def teardown(self) -> None:
        for pod in await self.pods():
            await _ignore_missing(self.admin.delete(PODS, pod["metadata"]["name"], self.namespace, 0))
        for name in self.nodes:
            await _ignore_missing(self.admin.delete(NODES, name))


async def _ignore_missing(call: Awaitable[object]) -> None:
    try:
        await call
    except ApiError as error:
        if error.code != 404:
            raise


@pytest.fixture
async def world(admin: ApiClient) -> AsyncIterator[World]:
    created = await World(admin).setup()
    yield created
    await created.teardown()


def pod_scheduled(pod: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "PodScheduled"), None)
