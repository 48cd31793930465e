"""The resource metrics API without a bus: documents, discovery, REST routes and ``kubenats top``'s rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.apiserver.metrics import node_metrics, pod_metrics
from services.apiserver.rest import discovery, openapi
from services.apiserver.rest.paths import parse_path, route_for
from services.kubelet.stats import ContainerUsage, NodeStats, PodUsage, ResourceUsage
from shared.cli.top import aligned, node_rows, percent, pod_header, pod_rows
from shared.errors import ApiError
from shared.resourcemetrics import NODE_METRICS, POD_METRICS, cpu_quantity, memory_quantity

Object = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def stats(cpu: float = 35.5, memory: int = 64 * 1024 * 1024) -> NodeStats:
    usage = PodUsage(
        namespace="default",
        name="web",
        uid="u1",
        cpu=cpu,
        memory=memory,
        containers=[ContainerUsage(name="app", cpu=cpu, memory=memory)],
    )
    return NodeStats(
        node="worker-1",
        time=NOW,
        cpu=ResourceUsage(usage=cpu, allocatable=1900),
        memory=ResourceUsage(usage=memory),
        pods=ResourceUsage(usage=1),
        pod_stats=[usage],
    )


@pytest.mark.parametrize(
    ("millicores", "text"), [(0, "0n"), (1, "1000000n"), (35.5, "35500000n"), (0.0004, "400n")]
)
def test_cpu_is_written_in_nanocores(millicores: float, text: str) -> None:
    assert cpu_quantity(millicores) == text


@pytest.mark.parametrize(("octets", "text"), [(0, "0Ki"), (1023, "0Ki"), (64 * 1024 * 1024, "65536Ki")])
def test_memory_is_written_in_kibibytes(octets: int, text: str) -> None:
    assert memory_quantity(octets) == text


def test_node_metrics_carry_the_nodes_name_labels_and_usage() -> None:
    node = {"metadata": {"name": "worker-1", "labels": {"zone": "a"}, "uid": "x"}}
    doc = node_metrics(node, stats())
    assert doc == {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": "worker-1",
            "labels": {"zone": "a"},
            "creationTimestamp": "2026-01-01T12:00:00Z",
        },
        "timestamp": "2026-01-01T12:00:00Z",
        "window": "10s",
        "usage": {"cpu": "35500000n", "memory": "65536Ki"},
    }


def test_pod_metrics_list_each_container() -> None:
    pod = {"metadata": {"name": "web", "namespace": "default"}}
    doc = pod_metrics(pod, stats().pod_stats[0], stats())
    assert doc["kind"] == "PodMetrics" and doc["metadata"]["namespace"] == "default"
    assert doc["containers"] == [{"name": "app", "usage": {"cpu": "35500000n", "memory": "65536Ki"}}]


# --- discovery and routes ------------------------------------------------------------------------------


def test_discovery_lists_the_metrics_group_read_only_and_pods_log() -> None:
    groups = {g["name"]: g for g in discovery.api_group_list()["groups"]}
    metrics = discovery.api_resource_list("metrics.k8s.io", "v1beta1")
    core = discovery.api_resource_list("", "v1")
    assert metrics is not None and core is not None
    assert groups["metrics.k8s.io"]["preferredVersion"]["version"] == "v1beta1"
    assert {(r["name"], r["kind"], tuple(r["verbs"])) for r in metrics["resources"]} == {
        ("nodes", "NodeMetrics", ("get", "list")),
        ("pods", "PodMetrics", ("get", "list")),
    }
    log = next(r for r in core["resources"] if r["name"] == "pods/log")
    assert (log["kind"], log["verbs"]) == ("Pod", ["get"])


def test_aggregated_discovery_lists_the_metrics_group() -> None:
    items = {item["metadata"]["name"]: item for item in discovery.aggregated(core=False)["items"]}
    resources = items["metrics.k8s.io"]["versions"][0]["resources"]
    assert {r["resource"]: r["verbs"] for r in resources} == {
        "nodes": ["get", "list"],
        "pods": ["get", "list"],
    }


def test_openapi_describes_no_writes_on_metrics() -> None:
    document = openapi.group_version_document("metrics.k8s.io", "v1beta1")
    assert document is not None and "apis/metrics.k8s.io/v1beta1" in openapi.index()["paths"]
    assert {verb for ops in document["paths"].values() for verb in ops} == {"get"}


@pytest.mark.parametrize(
    ("path", "rt", "verb"),
    [
        ("/apis/metrics.k8s.io/v1beta1/nodes", NODE_METRICS, "list"),
        ("/apis/metrics.k8s.io/v1beta1/nodes/worker-1", NODE_METRICS, "get"),
        ("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", POD_METRICS, "list"),
        ("/apis/metrics.k8s.io/v1beta1/pods", POD_METRICS, "list"),
    ],
)
def test_metrics_paths_route_to_get_and_list(path: str, rt: object, verb: str) -> None:
    r = route_for("GET", parse_path(path), False)
    assert (r.rt, r.verb) == (rt, verb)


def test_core_pods_keep_their_subresources_beside_metrics_pods() -> None:
    r = route_for("GET", parse_path("/api/v1/namespaces/default/pods/web/log"), False)
    assert (r.rt.group, r.rt.plural, r.verb) == ("", "pods", "log")


@pytest.mark.parametrize(
    ("method", "watch"), [("PUT", False), ("DELETE", False), ("POST", False), ("GET", True)]
)
def test_metrics_take_no_writes_and_no_watch(method: str, watch: bool) -> None:
    with pytest.raises(ApiError) as refused:
        route_for(method, parse_path("/apis/metrics.k8s.io/v1beta1/nodes/worker-1"), watch)
    assert refused.value.code == 405


# --- kubenats top ----------------------------------------------------------------------------------------


def node(name: str, cpu: str = "2", memory: str = "4Gi") -> Object:
    return {"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "memory": memory}}}


def test_node_rows_show_percentages_of_allocatable_and_unknown_without_metrics() -> None:
    metrics = [{"metadata": {"name": "a"}, "usage": {"cpu": "250000000n", "memory": "1048576Ki"}}]
    rows = node_rows([node("a"), node("b")], metrics)
    assert rows == [["a", "250m", "12%", "1024Mi", "25%"], ["b", *["<unknown>"] * 4]]


@pytest.mark.parametrize(
    ("used", "available", "shown"), [("999m", "1", "99%"), ("1", "1", "100%"), ("1", None, "<unknown>")]
)
def test_percent_rounds_down_as_kubectl(used: str, available: str | None, shown: str) -> None:
    assert percent(used, available) == shown


def pod_doc(name: str, *containers: tuple[str, str, str]) -> Object:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "containers": [{"name": c, "usage": {"cpu": cpu, "memory": mem}} for c, cpu, mem in containers],
    }


def test_pod_rows_sum_containers_or_show_each_one() -> None:
    doc = pod_doc("web", ("app", "10000000n", "2048Ki"), ("side", "5000000n", "1024Ki"))
    assert pod_rows([doc], namespaces=False, containers=False) == [["web", "15m", "3Mi"]]
    assert pod_rows([doc], namespaces=True, containers=True) == [
        ["ns", "web", "app", "10m", "2Mi"],
        ["ns", "web", "side", "5m", "1Mi"],
    ]
    assert pod_header(namespaces=True, containers=True) == [
        "NAMESPACE",
        "POD",
        "NAME",
        "CPU(cores)",
        "MEMORY(bytes)",
    ]


def test_columns_are_padded_three_spaces_apart() -> None:
    assert aligned([["NAME", "CPU(cores)"], ["worker-1", "5m"]]) == ["NAME       CPU(cores)", "worker-1   5m"]
