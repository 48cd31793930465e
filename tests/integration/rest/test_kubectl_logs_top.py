"""The real ``kubectl logs`` and ``kubectl top`` against the HTTPS front, with a real kubelet process.

The kubelet runs worker-1 with its in-process runtime; pods are bound to it over NATS (no scheduler runs
here). Logs come from the kubelet through the API server's ``pods/log``; ``top`` from the
``metrics.k8s.io`` group the API server computes from the kubelet's stats.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import yaml

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient, resource
from shared.procs import ServiceProcess
from tests.integration.rest.conftest import Kubectl
from tests.manifests import MANIFESTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NODE = "worker-1"
NGINX_POD = MANIFESTS / "kubernetes-website" / "pod-nginx.yaml"
PODS = resource("", "v1", "pods")
T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def kubelet(control_plane: LocalControlPlane) -> Iterator[ServiceProcess]:
    token_file = str(control_plane.etcd.root / "tokens.csv")
    args = ["--nats", control_plane.url, "--node", NODE, "--token-file", token_file, "--runtime", "inprocess"]
    args += ["--lease-seconds", "1", "--status-interval", "1", "--backoff-scale", "0.1"]
    logs = control_plane.etcd.root / "logs"
    process = ServiceProcess("kubelet-worker-1", "services.kubelet", args, logs, ready_line="kubelet ready")
    process.start()
    try:
        yield process
    finally:
        process.terminate()


def wait_for(check: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def bind(cp: LocalControlPlane, namespace: str, name: str) -> None:
    async def main() -> None:
        client = await ApiClient.connect(cp.url, cp.tokens["admin"], name="rest-logs-test")
        try:
            await client.bind(name, NODE, namespace)
        finally:
            await client.close()

    asyncio.run(main())


def running(kubectl: Kubectl, namespace: str, name: str, restarts: int = 0) -> bool:
    pod = json.loads(kubectl.ok("get", "pod", name, "-n", namespace, "-o", "json"))
    statuses = pod["status"].get("containerStatuses") or [{}]
    return "running" in statuses[0].get("state", {}) and statuses[0].get("restartCount", 0) >= restarts


def ticking_pod(name: str, **annotations: str) -> str:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "annotations": {
                "sim.kubenats.io/startup": "100ms",
                "sim.kubenats.io/log-interval": "200ms",
                "sim.kubenats.io/log-line": "{container}: tick {n}",
                **annotations,
            },
        },
        "spec": {"containers": [{"name": "app", "image": "registry.example/ticker:1"}]},
    }
    return yaml.safe_dump(pod)


def ticks(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"^app: tick (\d+)$", output, re.MULTILINE)]


@pytest.fixture
def ticker(kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str) -> str:
    kubectl.ok("create", "-n", namespace, "-f", "-", stdin=ticking_pod("ticker"))
    bind(control_plane, namespace, "ticker")
    wait_for(lambda: running(kubectl, namespace, "ticker"), what="ticker running")
    wait_for(lambda: len(ticks(kubectl.ok("logs", "ticker", "-n", namespace))) >= 4, what="four lines")
    return "ticker"


def test_logs_of_the_nginx_manifest_show_its_greeting(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    kubectl.ok("create", "-n", namespace, "-f", str(NGINX_POD))
    bind(control_plane, namespace, "nginx")
    wait_for(lambda: running(kubectl, namespace, "nginx"), what="nginx running")

    shown = wait_for(lambda: kubectl.ok("logs", "nginx", "-n", namespace), what="a log line")

    assert shown.splitlines()[0] == "Configuration complete; ready for start up"


def test_tail_and_timestamps_are_honoured(kubectl: Kubectl, namespace: str, ticker: str) -> None:
    tail = kubectl.ok("logs", ticker, "-n", namespace, "--tail=2")
    stamped = kubectl.ok("logs", "pod/" + ticker, "-n", namespace, "--tail=1", "--timestamps")

    numbers = ticks(tail)
    assert len(numbers) == 2 and numbers[1] == numbers[0] + 1, tail
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z app: tick \d+\n", stamped), stamped


def test_unknown_container_is_refused(kubectl: Kubectl, namespace: str, ticker: str) -> None:
    refused = kubectl("logs", ticker, "-n", namespace, "-c", "nope")
    raw = kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/pods/{ticker}/log?container=nope")

    # kubectl checks the name against the pod it read first; the server refuses it on its own too.
    assert refused.returncode == 1
    assert "error: container nope is not valid for pod ticker out of: app" in refused.stderr
    assert raw.returncode == 1
    assert "Error from server (BadRequest): container nope is not valid for pod ticker" in raw.stderr


def test_follow_streams_until_the_container_exits(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    job = ticking_pod("job", **{"sim.kubenats.io/exit-after": "3s"})
    kubectl.ok(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=job.replace("containers:", "restartPolicy: Never\n  containers:"),
    )
    bind(control_plane, namespace, "job")
    wait_for(lambda: kubectl("logs", "job", "-n", namespace).returncode == 0, what="job's log readable")

    followed = kubectl.ok("logs", "-f", "job", "-n", namespace)

    numbers = ticks(followed)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10, followed


def test_previous_reads_the_terminated_instance(
    kubectl: Kubectl, control_plane: LocalControlPlane, namespace: str
) -> None:
    crasher = ticking_pod("crasher", **{"sim.kubenats.io/crash-after": "1500ms"})
    kubectl.ok("create", "-n", namespace, "-f", "-", stdin=crasher)
    bind(control_plane, namespace, "crasher")
    wait_for(lambda: running(kubectl, namespace, "crasher", restarts=1), what="a restart")

    previous = kubectl("logs", "crasher", "-n", namespace, "--previous")

    assert previous.returncode == 0, previous.stderr
    assert ticks(previous.stdout)[:1] == [1]


def test_viewer_reads_logs(kubectl: Kubectl, namespace: str, ticker: str) -> None:
    shown = kubectl.as_user("viewer", "logs", ticker, "-n", namespace)
    assert shown.returncode == 0 and ticks(shown.stdout), shown.stderr


def test_top_nodes_prints_usage_against_allocatable(kubectl: Kubectl, ticker: str) -> None:
    shown = kubectl.ok("top", "nodes")
    lines = shown.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    name, cpu, cpu_percent, memory, memory_percent = lines[1].split()
    assert name == NODE and re.fullmatch(r"\d+m", cpu) and re.fullmatch(r"\d+Mi", memory)
    assert re.fullmatch(r"\d+%", cpu_percent) and re.fullmatch(r"\d+%", memory_percent)


def test_top_pods_prints_each_pods_usage(kubectl: Kubectl, namespace: str, ticker: str) -> None:
    shown = wait_for(lambda: kubectl.ok("top", "pods", "-n", namespace), what="pod metrics")
    lines = shown.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    name, cpu, memory = lines[1].split()
    assert name == ticker and re.fullmatch(r"\d+m", cpu) and re.fullmatch(r"[1-9]\d*Mi", memory)


def test_api_resources_lists_the_metrics_resources(kubectl: Kubectl) -> None:
    rows = [
        line.split() for line in kubectl.ok("api-resources", "--api-group=metrics.k8s.io").splitlines()[1:]
    ]
    assert sorted(rows) == [
        ["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"],
        ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"],
    ]
