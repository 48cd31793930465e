"""``kubenats logs`` and ``kubenats top`` against a real control plane and a real kubelet process.

The kubelet (with its in-process runtime) runs worker-1; worker-3 is a Node with no kubelet behind it,
so the metrics leave it out. Pods are bound by hand (no scheduler runs here); their simulated containers
write a line every 200 ms (``sim.kubenats.io/log-interval``).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient
from shared.cli import app
from shared.errors import ApiError
from shared.podlogs import PodLogOptions
from shared.procs import ServiceProcess
from tests.integration.kubelet.conftest import PODS, StartKubelet, eventually, make_pod, token_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NODE = "worker-1"
SILENT_NODE = "worker-3"
TICKS = {
    "sim.kubenats.io/startup": "100ms",
    "sim.kubenats.io/log-interval": "200ms",
    "sim.kubenats.io/log-line": "{container}: tick {n}",
}
IMAGE = "registry.example/ticker:1"
T = TypeVar("T")
Object = dict[str, Any]
Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def node_names() -> tuple[str, ...]:
    return ("worker-1", "worker-2", "worker-3")


@pytest.fixture(scope="module")
def kubelet(control_plane: LocalControlPlane) -> Iterator[ServiceProcess]:
    args = ["--nats", control_plane.url, "--node", NODE, "--token-file", token_file(control_plane)]
    args += ["--runtime", "inprocess", "--cpu", "2", "--memory", "4Gi", "--backoff-scale", "0.1"]
    args += ["--lease-seconds", "1", "--status-interval", "1"]
    logs = control_plane.etcd.root / "logs"
    process = ServiceProcess("kubelet-worker-1", "services.kubelet", args, logs, ready_line="kubelet ready")
    process.start()
    try:
        yield process
    finally:
        process.terminate()


def call(cp: LocalControlPlane, action: Callable[[ApiClient], Awaitable[T]], identity: str = "admin") -> T:
    """Run one client action as ``identity`` (this module's tests are synchronous, like the CLI)."""

    async def main() -> T:
        nc = await bus.connect(cp.url, name="logs-test")
        try:
            return await action(ApiClient(nc, cp.tokens[identity], retry_for=5))
        finally:
            await nc.close()

    return asyncio.run(main())


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    import time

    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


@pytest.fixture(scope="module")
def silent_node(control_plane: LocalControlPlane) -> str:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": SILENT_NODE}}
    call(control_plane, lambda c: c.create(node))
    return SILENT_NODE


@pytest.fixture
def namespace(control_plane: LocalControlPlane, kubelet: ServiceProcess) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    call(
        control_plane,
        lambda c: c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    return name


@pytest.fixture
def kubenats(control_plane: LocalControlPlane, tmp_path: Path) -> Cli:
    """``kubenats("logs", "web", as_user="viewer")``: one CLI command against the control plane."""
    runner = CliRunner()

    def invoke(*args: str, as_user: str = "admin") -> Result:
        base = ["--server", control_plane.url, "--token", control_plane.tokens[as_user]]
        return runner.invoke(app, [*args, *base, "--state-dir", str(tmp_path)])

    return invoke


def start_pod(
    cp: LocalControlPlane, namespace: str, name: str, annotations: dict[str, str], **spec: Any
) -> None:
    async def create(client: ApiClient) -> None:
        # An image the runtime's catalogue does not know writes only the ticks asked for, no greeting.
        pod = make_pod(name, namespace, annotations=annotations, container={"image": IMAGE}, **spec)
        await client.create(pod)
        await client.bind(name, NODE, namespace)

    call(cp, create)


def pod_status(cp: LocalControlPlane, namespace: str, name: str) -> Object:
    status: Object = call(cp, lambda c: c.get(PODS, name, namespace))["status"]
    return status


def running(cp: LocalControlPlane, namespace: str, name: str, restarts: int = 0) -> bool:
    status = pod_status(cp, namespace, name)
    containers = status.get("containerStatuses") or [{}]
    return (
        status.get("phase") == "Running"
        and "running" in containers[0].get("state", {})
        and containers[0].get("restartCount", 0) >= restarts
    )


def ticks(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"^app: tick (\d+)$", output, re.MULTILINE)]


def until_shown(kubenats: Cli, args: list[str], enough: Callable[[str], bool]) -> Result:
    """The first successful run of a command whose output is ``enough``."""

    def attempt() -> Result | None:
        result = kubenats(*args)
        return result if result.exit_code == 0 and enough(result.stdout) else None

    return wait_for(attempt, what=" ".join(args))


@pytest.fixture
def web(control_plane: LocalControlPlane, namespace: str) -> str:
    start_pod(control_plane, namespace, "web", TICKS)
    wait_for(lambda: running(control_plane, namespace, "web"), what="web running")
    return "web"


def test_logs_show_the_lines_the_container_writes(kubenats: Cli, namespace: str, web: str) -> None:
    shown = until_shown(kubenats, ["logs", web, "-n", namespace], lambda out: len(ticks(out)) >= 3)
    numbers = ticks(shown.stdout)
    assert numbers == list(range(1, len(numbers) + 1)), shown.stdout
    assert shown.stdout.splitlines()[: len(numbers)] == [f"app: tick {n}" for n in numbers]


def test_tail_limits_the_lines_to_the_newest(kubenats: Cli, namespace: str, web: str) -> None:
    wait_for(lambda: len(ticks(kubenats("logs", web, "-n", namespace).stdout)) >= 4, what="four lines")
    tail = kubenats("logs", web, "-n", namespace, "--tail", "2")
    everything = ticks(kubenats("logs", web, "-n", namespace).stdout)

    numbers = ticks(tail.stdout)
    assert tail.exit_code == 0 and len(numbers) == 2, tail.output
    assert numbers[1] == numbers[0] + 1 and numbers[1] <= everything[-1]


def test_timestamps_prefix_each_line_with_its_rfc3339_time(kubenats: Cli, namespace: str, web: str) -> None:
    wait_for(lambda: ticks(kubenats("logs", web, "-n", namespace).stdout), what="a line")
    shown = kubenats("logs", web, "-n", namespace, "--timestamps", "--tail", "1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z app: tick \d+\n", shown.stdout), (
        shown.stdout
    )


def test_unknown_container_is_refused_in_kubectl_words(
    control_plane: LocalControlPlane, kubenats: Cli, namespace: str, web: str
) -> None:
    refused = kubenats("logs", web, "-n", namespace, "-c", "nope")
    with pytest.raises(ApiError) as by_server:
        call(control_plane, lambda c: c.logs(web, namespace, PodLogOptions(container="nope")))

    assert refused.exit_code == 1
    assert "error: container nope is not valid for pod web out of: app" in refused.output
    assert by_server.value.code == 400 and by_server.value.reason == "BadRequest"
    assert by_server.value.message == "container nope is not valid for pod web"


def test_unknown_pod_is_not_found(kubenats: Cli, namespace: str) -> None:
    refused = kubenats("logs", "ghost", "-n", namespace)
    assert refused.exit_code == 1
    assert 'Error from server (NotFound): pods "ghost" not found' in refused.output


def test_unscheduled_pod_has_no_log_yet(control_plane: LocalControlPlane, namespace: str) -> None:
    call(control_plane, lambda c: c.create(make_pod("pending", namespace)))
    with pytest.raises(ApiError) as refused:
        call(control_plane, lambda c: c.logs("pending", namespace))
    assert refused.value.code == 400
    assert refused.value.message == "pod pending does not have a host assigned"


def test_follow_streams_every_line_once_until_the_container_exits(
    control_plane: LocalControlPlane, kubenats: Cli, namespace: str
) -> None:
    annotations = {**TICKS, "sim.kubenats.io/exit-after": "3s"}
    start_pod(control_plane, namespace, "job", annotations, restartPolicy="Never")
    wait_for(lambda: pod_status(control_plane, namespace, "job").get("startTime"), what="job started")
    wait_for(lambda: kubenats("logs", "job", "-n", namespace).exit_code == 0, what="job's log readable")

    followed = kubenats("logs", "job", "-n", namespace, "-f")

    numbers = ticks(followed.stdout)
    assert followed.exit_code == 0, followed.output
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10, followed.stdout
    wait_for(lambda: pod_status(control_plane, namespace, "job")["phase"] == "Succeeded", what="job done")
    assert ticks(kubenats("logs", "job", "-n", namespace).stdout) == numbers  # nothing was left out


def test_previous_shows_the_last_terminated_instance(
    control_plane: LocalControlPlane, kubenats: Cli, namespace: str
) -> None:
    annotations = {**TICKS, "sim.kubenats.io/crash-after": "1500ms"}
    start_pod(control_plane, namespace, "crasher", annotations)
    before = kubenats("logs", "crasher", "-n", namespace, "--previous")
    wait_for(lambda: running(control_plane, namespace, "crasher", restarts=2), what="two restarts")

    previous = kubenats("logs", "crasher", "-n", namespace, "--previous", "--timestamps")
    current = kubenats("logs", "crasher", "-n", namespace, "--timestamps")

    assert before.exit_code == 1 and "previous terminated container" in before.output
    assert previous.exit_code == 0 and ticks(re.sub(r"^\S+ ", "", previous.stdout, flags=re.MULTILINE))
    last_previous = previous.stdout.splitlines()[-1].split(" ", 1)[0]
    first_current = current.stdout.splitlines()[0].split(" ", 1)[0] if current.stdout else "9999"
    assert last_previous < first_current  # an earlier instance, not the one running now


def test_viewer_may_read_logs_and_a_node_may_not_read_another_nodes_pod(
    kubenats: Cli, namespace: str, web: str
) -> None:
    as_viewer = kubenats("logs", web, "-n", namespace, as_user="viewer")
    as_other_node = kubenats("logs", web, "-n", namespace, as_user="node:worker-2")

    assert as_viewer.exit_code == 0, as_viewer.output
    assert as_other_node.exit_code == 1
    assert (
        'pods "web" is forbidden: User "system:node:worker-2" cannot get resource "pods/log" '
        f'in API group "" in the namespace "{namespace}"'
    ) in as_other_node.output.replace("\n", "")


def test_top_nodes_shows_usage_and_unknown_for_a_node_without_kubelet(
    kubenats: Cli, web: str, silent_node: str
) -> None:
    shown = kubenats("top", "nodes")

    lines = shown.stdout.splitlines()
    assert shown.exit_code == 0, shown.output
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    cpu, cpu_percent, memory, memory_percent = rows[NODE]
    assert re.fullmatch(r"\d+m", cpu) and re.fullmatch(r"\d+%", cpu_percent)
    assert re.fullmatch(r"\d+Mi", memory) and int(memory[:-2]) > 0 and re.fullmatch(r"\d+%", memory_percent)
    assert rows[silent_node] == ["<unknown>"] * 4


def test_metrics_leave_out_a_node_whose_kubelet_does_not_answer(
    control_plane: LocalControlPlane, silent_node: str, kubelet: ServiceProcess
) -> None:
    listed = call(control_plane, lambda c: c.node_metrics(), identity="viewer")
    names = {item["metadata"]["name"] for item in listed["items"]}
    assert listed["kind"] == "NodeMetricsList" and listed["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert NODE in names and silent_node not in names


def test_top_pods_shows_each_pods_usage(kubenats: Cli, namespace: str, web: str) -> None:
    shown = until_shown(kubenats, ["top", "pods", "-n", namespace], lambda out: bool(out))
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    name, cpu, memory = lines[1].split()
    assert name == web and re.fullmatch(r"\d+m", cpu) and re.fullmatch(r"\d+Mi", memory) and memory != "0Mi"


def test_a_node_may_not_read_metrics(kubenats: Cli, web: str) -> None:
    refused = kubenats("top", "nodes", as_user="node:worker-1")
    assert refused.exit_code == 1 and "forbidden" in refused.output


async def test_kubelet_keeps_one_terminated_instance_per_container(
    start_kubelet: StartKubelet, admin: ApiClient
) -> None:
    """As Kubernetes: the instance that exited last stays (``--previous``), older ones are removed."""
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kubelet = await start_kubelet("worker-2", backoff_scale=0.05)
    annotations = {**TICKS, "sim.kubenats.io/crash-after": "300ms"}
    await admin.create(make_pod("crasher", namespace, annotations=annotations, container={"image": IMAGE}))
    await admin.bind("crasher", "worker-2", namespace)

    async def restarted_thrice() -> bool:
        statuses = (await admin.get(PODS, "crasher", namespace))["status"].get("containerStatuses") or [{}]
        return bool(statuses[0].get("restartCount", 0) >= 3)

    await eventually(restarted_thrice, timeout=30, what="three restarts")
    record = kubelet.records[f"{namespace}/crasher"]
    instances = await kubelet.runtime.list_containers(record.sandbox_id)

    last_exit = record.containers()[0].last_exit
    assert len(instances) == 2, instances
    assert last_exit is not None and last_exit.id in {c.id for c in instances}


def test_a_follow_cursor_cannot_read_another_pods_container(
    control_plane: LocalControlPlane, namespace: str, web: str
) -> None:
    start_pod(control_plane, namespace, "other", TICKS)
    wait_for(lambda: running(control_plane, namespace, "other"), what="other running")
    other_id = pod_status(control_plane, namespace, "other")["containerStatuses"][0]["containerID"]
    pinned = PodLogOptions(container_id=other_id.split("://", 1)[1])

    with pytest.raises(ApiError) as refused:
        call(control_plane, lambda c: c.logs(web, namespace, pinned), identity="viewer")

    assert refused.value.code == 404
    assert refused.value.message == 'container "app" in pod "web" is not available'
