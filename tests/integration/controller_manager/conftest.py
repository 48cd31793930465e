"""A real control plane per module, the controller manager in-process, and a stand-in for kubelets.

The controller manager runs in the test's event loop with the ``system:kube-controller-manager`` token, so
every write it makes passes the API server's real authorization. :class:`PodDriver` plays the part of the
scheduler and the kubelets through the real API server: it binds pending pods to nodes, reports them
Running and Ready with an IP (after an optional delay), and finishes the deletion of terminating pods, as
a kubelet does after stopping their containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from services.controller_manager.manager import ControllerManager, ManagerOptions
from services.controller_manager.objects import NODES, PODS
from shared import bus
from shared.apiclient import ApiClient
from shared.clock import RealClock
from shared.errors import ApiError
from shared.informer import Informer, key_of
from shared.models.timestamps import format_time

Object = dict[str, Any]
WORKERS = ("worker-1", "worker-2", "worker-3")


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=1, nodes=WORKERS) as started:
        yield started


@pytest.fixture
async def nc(control_plane: LocalControlPlane) -> AsyncIterator[Any]:
    conn = await bus.connect(control_plane.url, name="cm-test")
    yield conn
    await conn.close()


@pytest.fixture
def admin(control_plane: LocalControlPlane, nc: Any) -> ApiClient:
    return ApiClient(nc, control_plane.tokens["admin"], retry_for=10)


@pytest.fixture
async def namespace(admin: ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
async def nodes(admin: ApiClient) -> tuple[str, ...]:
    """Ready Nodes worker-1..3 (created once per control plane)."""
    for name in WORKERS:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }
        with contextlib.suppress(ApiError):
            await admin.create(node)
    return WORKERS


ManagerFactory = Callable[..., Awaitable[ControllerManager]]


@pytest.fixture
async def start_manager(control_plane: LocalControlPlane, nc: Any) -> AsyncIterator[ManagerFactory]:
    """``await start_manager(controllers=("replicaset",), **options)``: a running manager (stopped after)."""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(controllers: tuple[str, ...] = (), **options: Any) -> ControllerManager:
        client = ApiClient(nc, control_plane.tokens["controller-manager"], retry_for=10)
        manager = ControllerManager(client, ManagerOptions(controllers=controllers, **options))
        stop = asyncio.Event()
        task = asyncio.create_task(manager.run(stop))
        running.append((stop, task))
        ok = await asyncio.gather(*(i.wait_for_sync(20) for i in manager.informers.all()))
        assert all(ok)
        return manager

    yield start
    for stop, _ in running:
        stop.set()
    for _, task in running:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)


class PodDriver:
    """Binds, starts and finishes pods in one namespace as the scheduler and kubelets would."""

    def __init__(
        self, admin: ApiClient, namespace: str, nodes: tuple[str, ...], *, ready_delay: float = 0.0
    ) -> None:
        self.admin = admin
        self.namespace = namespace
        self.nodes = itertools.cycle(nodes)
        self.ready_delay = ready_delay
        self.hold_ready = False
        """While True, pods are bound but not reported ready."""
        self.ips = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(2 * 256))
        self.informer = Informer(admin, PODS, namespace)
        self.keys: asyncio.Queue[str] = asyncio.Queue()
        self.informer.add_handler(
            on_add=lambda pod: self.keys.put_nowait(key_of(pod)),
            on_update=lambda old, new: self.keys.put_nowait(key_of(new)),
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._clock = RealClock()

    async def start(self) -> PodDriver:
        await self.informer.start()
        self._tasks.append(asyncio.create_task(self._work()))
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.informer.stop()

    def release(self) -> None:
        """Let held pods become ready."""
        self.hold_ready = False
        for key in list(self.informer.keys()):
            self.keys.put_nowait(key)

    async def _work(self) -> None:
        while True:
            key = await self.keys.get()
            pod = self.informer.get_by_key(key)
            if pod is None:
                continue
            # An ApiError means the pod changed or went away; its next event brings it back.
            with contextlib.suppress(ApiError):
                await self._drive(pod)

    async def _drive(self, pod: Object) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        if meta.get("deletionTimestamp"):
            await self.admin.delete(PODS, meta["name"], self.namespace, grace_period_seconds=0)
            return
        if not spec.get("nodeName"):
            await self.admin.bind(meta["name"], next(self.nodes), self.namespace)
            return
        running = (pod.get("status") or {}).get("phase") == "Running"
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or []
        )
        if self.hold_ready:
            if not running:
                await self.mark_ready(pod, ready=False)  # running, with an IP, but not ready
            return
        if ready:
            return
        if self.ready_delay:
            asyncio.get_running_loop().call_later(self.ready_delay, self._mark_later, pod)
            return
        await self.mark_ready(pod)

    def _mark_later(self, pod: Object) -> None:
        self._tasks.append(asyncio.create_task(self._mark_quietly(pod)))

    async def _mark_quietly(self, pod: Object) -> None:
        with contextlib.suppress(ApiError):
            current = self.informer.get_by_key(key_of(pod))
            if current is not None and not current["metadata"].get("deletionTimestamp"):
                await self.mark_ready(current)

    async def mark_ready(self, pod: Object, ready: bool = True) -> Object:
        now = format_time(self._clock.now())
        status = dict(pod.get("status") or {})
        status.update(
            {
                "phase": "Running",
                "podIP": status.get("podIP") or next(self.ips),
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now},
                ],
            }
        )
        return await self.admin.update_status({**pod, "status": status})


@pytest.fixture
async def driver_for(
    admin: ApiClient, nodes: tuple[str, ...]
) -> AsyncIterator[Callable[..., Awaitable[PodDriver]]]:
    drivers: list[PodDriver] = []

    async def make(namespace: str, **options: Any) -> PodDriver:
        driver = await PodDriver(admin, namespace, nodes, **options).start()
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        await driver.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "") -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what or check}")
        await asyncio.sleep(0.1)


async def list_items(client: ApiClient, rt: Any, namespace: str = "", selector: str = "") -> list[Object]:
    reply = await client.list(rt, namespace, label_selector=selector)
    items: list[Object] = reply.get("items") or []
    return items


__all__ = ["NODES", "PodDriver", "eventually", "list_items"]
