"""The kubelet's events: Kubernetes' messages, and how repeats fold into one event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from services.kubelet import events as ev
from services.kubelet.__main__ import KubeletFlags
from shared.apiclient import ApiClient
from shared.clock import VirtualClock

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
WEB = ev.Involved("Pod", "shop", "web-0", "uid-1", ev.container_path("web"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.0004, "0s"),
        (0.523, "523ms"),
        (1.0, "1s"),
        (1.2, "1.2s"),
        (15.9815, "15.981s"),
        (65.25, "1m5.25s"),
        (3600.0, "1h0m0s"),
        (3723.5, "1h2m3.5s"),
    ],
)
def test_durations_print_as_go_prints_them_truncated_to_milliseconds(seconds: float, text: str) -> None:
    assert ev.go_duration(seconds) == text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (ev.pulling_message("nginx:1.27"), 'Pulling image "nginx:1.27"'),
        (
            ev.pulled_message("nginx:1.27", 1.2, 72_000_000),
            'Successfully pulled image "nginx:1.27" in 1.2s (1.2s including waiting). '
            "Image size: 72000000 bytes.",
        ),
        (
            ev.present_message("nginx:1.27"),
            'Container image "nginx:1.27" already present on machine and can be accessed by the pod',
        ),
        (
            ev.probe_failed_message("liveness", "HTTP probe failed"),
            "Liveness probe failed: HTTP probe failed",
        ),
        (ev.probe_failed_message("readiness", "no answer"), "Readiness probe failed: no answer"),
        (ev.probe_kill_message("web", "liveness"), "Container web failed liveness probe, will be restarted"),
        (ev.stopping_message("web"), "Stopping container web"),
        (
            ev.backoff_message("web", "web-0", "shop", "uid-1"),
            "Back-off restarting failed container web in pod web-0_shop(uid-1)",
        ),
        (ev.node_status_message("worker-1", True), "Node worker-1 status is now: NodeReady"),
        (ev.node_status_message("worker-1", False), "Node worker-1 status is now: NodeNotReady"),
    ],
)
def test_messages_are_the_kubelets(message: str, expected: str) -> None:
    assert message == expected


@pytest.mark.parametrize(
    ("name", "init", "path"),
    [("web", False, "spec.containers{web}"), ("setup", True, "spec.initContainers{setup}")],
)
def test_a_container_is_named_by_its_field_path(name: str, init: bool, path: str) -> None:
    assert ev.container_path(name, init) == path


def test_a_first_event_is_a_create_with_count_one_from_the_kubelet() -> None:
    write = ev.EventCorrelator("worker-1").observe(WEB, ev.NORMAL, "Created", "Container created", T0)
    body = write.body
    assert write.create
    assert body["metadata"]["namespace"] == "shop"
    assert body["metadata"]["name"].startswith("web-0.")
    assert body["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": "shop",
        "name": "web-0",
        "uid": "uid-1",
        "fieldPath": "spec.containers{web}",
    }
    assert (body["reason"], body["message"], body["type"], body["count"]) == (
        "Created",
        "Container created",
        "Normal",
        1,
    )
    assert body["source"] == {"component": "kubelet", "host": "worker-1"}
    assert (body["reportingComponent"], body["reportingInstance"]) == ("kubelet", "worker-1")
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-01-01T12:00:00Z"


def test_a_repeat_bumps_count_and_last_timestamp_of_the_same_event() -> None:
    correlator = ev.EventCorrelator("worker-1")
    message = ev.backoff_message("web", "web-0", "shop", "uid-1")
    first = correlator.observe(WEB, ev.WARNING, "BackOff", message, T0)
    writes = [
        correlator.observe(WEB, ev.WARNING, "BackOff", message, T0 + timedelta(seconds=s)) for s in (10, 30)
    ]
    assert [w.create for w in writes] == [False, False]
    assert [w.body["count"] for w in writes] == [2, 3]
    assert {w.body["metadata"]["name"] for w in writes} == {first.body["metadata"]["name"]}
    assert writes[-1].body["firstTimestamp"] == "2026-01-01T12:00:00Z"
    assert writes[-1].body["lastTimestamp"] == "2026-01-01T12:00:30Z"


@pytest.mark.parametrize(
    "other",
    [
        (WEB, ev.WARNING, "Unhealthy", "Liveness probe failed: no"),
        (WEB, ev.NORMAL, "Unhealthy", "Readiness probe failed: no"),
        (
            ev.Involved("Pod", "shop", "web-0", "uid-1", "spec.containers{side}"),
            *(ev.WARNING, "Unhealthy"),
            "Readiness probe failed: no",
        ),
        (
            ev.Involved("Pod", "shop", "web-0", "uid-2", "spec.containers{web}"),
            *(ev.WARNING, "Unhealthy"),
            "Readiness probe failed: no",
        ),
    ],
)
def test_events_differing_in_anything_start_their_own_series(other: tuple[Any, ...]) -> None:
    correlator = ev.EventCorrelator("worker-1")
    first = correlator.observe(WEB, ev.WARNING, "Unhealthy", "Readiness probe failed: no", T0)
    involved, event_type, reason, message = other
    second = correlator.observe(involved, event_type, reason, message, T0)
    assert second.create
    assert second.body["metadata"]["name"] != first.body["metadata"]["name"]


def test_names_of_one_kubelets_events_sort_in_recording_order_within_one_instant() -> None:
    correlator = ev.EventCorrelator("worker-1")
    reasons = ["Pulling", "Pulled", "Created", "Started"]
    names = [correlator.observe(WEB, ev.NORMAL, r, r, T0).body["metadata"]["name"] for r in reasons]
    assert sorted(names) == names and len(set(names)) == 4


def test_the_least_recently_seen_series_is_forgotten_first() -> None:
    correlator = ev.EventCorrelator("worker-1", remembered=2)
    for reason in ("A", "B"):
        correlator.observe(WEB, ev.NORMAL, reason, reason, T0)
    assert not correlator.observe(WEB, ev.NORMAL, "A", "A", T0).create  # A is now the most recent
    correlator.observe(WEB, ev.NORMAL, "C", "C", T0)  # evicts B
    assert correlator.observe(WEB, ev.NORMAL, "B", "B", T0).create
    assert not correlator.observe(WEB, ev.NORMAL, "C", "C", T0).create


def test_a_node_event_lives_in_default_and_names_the_node() -> None:
    node = ev.Involved("Node", "", "worker-1", "worker-1")
    body = ev.EventCorrelator("worker-1").observe(node, ev.NORMAL, "Starting", "Starting kubelet.", T0).body
    assert body["metadata"]["namespace"] == "default"
    assert body["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Node",
        "name": "worker-1",
        "uid": "worker-1",
    }


def test_a_long_message_is_cut_to_the_api_limit() -> None:
    write = ev.EventCorrelator("worker-1").observe(WEB, ev.WARNING, "Unhealthy", "x" * 5000, T0)
    assert len(write.body["message"]) == ev.MAX_MESSAGE and write.body["message"].endswith("...")


def test_an_event_while_cut_off_from_the_api_is_dropped_without_a_writer() -> None:
    recorder = ev.EventRecorder(cast(ApiClient, None), "worker-1", VirtualClock(T0), can_send=lambda: False)
    recorder.event(WEB, ev.NORMAL, "Started", "Container started")
    assert recorder.dropped == 1
    assert recorder._writer is None


@pytest.mark.parametrize(
    ("node", "nodes", "node_events"),
    [("worker-1", "", True), ("", "worker-{1..200}", False), ("", "worker-{1..1}", False)],
)
def test_only_a_kubelet_of_one_real_node_records_node_events(
    node: str, nodes: str, node_events: bool
) -> None:
    flags = KubeletFlags(node=node, nodes=nodes, token_file=Path("tokens.csv"))
    assert flags.options().node_events is node_events
