"""kubectl's table columns, one definition for ``kubenats get`` and the API server's server-side Tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.apiserver.rest.tables import as_table
from shared.cli.get import format_table
from shared.models.registry import RESOURCES
from shared.tables import human_duration, pod_status, table_for

NOW = datetime(2026, 1, 1, tzinfo=UTC)
Object = dict[str, Any]


def _ago(seconds: int) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (130, "2m10s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (50 * 3600, "2d2h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (400 * 86400, "400d"),
        (800 * 86400, "2y70d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_ages_are_humanised_as_kubectl_shows_them(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def _pod(*containers: Object, **status: Any) -> Object:
    return {
        "metadata": {"name": "p", "creationTimestamp": _ago(300)},
        "spec": {"containers": [{"name": f"c{i}"} for i in range(len(containers))]},
        "status": {"containerStatuses": list(containers), **status},
    }


RUNNING = {"ready": True, "state": {"running": {}}}


@pytest.mark.parametrize(
    ("pod", "shown"),
    [
        (_pod({"state": {"terminated": {"exitCode": 137, "signal": 9}}}, phase="Failed"), "Signal:9"),
        (_pod({"state": {"terminated": {"exitCode": 2}}}, phase="Failed"), "ExitCode:2"),
        (
            _pod(RUNNING, {"state": {"terminated": {"reason": "Completed"}}}, phase="Running"),
            "NotReady",
        ),
        (
            _pod(
                RUNNING,
                {"state": {"terminated": {"reason": "Completed"}}},
                phase="Running",
                conditions=[{"type": "Ready", "status": "True"}],
            ),
            "Running",
        ),
        (
            {
                "metadata": {"name": "p", "deletionTimestamp": _ago(1)},
                "status": {"phase": "Running", "reason": "NodeLost"},
            },
            "Unknown",
        ),
        (
            {
                "spec": {"initContainers": [{"name": "a"}, {"name": "b"}]},
                "status": {
                    "phase": "Pending",
                    "initContainerStatuses": [{"state": {"terminated": {"exitCode": 0}}}, {"state": {}}],
                },
            },
            "Init:1/2",
        ),
    ],
)
def test_pod_status_reads_as_kubectls_printer(pod: Object, shown: str) -> None:
    assert pod_status(pod) == shown


def test_restarts_say_how_long_ago_the_last_one_was() -> None:
    restarted = {"ready": True, "restartCount": 2, "lastState": {"terminated": {"finishedAt": _ago(90)}}}
    cells = table_for("pods").cells(_pod(restarted, RUNNING), NOW)
    assert cells[3] == "2 (90s ago)"


def test_readiness_gates_count_those_passed() -> None:
    pod = _pod(RUNNING, conditions=[{"type": "example.com/a", "status": "True"}])
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]
    assert table_for("pods").cells(pod, NOW)[8] == "1/2"


def test_node_roles_are_sorted_and_unique() -> None:
    labels = {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/a": ""}
    labels["kubernetes.io/role"] = "b"
    assert table_for("nodes").cells({"metadata": {"name": "n", "labels": labels}}, NOW)[2] == "a,b,worker"


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ({"key": "k", "operator": "In", "values": ["x", "y"]}, "app=web,k in (x,y)"),
        ({"key": "k", "operator": "NotIn", "values": ["x"]}, "app=web,k notin (x)"),
        ({"key": "k", "operator": "Exists"}, "app=web,k"),
        ({"key": "k", "operator": "DoesNotExist"}, "app=web,!k"),
    ],
)
def test_workload_selectors_read_as_label_selectors(expression: Object, shown: str) -> None:
    selector = {"matchLabels": {"app": "web"}, "matchExpressions": [expression]}
    deployment = {"metadata": {"name": "d"}, "spec": {"selector": selector}}
    assert table_for("deployments").cells(deployment, NOW)[-1] == shown


@pytest.mark.parametrize(
    ("spec", "ingress", "shown"),
    [
        ({"type": "ClusterIP"}, [{"ip": "9.9.9.9"}], "<none>"),
        ({"type": "LoadBalancer"}, [], "<pending>"),
        ({"type": "LoadBalancer", "externalIPs": ["5.5.5.5"]}, [{"ip": "9.9.9.9"}], "9.9.9.9,5.5.5.5"),
        ({"type": "ExternalName", "externalName": "db.example"}, [], "db.example"),
    ],
)
def test_service_external_ip_follows_the_service_type(
    spec: Object, ingress: list[Object], shown: str
) -> None:
    service = {"metadata": {"name": "s"}, "spec": spec, "status": {"loadBalancer": {"ingress": ingress}}}
    assert table_for("services").cells(service, NOW)[3] == shown


def test_event_message_comes_after_subobject_and_source_as_kubectl_orders_them() -> None:
    names = [c.name for c in table_for("events").columns]
    assert names.index("Subobject") < names.index("Source") < names.index("Message")
    event = {"message": "  pulled\n", "source": {"host": "n1"}, "reportingComponent": "kubelet"}
    cells = dict(zip(names, table_for("events").cells(event, NOW), strict=True))
    assert (cells["Message"], cells["Source"], cells["Count"]) == ("pulled", "kubelet, n1", 1)


def _cells_under(header: str, titles: list[str], line: str) -> list[str]:
    starts: list[int] = []
    for title in titles:
        starts.append(header.index(title, starts[-1] + 1 if starts else 0))
    ends = [*starts[1:], len(line)]
    return [line[start:end].strip() for start, end in zip(starts, ends, strict=True)]


@pytest.mark.parametrize("rt", RESOURCES, ids=lambda rt: rt.plural)
def test_cli_table_and_server_table_show_the_same_columns_and_cells(rt: Any) -> None:
    obj = {"metadata": {"name": "x", "namespace": "default", "creationTimestamp": _ago(4000)}}
    served = as_table(rt.plural, {"kind": f"{rt.kind}List", "metadata": {}, "items": [obj]}, NOW)
    header, line = format_table(rt, [obj], NOW, wide=True, namespaces=False, header=True)
    titles = [c["name"].upper() for c in served["columnDefinitions"]]
    assert header.split() == " ".join(titles).split()
    assert _cells_under(header, titles, line) == [str(cell) for cell in served["rows"][0]["cells"]]
