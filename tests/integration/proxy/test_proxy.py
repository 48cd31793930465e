"""kube-proxy on a real control plane: Service requests stay on the caller's node when they can.

The pods behind the Service are responders on their pod addresses (``pod.<ip>.<port>``), standing in for
serving containers; Services and EndpointSlices are real objects in the API server, and the proxies are
real ``KubeProxy`` instances watching them through informers.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from services.apiserver.local_cluster import LocalControlPlane
from services.proxy.service import KubeProxy
from services.runtime.api import ContainerConfig, PodSandboxConfig
from services.runtime.client import NatsRuntimeClient
from shared import bus, subjects
from shared.apiclient import ApiClient, resource
from shared.errors import ApiError
from shared.procs import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLICES = resource("discovery.k8s.io", "v1", "endpointslices")
NODES = ("worker-1", "worker-2")


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=1, nodes=NODES) as started:
        yield started


@pytest.fixture
async def nc(control_plane: LocalControlPlane) -> AsyncIterator[Client]:
    connection = await bus.connect(control_plane.url, name="proxy-test")
    yield connection
    await connection.close()


@pytest.fixture
async def admin(nc: Client, control_plane: LocalControlPlane) -> ApiClient:
    return ApiClient(nc, control_plane.tokens["admin"])


@pytest.fixture
async def proxies(nc: Client, control_plane: LocalControlPlane) -> AsyncIterator[dict[str, KubeProxy]]:
    started = {}
    for node in NODES:
        proxy = KubeProxy(nc, ApiClient(nc, control_plane.tokens[f"node:{node}"]), node, timeout=2.0)
        await proxy.start()
        started[node] = proxy
    yield started
    for proxy in started.values():
        await proxy.stop()


@pytest.fixture
async def namespace(admin: ApiClient) -> str:
    name = f"px-{uuid.uuid4().hex[:6]}"
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def serve_pod(nc: Client, ip: str, port: int = 8080) -> Any:
    """A pod answering on its address with its own IP."""

    async def answer(msg: Msg) -> None:
        await msg.respond(json.dumps({"pod": ip, "echo": msg.data.decode()}).encode())

    return await nc.subscribe(subjects.pod_endpoint(ip, port), cb=answer)


async def create_service(admin: ApiClient, namespace: str, *, local: bool = False) -> None:
    spec: dict[str, Any] = {"selector": {"app": "db"}, "ports": [{"port": 80, "targetPort": 8080}]}
    if local:
        spec["internalTrafficPolicy"] = "Local"
    await admin.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": namespace},
            "spec": spec,
        }
    )


def endpoint_slice(namespace: str, endpoints: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "db-1", "namespace": namespace, "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [ip], "nodeName": node, "conditions": {"ready": ready}}
            for ip, node, ready in endpoints
        ],
    }


async def until(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def call(nc: Client, subject: str, payload: str = "hi") -> dict[str, Any]:
    msg = await nc.request(subject, payload.encode(), timeout=5)
    bus.raise_for_error(msg)
    reply: dict[str, Any] = json.loads(msg.data)
    return reply


def knows(proxy: KubeProxy, namespace: str, ready_ips: set[str]) -> bool:
    try:
        _, endpoints = proxy.table.endpoints(namespace, "db")
    except LookupError:
        return False
    return {e.ip for e in endpoints if e.ready} == ready_ips


async def test_requests_stay_on_the_node_then_go_remote_when_the_local_pod_is_not_ready(
    nc: Client, admin: ApiClient, proxies: dict[str, KubeProxy], namespace: str
) -> None:
    pods = [await serve_pod(nc, "10.244.1.7"), await serve_pod(nc, "10.244.2.7")]
    await create_service(admin, namespace)
    both = [("10.244.1.7", "worker-1", True), ("10.244.2.7", "worker-2", True)]
    created = await admin.create(endpoint_slice(namespace, both))
    await until(lambda: knows(proxies["worker-1"], namespace, {"10.244.1.7", "10.244.2.7"}))

    local = Counter(
        [(await call(nc, subjects.node_service("worker-1", namespace, "db")))["pod"] for _ in range(20)]
    )

    created["endpoints"][0]["conditions"]["ready"] = False
    await admin.update(created)
    await until(lambda: knows(proxies["worker-1"], namespace, {"10.244.2.7"}))
    remote = Counter(
        [(await call(nc, subjects.node_service("worker-1", namespace, "db")))["pod"] for _ in range(20)]
    )

    assert local == {"10.244.1.7": 20}
    assert remote == {"10.244.2.7": 20}
    stats = await bus.request(nc, subjects.node_proxy_stats("worker-1"), {})
    assert stats["local"] >= 20 and stats["remote"] >= 20 and stats["errors"] == 0
    for pod in pods:
        await pod.unsubscribe()


async def test_local_policy_without_a_local_endpoint_fails_clearly(
    nc: Client, admin: ApiClient, proxies: dict[str, KubeProxy], namespace: str
) -> None:
    pod = await serve_pod(nc, "10.244.2.9")
    await create_service(admin, namespace, local=True)
    await admin.create(endpoint_slice(namespace, [("10.244.2.9", "worker-2", True)]))
    await until(lambda: knows(proxies["worker-1"], namespace, {"10.244.2.9"}))

    with pytest.raises(ApiError) as refused:
        await call(nc, subjects.node_service("worker-1", namespace, "db"))
    served = await call(nc, subjects.node_service("worker-2", namespace, "db"))

    assert refused.value.code == 503 and "internalTrafficPolicy Local" in refused.value.message
    assert served["pod"] == "10.244.2.9"
    await pod.unsubscribe()


async def test_a_vanished_pod_costs_no_error_and_outside_requests_are_served(
    nc: Client, admin: ApiClient, proxies: dict[str, KubeProxy], namespace: str
) -> None:
    gone = await serve_pod(nc, "10.244.1.8")
    alive = await serve_pod(nc, "10.244.2.8")
    await create_service(admin, namespace)
    await admin.create(
        endpoint_slice(namespace, [("10.244.1.8", "worker-1", True), ("10.244.2.8", "worker-2", True)])
    )
    await until(lambda: all(knows(p, namespace, {"10.244.1.8", "10.244.2.8"}) for p in proxies.values()))
    await gone.unsubscribe()  # the pod died; its slice has not caught up yet

    answers = [await call(nc, subjects.node_service("worker-1", namespace, "db")) for _ in range(5)]
    outside = [await call(nc, subjects.service(namespace, "db"), "from outside") for _ in range(5)]

    assert {a["pod"] for a in answers} == {"10.244.2.8"}
    assert {a["echo"] for a in outside} == {"from outside"}
    assert proxies["worker-1"].metrics.retries >= 5 and proxies["worker-1"].metrics.errors == 0
    await alive.unsubscribe()


async def test_proxy_process_starts_and_forwards(
    nc: Client, admin: ApiClient, control_plane: LocalControlPlane, namespace: str
) -> None:
    pod = await serve_pod(nc, "10.244.1.9")
    await create_service(admin, namespace)
    await admin.create(endpoint_slice(namespace, [("10.244.1.9", "worker-1", True)]))
    token_file = control_plane.etcd.root / "tokens.csv"
    args = ["--nats", control_plane.url, "--node", "worker-1", "--token-file", str(token_file)]
    process = ServiceProcess(
        "proxy-worker-1", "services.proxy", args, control_plane.etcd.root / "logs", ready_line="proxy ready"
    )
    await asyncio.to_thread(process.start)
    try:
        subject = subjects.node_service("worker-1", namespace, "db")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:  # the process's informers may not have seen the slice yet
            try:
                answer = await call(nc, subject)
                break
            except ApiError:
                assert loop.time() < deadline
                await asyncio.sleep(0.1)
        assert answer["pod"] == "10.244.1.9"
    finally:
        await asyncio.to_thread(process.terminate)
        await pod.unsubscribe()


@pytest.fixture
async def runtime(control_plane: LocalControlPlane, nc: Client) -> AsyncIterator[NatsRuntimeClient]:
    """The real runtime process of worker-1, whose containers serve on their pod addresses."""
    args = ["--nats", control_plane.url, "--node", "worker-1", "--pull-latency", "0"]
    process = ServiceProcess(
        "runtime-worker-1",
        "services.runtime",
        args,
        control_plane.etcd.root / "logs",
        ready_line="runtime ready",
    )
    await asyncio.to_thread(process.start)
    yield NatsRuntimeClient(nc, "worker-1")
    await asyncio.to_thread(process.terminate)


async def run_container(
    runtime: NatsRuntimeClient,
    namespace: str,
    name: str,
    ip: str,
    annotations: dict[str, str],
    ports: list[int],
) -> str:
    sandbox = PodSandboxConfig(
        name=name, namespace=namespace, uid=f"uid-{name}", ip=ip, annotations=annotations
    )
    sandbox_id = await runtime.run_pod_sandbox(sandbox)
    await runtime.pull_image("nginx:1.27")
    config = ContainerConfig(name="web", image="nginx:1.27", ports=ports, annotations=annotations)
    container_id = await runtime.create_container(sandbox_id, config)
    await runtime.start_container(container_id)
    return container_id


async def test_simulated_pods_serve_through_the_proxy_and_send_traffic_to_services(
    nc: Client,
    admin: ApiClient,
    proxies: dict[str, KubeProxy],
    runtime: NatsRuntimeClient,
    namespace: str,
) -> None:
    serving = {"sim.kubenats.io/startup": "0s", "sim.kubenats.io/serve-latency": "2ms"}
    server = await run_container(runtime, namespace, "db-0", "10.244.1.30", serving, [8080])
    await create_service(admin, namespace)
    await admin.create(endpoint_slice(namespace, [("10.244.1.30", "worker-1", True)]))
    await until(lambda: knows(proxies["worker-1"], namespace, {"10.244.1.30"}))

    echoed = await nc.request(subjects.node_service("worker-1", namespace, "db"), b"ping", timeout=5)
    client = {
        "sim.kubenats.io/startup": "0s",
        "sim.kubenats.io/traffic-to": "db",
        "sim.kubenats.io/traffic-rate": "20",
    }
    await run_container(runtime, namespace, "frontend-0", "10.244.1.31", client, [])
    before = proxies["worker-1"].metrics.local
    await until(lambda: proxies["worker-1"].metrics.local - before >= 20)

    await runtime.kill_container(server)
    with pytest.raises(ApiError) as refused:
        await call(nc, subjects.node_service("worker-1", namespace, "db"))

    assert echoed.data == b"ping"
    assert proxies["worker-1"].metrics.remote == 0
    assert refused.value.code == 503 and "connection refused" in refused.value.message
