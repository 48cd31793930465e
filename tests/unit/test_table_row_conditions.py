"""Row conditions in server-side Tables: finished pods carry ``Completed``, as kube-apiserver sets it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.apiserver.rest.tables import as_table, event_as_table, pod_row_conditions

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _pod(name: str, phase: str | None) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    if phase is not None:
        pod["status"] = {"phase": phase}
    return pod


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (
            "Succeeded",
            [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "The pod has completed successfully.",
                }
            ],
        ),
        (
            "Failed",
            [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}],
        ),
        ("Running", []),
        ("Pending", []),
        ("Unknown", []),
        (None, []),
    ],
)
def test_only_finished_pods_get_the_completed_condition(phase: str | None, expected: list[Any]) -> None:
    assert pod_row_conditions(_pod("p", phase)) == expected


def test_list_table_rows_carry_conditions_only_where_set() -> None:
    items = [_pod("done", "Succeeded"), _pod("broken", "Failed"), _pod("up", "Running")]
    pods = {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": items}

    rows = as_table("pods", pods, NOW)["rows"]

    assert [row["cells"][0] for row in rows] == ["done", "broken", "up"]
    assert [row.get("conditions", [{}])[0].get("reason") for row in rows] == ["Succeeded", "Failed", None]
    assert "conditions" not in rows[2]  # omitted, not empty, as Kubernetes' TableRow omits it


def test_watch_event_rows_carry_conditions_too() -> None:
    event = {"type": "MODIFIED", "object": _pod("done", "Succeeded")}

    row = event_as_table("pods", event, NOW, True, "Metadata")["object"]["rows"][0]

    assert row["conditions"][0]["type"] == "Completed"


def test_other_resources_have_no_row_conditions() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "status": {"phase": "Succeeded"}}
    assert "conditions" not in as_table("nodes", node, NOW)["rows"][0]
