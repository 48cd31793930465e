"""Client-side apply's three-way patch, and the table cells kubectl users read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.cli.apply import LAST_APPLIED, last_applied, three_way_patch, with_last_applied
from shared.cli.describe import event_lines
from shared.cli.rollout import rollout_status
from shared.tables import node_status, pod_status, table_for


def test_unchanged_manifest_needs_no_patch_even_with_server_defaults() -> None:
    desired = {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    live = {"spec": {"containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Always"}]}}
    assert three_way_patch(desired, desired, live) == {}


def test_field_dropped_from_the_manifest_is_removed_others_kept() -> None:
    last = {"metadata": {"labels": {"app": "web", "tier": "front"}}}
    desired = {"metadata": {"labels": {"app": "web"}}}
    live = {"metadata": {"labels": {"app": "web", "tier": "front", "added-by": "controller"}}}
    assert three_way_patch(last, desired, live) == {"metadata": {"labels": {"tier": None}}}


def test_changed_list_is_replaced_whole() -> None:
    desired = {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}
    live = {"spec": {"containers": [{"name": "web", "image": "nginx:1", "imagePullPolicy": "Always"}]}}
    assert three_way_patch(desired, desired, live) == desired


def test_last_applied_round_trips_without_nesting_itself() -> None:
    once = with_last_applied({"kind": "Pod", "metadata": {"name": "a"}})
    twice = with_last_applied(once)
    assert LAST_APPLIED not in (last_applied(twice) or {}).get("metadata", {}).get("annotations", {})
    assert last_applied(twice) == {"kind": "Pod", "metadata": {"annotations": {}, "name": "a"}}


def _pod(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}, "status": status}


@pytest.mark.parametrize(
    ("pod", "shown"),
    [
        (_pod(phase="Pending"), "Pending"),
        (_pod(phase="Running", containerStatuses=[{"ready": True, "state": {"running": {}}}]), "Running"),
        (
            _pod(phase="Running", containerStatuses=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
            "CrashLoopBackOff",
        ),
        (
            _pod(phase="Failed", containerStatuses=[{"state": {"terminated": {"reason": "OOMKilled"}}}]),
            "OOMKilled",
        ),
        (_pod(phase="Failed", reason="OutOfcpu"), "OutOfcpu"),
        ({**_pod(phase="Running"), "metadata": {"name": "p", "deletionTimestamp": "x"}}, "Terminating"),
    ],
)
def test_pod_status_column_names_the_most_telling_reason(pod: dict[str, Any], shown: str) -> None:
    assert pod_status(pod) == shown


READY_SHOWN = [("True", "Ready"), ("False", "NotReady"), ("Unknown", "NotReady")]


@pytest.mark.parametrize(("ready", "shown"), READY_SHOWN)
def test_a_node_not_ready_for_whatever_reason_reads_not_ready(ready: str, shown: str) -> None:
    assert node_status({"status": {"conditions": [{"type": "Ready", "status": ready}]}}) == shown
    assert node_status({"status": {}}) == "Unknown"


def test_node_status_shows_cordon() -> None:
    node = {"spec": {"unschedulable": True}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert node_status(node) == "Ready,SchedulingDisabled"


def test_pod_row_has_the_wide_columns_at_priority_one() -> None:
    spec = table_for("pods")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = spec.cells(_pod(phase="Pending"), now)
    assert [c.name for c in spec.columns if c.priority == 0] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert len(row) == len(spec.columns)


def _deployment(generation: int = 1, observed: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": observed, **status},
    }


@pytest.mark.parametrize(
    ("deployment", "message", "done"),
    [
        (_deployment(2, 1), "Waiting for deployment spec update to be observed...", False),
        (
            _deployment(updatedReplicas=1, replicas=3),
            'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
            False,
        ),
        (
            _deployment(updatedReplicas=3, replicas=4),
            'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
            False,
        ),
        (
            _deployment(updatedReplicas=3, replicas=3, availableReplicas=2),
            'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
            False,
        ),
        (
            _deployment(updatedReplicas=3, replicas=3, availableReplicas=3),
            'deployment "web" successfully rolled out',
            True,
        ),
    ],
)
def test_rollout_status_reads_as_kubectls(deployment: dict[str, Any], message: str, done: bool) -> None:
    assert rollout_status(deployment) == (message, done)


def test_rollout_past_its_deadline_is_an_error() -> None:
    stuck = _deployment(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}])
    with pytest.raises(ValueError, match="exceeded its progress deadline"):
        rollout_status(stuck)


def test_describe_shows_repeats_and_the_container_an_event_is_about() -> None:
    now = datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)
    event = {
        "type": "Warning",
        "reason": "BackOff",
        "count": 3,
        "firstTimestamp": "2026-01-01T00:00:20Z",
        "lastTimestamp": "2026-01-01T00:00:50Z",
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "source": {"component": "kubelet"},
        "message": "Back-off restarting failed container web",
    }
    line = event_lines([event], now)[-1]
    assert line.split()[:6] == ["Warning", "BackOff", "10s", "(x3", "over", "40s)"]
    assert line.endswith("spec.containers{web}: Back-off restarting failed container web")
