"""NATS permissions on a cluster started as `make up` starts one (issue 10): the servers refuse anonymous
clients, a worker component's identity cannot touch the store or Raft, and it still reaches the API server
(which answers a request without a token with 401); people's ``user`` identity works for the CLI.

The cluster runs etcd and API servers on the control plane and one worker's kube-proxy, a real worker
component that lists and watches through the API server under its own permissions.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from services.etcd.client.nats import NatsEtcdClient
from shared import bus, subjects
from shared.apiclient import ApiClient, resource
from shared.cluster.natsauth import USER
from shared.cluster.tokens import token_of
from shared.errors import ApiError
from shared.topology import NATS
from tests.clusters import KUBENATS, Cluster, cluster_dir, free_port_topology

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = "worker-1-proxy"
NODE_USER = "system:node:worker-1"
SERVICES = resource("", "v1", "services")
NAMESPACES = resource("", "v1", "namespaces")
ONLY_STORE_API_AND_PROXY = {
    "scheduler": False,
    "controller-manager": False,
    "runtime": False,
    "kubelet": False,
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with cluster_dir(free_port_topology(workers=1, **ONLY_STORE_API_AND_PROXY)) as running:
        result = running.cli("up", "--topology", str(running.topology_file), "--timeout", "60")
        running.remember_pids()
        assert result.returncode == 0, result.stdout + result.stderr
        yield running


@dataclass
class Session:
    """A connection as one identity, with the errors the server sent it."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    async def violations(self, count: int) -> list[str]:
        """The permissions violations, once ``count`` have arrived (the server reports them later)."""
        await self.nc.flush()
        for _ in range(50):
            if len(self._violations()) >= count:
                break
            await asyncio.sleep(0.1)
        return self._violations()

    def _violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


@asynccontextmanager
async def session(cluster: Cluster, identity: str) -> AsyncIterator[Session]:
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    nc = await bus.connect(cluster.nats_urls(identity), name="permissions-test", error_cb=on_error)
    try:
        yield Session(nc, errors)
    finally:
        await nc.close()


@pytest.fixture
async def worker(cluster: Cluster) -> AsyncIterator[Session]:
    async with session(cluster, WORKER) as connected:
        yield connected


def component_logs(cluster: Cluster) -> dict[str, str]:
    programs = [p.program for p in cluster.topology.placements() if p.component != NATS]
    return {program: cluster.paths.program_log(program).read_text() for program in programs}


def test_every_component_runs_under_its_own_permissions_without_a_violation(cluster: Cluster) -> None:
    logs = component_logs(cluster)
    assert sorted(logs) == sorted(
        [f"cp-{n}-{c}" for n in (1, 2, 3) for c in ("etcd", "apiserver")] + ["worker-1-proxy"]
    )
    for program, text in logs.items():
        assert text, f"{program} logged nothing"
        assert "permissions violation" not in text.lower(), f"{program}: {text[-2000:]}"
    assert cluster.cli("status").returncode == 0  # every program RUNNING


async def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(cluster: Cluster) -> None:
    url = cluster.topology.nats_urls()[0]
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(servers=[url], allow_reconnect=False, max_reconnect_attempts=0)
    wrong = url.replace("nats://", f"nats://{WORKER}:not-the-password@")
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(servers=[wrong], allow_reconnect=False, max_reconnect_attempts=0)


async def test_a_worker_component_cannot_subscribe_to_the_store_or_raft(
    cluster: Cluster, worker: Session
) -> None:
    seen: list[str] = []

    async def record(msg: Msg) -> None:
        seen.append(msg.subject)

    await worker.nc.subscribe("etcd.>", cb=record)
    await worker.nc.subscribe("raft.>", cb=record)
    violations = await worker.violations(2)
    assert any('subscription to "etcd.>"' in v for v in violations), worker.errors
    assert any('subscription to "raft.>"' in v for v in violations), worker.errors
    # The store works, for the API server and admin, and nothing of it reaches the worker.
    kv = await NatsEtcdClient.connect(cluster.nats_urls())
    try:
        await kv.put(f"/permissions/{uuid.uuid4().hex}", "secret")
    finally:
        await kv.close()
    await asyncio.sleep(0.5)
    assert seen == []
    assert worker.nc.is_connected  # a violation is refused, not a reason to drop the connection


