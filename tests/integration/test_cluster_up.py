"""``kubenats cluster up|status|logs|down`` for real: supervisord and three clustered nats-servers.

Every cluster here runs on free ports in a temporary state dir, so the tests pass beside a `make up` cluster
on the same machine; a finalizer stops it and checks that every process the test saw has exited, even
when the test fails.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

from services.etcd.client.nats import NatsEtcdClient
from shared.apiclient import ApiClient, resource
from shared.cluster import ClusterError, down, pid_alive, status, up
from shared.cluster.supervisor import read_pidfile
from shared.topology import validate_topology
from tests.clusters import Cluster, cluster_dir, free_port_topology
from tests.kubectl import require_kubectl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# These tests are about starting and stopping; the control loops and nodes are the e2e tests' business.
NATS_ETCD_APISERVER_ONLY = {
    c: False for c in ("scheduler", "controller-manager", "runtime", "kubelet", "proxy")
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A running cluster started through the CLI, exactly as `make up` starts one."""
    with cluster_dir(free_port_topology(**NATS_ETCD_APISERVER_ONLY)) as running:
        result = running.cli("up", "--topology", str(running.topology_file), "--timeout", "30")
        running.remember_pids()
        assert result.returncode == 0, result.stdout + result.stderr
        yield running


def wait_for(condition: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {condition}"
        time.sleep(0.1)


def test_up_reports_every_nats_server_ready(cluster: Cluster) -> None:
    result = cluster.cli("status")
    assert result.returncode == 0, result.stdout + result.stderr
    for replica in cluster.topology.replicas:
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"{replica.name}-nats "))
        assert "RUNNING" in line
        assert cluster.topology.nats_url(replica) in line
    assert "9/9 programs RUNNING" in result.stdout
    replicas = ("cp-1", "cp-2", "cp-3")
    members = [row for row in map(str.split, result.stdout.splitlines()) if row and row[0] in replicas]
    assert [m[0] for m in members] == list(replicas), result.stdout
    assert sum("leader" in m for m in members) == 1


async def test_a_message_published_on_one_server_reaches_a_subscriber_on_another(cluster: Cluster) -> None:
    first, second = cluster.nats_urls()[:2]
    publisher = await nats.connect(servers=[first], allow_reconnect=False)
    subscriber = await nats.connect(servers=[second], allow_reconnect=False)
    try:
        assert publisher.connected_url is not None and subscriber.connected_url is not None
        assert publisher.connected_url.port != subscriber.connected_url.port
        subject = subscriber.new_inbox()
        subscription = await subscriber.subscribe(subject)
        await subscriber.flush()
        deadline = time.monotonic() + 10
        while True:
            # The subscription's interest reaches the other server over a route, asynchronously.
            await publisher.publish(subject, b"across the route")
            await publisher.flush()
            try:
                message = await subscription.next_msg(timeout=0.2)
                break
            except NatsTimeout:
                assert time.monotonic() < deadline, "no message crossed the route"
        assert message.data == b"across the route"
    finally:
        await publisher.close()
        await subscriber.close()


async def test_etcd_members_started_by_up_agree_on_a_leader_and_serve_writes(cluster: Cluster) -> None:
    kv = await NatsEtcdClient.connect(cluster.topology.nats_urls())
    try:
        put = await kv.put("/cluster-up/hello", "world")
        status = await kv.status()
        assert sorted(m.name for m in status.members) == ["cp-1", "cp-2", "cp-3"]
        assert sum(m.is_leader for m in status.members) == 1
        got = await kv.range("/cluster-up/hello")
        assert [(item.value, item.mod_revision) for item in got.kvs] == [("world", put.header.revision)]
    finally:
        await kv.close()


async def test_api_servers_started_by_up_answer_with_the_printed_token(cluster: Cluster) -> None:
    result = cluster.cli("token")
    assert result.returncode == 0, result.stderr
    client = await ApiClient.connect(cluster.topology.nats_urls(), result.stdout.strip())
    try:
        namespaces = await client.list(resource("", "v1", "namespaces"))
        names = {item["metadata"]["name"] for item in namespaces["items"]}
        assert {"default", "kube-system", "kube-node-lease", "kube-public"} <= names
    finally:
        await client.close()
    assert "no token for nobody" in cluster.cli("token", "nobody").stderr


