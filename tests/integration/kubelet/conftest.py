"""A control plane per test module, an admin client, and kubelets run in-process or as real processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient, resource

if TYPE_CHECKING:
    from services.kubelet.kubelet import Kubelet

PODS = resource("", "v1", "pods")
NODES = resource("", "v1", "nodes")
LEASES = resource("coordination.k8s.io", "v1", "leases")
NODE_NAMES = tuple(f"worker-{n}" for n in range(1, 7))

Object = dict[str, Any]


@pytest.fixture(scope="module")
def node_names() -> tuple[str, ...]:
    """The nodes the control plane has tokens for; a module may override this fixture."""
    return NODE_NAMES


@pytest.fixture(scope="module")
def control_plane(node_names: tuple[str, ...]) -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=1, nodes=node_names) as started:
        yield started


@pytest.fixture
async def admin(control_plane: LocalControlPlane) -> AsyncIterator[ApiClient]:
    nc = await bus.connect(control_plane.url, name="kubelet-test")
    yield ApiClient(nc, control_plane.tokens["admin"], retry_for=5)
    await nc.close()


@pytest.fixture
async def namespace(admin: ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def make_pod(name: str, namespace: str, *, annotations: dict[str, str] | None = None, **spec: Any) -> Object:
    container = {"name": "app", "image": "nginx:1.27"}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"containers": [container], **spec},
    }


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 20.0, interval: float = 0.2, what: str = ""
) -> Any:
    """Call ``check`` until it returns something truthy; fail with the last value after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline, last = loop.time() + timeout, None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or check}: last {last!r}")


def token_file(control_plane: LocalControlPlane) -> str:
    return str(control_plane.etcd.root / "tokens.csv")


def within(stamp: str, since: datetime, until: datetime) -> bool:
    """An API timestamp (whole seconds) lies between two wall-clock times of this test."""
    return since.replace(microsecond=0) <= datetime.fromisoformat(stamp) <= until


def is_ready(node: Object) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


StartKubelet = Callable[..., Awaitable["Kubelet"]]


@pytest.fixture
async def start_kubelet(control_plane: LocalControlPlane) -> AsyncIterator[StartKubelet]:
    """``await start_kubelet("worker-1", cpu="2")``: a kubelet in this event loop with an in-process
    runtime, registered and synced; stopped after the test."""
    from services.kubelet.kubelet import Kubelet, KubeletOptions
    from services.kubelet.nodeconfig import NodeConfig
    from services.runtime.core import RuntimeCore
    from services.runtime.inprocess import InProcessRuntime
    from services.runtime.timeline import Timeline
    from shared.clock import RealClock
    from shared.models import Quantity

    nc = await bus.connect(control_plane.url, name="kubelet-under-test")
    started: list[Kubelet] = []

    async def start(
        node: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110, **options: Any
    ) -> Kubelet:
        clock = RealClock()
        config = NodeConfig(name=node, cpu=Quantity(cpu), memory=Quantity(memory), pods=pods)
        kubelet = Kubelet(
            config,
            ApiClient(nc, control_plane.tokens[f"node:{node}"], retry_for=5),
            InProcessRuntime(RuntimeCore(node, timeline=Timeline.of(clock)), clock),
            clock,
            KubeletOptions(**{"lease_seconds": 1.0, "status_interval": 1.0, **options}),
        )
        await kubelet.start(stagger=0.01)
        assert await kubelet.wait_synced(10)
        started.append(kubelet)
        return kubelet

    yield start
    for kubelet in started:
        await kubelet.stop()
    await nc.close()