async def test_a_worker_component_cannot_publish_to_the_store_or_raft(
    cluster: Cluster, worker: Session
) -> None:
    key = f"/permissions/{uuid.uuid4().hex}"
    with pytest.raises(ApiError) as timed_out:
        await bus.request(worker.nc, subjects.etcd_kv("put"), {"key": key, "value": "forged"}, timeout=1)
    assert timed_out.value.code == 504  # the server dropped it: nobody answered
    await worker.nc.publish(subjects.raft("etcd", "cp-1"), b"forged raft message")
    violations = await worker.violations(2)
    assert any('publish to "etcd.kv.put"' in v for v in violations), worker.errors
    assert any('publish to "raft.etcd.cp-1"' in v for v in violations), worker.errors
    kv = await NatsEtcdClient.connect(cluster.nats_urls())
    try:
        assert (await kv.range(key)).kvs == []
    finally:
        await kv.close()


async def test_a_worker_component_still_lists_and_watches_through_the_api_server(
    cluster: Cluster, worker: Session
) -> None:
    namespace = f"perm-{uuid.uuid4().hex[:6]}"
    node_api = ApiClient(worker.nc, token_of(cluster.paths, NODE_USER))
    admin = await ApiClient.connect(cluster.topology.nats_urls(), token_of(cluster.paths, "admin"))
    try:
        await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        watch = await node_api.watch(SERVICES, namespace)
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
        await admin.create(service, namespace)
        event = await asyncio.wait_for(anext(watch), 10)  # streamed to the worker's private inbox
        await watch.stop()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "web")
        listed = await node_api.list(SERVICES, namespace)
        assert [s["metadata"]["name"] for s in listed["items"]] == ["web"]
    finally:
        await admin.close()
    assert await worker.violations(0) == []


async def test_an_api_request_without_a_token_is_answered_401(worker: Session) -> None:
    with pytest.raises(ApiError) as refused:
        await bus.request(worker.nc, subjects.api("", "v1", "namespaces", "list"), {})
    assert refused.value.code == 401
    assert refused.value.reason == "Unauthorized"


async def test_the_user_identity_uses_the_api_but_not_the_store(cluster: Cluster) -> None:
    async with session(cluster, USER) as user:
        api = ApiClient(user.nc, token_of(cluster.paths, "admin"))
        listed = await api.list(NAMESPACES)
        assert "kube-system" in {n["metadata"]["name"] for n in listed["items"]}
        await user.nc.subscribe("etcd.>")
        with pytest.raises(ApiError):
            await bus.request(user.nc, subjects.etcd_cluster_status(), {}, timeout=1)
        violations = await user.violations(2)
        assert any('subscription to "etcd.>"' in v for v in violations), user.errors
        assert any('publish to "etcd.cluster.status"' in v for v in violations), user.errors


def test_the_cli_logs_in_as_user_from_the_state_dir(cluster: Cluster) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBENATS_", "NATS_"))}
    command = [str(KUBENATS), "get", "namespaces", "--state-dir", str(cluster.paths.root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "kube-system" in result.stdout
    printed = cluster.cli("nats-password")
    assert printed.returncode == 0, printed.stderr
    assert cluster.nats_urls(USER)[0].startswith(f"nats://{USER}:{printed.stdout.strip()}@")
    assert cluster.cli("nats-password", "nobody").returncode == 1
    steps = cluster.cli("up", "--topology", str(cluster.topology_file)).stdout
    assert '--user admin --password "$(' in steps and "cluster nats-password admin)" in steps