def test_up_on_a_running_cluster_changes_nothing(cluster: Cluster) -> None:
    before = cluster.pids()
    result = cluster.cli("up", "--topology", str(cluster.topology_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already running" in result.stdout
    assert "differs" not in result.stdout
    assert cluster.pids() == before


def test_supervisord_restarts_a_killed_nats_server(cluster: Cluster) -> None:
    name = "cp-2-nats"
    old_pid = cluster.pids()[name]
    os.kill(old_pid, signal.SIGKILL)

    def restarted() -> bool:
        processes = status(cluster.paths) or []
        info = next(p for p in processes if p.name == name)
        return info.running and info.pid != old_pid

    wait_for(f"{name} runs again", restarted)
    new_pid = cluster.pids()[name]
    assert new_pid != old_pid
    assert not pid_alive(old_pid)
    url = cluster.nats_urls()[1]  # cp-2's, logged in

    async def connects() -> None:
        client = await nats.connect(servers=[url], allow_reconnect=False)
        await client.close()

    asyncio.run(connects())


def test_logs_prints_the_end_of_one_programs_log(cluster: Cluster) -> None:
    result = cluster.cli("logs", "cp-1-nats", "-n", "200")
    assert result.returncode == 0, result.stderr
    assert "Server is ready" in result.stdout
    unknown = cluster.cli("logs", "cp-9-nats")
    assert unknown.returncode == 2
    assert "cp-1-nats" in unknown.stderr  # lists the programs that do exist


def test_down_stops_every_process_it_started_and_keeps_the_data() -> None:
    topology = free_port_topology(**NATS_ETCD_APISERVER_ONLY)
    with cluster_dir(topology) as cluster:
        result = up(topology, cluster.paths, timeout=30)
        assert not result.already_running
        pids = cluster.pids()
        os.kill(pids["cp-3-nats"], signal.SIGKILL)  # a restarted server must go too
        wait_for("cp-3-nats is restarted", lambda: cluster.pids()["cp-3-nats"] != pids["cp-3-nats"])
        wait_for("cp-3-nats runs", lambda: all(p.running for p in status(cluster.paths) or []))

        stopped = down(cluster.paths)

        assert stopped.was_running
        assert sorted(stopped.stopped) == [
            f"cp-{n}-{c}" for n in (1, 2, 3) for c in ("apiserver", "etcd", "nats")
        ]
        assert stopped.forced == []
        assert [pid for pid in cluster.seen_pids if pid_alive(pid)] == []
        assert status(cluster.paths) is None
        assert not cluster.paths.socket.exists()
        assert (cluster.paths.program_log("cp-1-nats")).stat().st_size > 0
        assert not down(cluster.paths).was_running
        assert cluster.cli("status").returncode == 3


def test_up_refuses_ports_in_use_before_starting_anything() -> None:
    topology = free_port_topology(**NATS_ETCD_APISERVER_ONLY)
    taken = topology.replicas[1].route_port
    with cluster_dir(topology) as cluster, socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        with pytest.raises(ClusterError, match=f"port {taken} \\(cp-2 route_port\\)"):
            up(topology, cluster.paths)
        assert read_pidfile(cluster.paths) is None


def test_up_fails_with_the_log_of_a_program_that_does_not_come_up() -> None:
    data = topology_data_with_broken_component()
    topology = validate_topology(data)
    with cluster_dir(topology) as cluster:
        result = cluster.cli("up", "--topology", str(cluster.topology_file), "--timeout", "4")
        cluster.remember_pids()
        assert result.returncode == 1
        assert "cp-1-broken" in result.stderr
        assert "No module named services.does_not_exist" in result.stderr  # its last log lines


def topology_data_with_broken_component() -> dict[str, object]:
    topology = free_port_topology(**NATS_ETCD_APISERVER_ONLY)
    data: dict[str, object] = topology.model_dump(mode="json")
    components = data["components"]
    assert isinstance(components, dict)
    components["broken"] = {"role": "control-plane", "enabled": True, "module": "services.does_not_exist"}
    return data


def test_the_printed_kubeconfig_lets_the_real_kubectl_in(cluster: Cluster) -> None:
    kubectl = require_kubectl()
    env = {**os.environ, "KUBECONFIG": str(cluster.paths.kubeconfig)}
    command = [str(kubectl), "get", "namespaces", "-o", "name"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "namespace/kube-system" in result.stdout.split()
