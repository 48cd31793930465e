"""Pod deletion ranking, expectations, endpoint slicing, eviction timing and deployment conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.controller_manager import deployment_status as ds
from services.controller_manager import slicing
from services.controller_manager import taints as tr
from services.controller_manager.expectations import Expectations
from services.controller_manager.node_lifecycle import unknown_conditions
from services.controller_manager.podgc import oldest_terminated
from services.controller_manager.ranking import pods_to_delete
from shared.models.timestamps import format_time

Object = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def pod(
    name: str,
    node: str = "n1",
    phase: str = "Running",
    ready: bool = True,
    created: int = 0,
    restarts: int = 0,
    ready_for: int = 100,
    ip: str = "",
    labels: dict[str, str] | None = None,
) -> Object:
    conditions = [
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "lastTransitionTime": format_time(NOW - timedelta(seconds=ready_for)),
        }
    ]
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels or {"app": "web"},
            "creationTimestamp": format_time(NOW + timedelta(seconds=created)),
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}],
        },
        "status": {
            "phase": phase,
            "podIP": ip,
            "conditions": conditions,
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


@pytest.mark.parametrize(
    ("victim", "survivor", "why"),
    [
        (pod("a", node=""), pod("b"), "unscheduled before scheduled"),
        (pod("a", phase="Pending"), pod("b"), "pending before running"),
        (pod("a", phase="Unknown"), pod("b"), "unknown before running"),
        (pod("a", ready=False), pod("b"), "not ready before ready"),
        (pod("a", ready_for=5), pod("b", ready_for=500), "ready shorter before ready longer"),
        (pod("a", restarts=3), pod("b"), "more restarts first"),
        (pod("a", created=10), pod("b", created=0), "newer first"),
    ],
)
def test_scale_down_deletes_pods_in_kubernetes_order(victim: Object, survivor: Object, why: str) -> None:
    assert pods_to_delete([survivor, victim], [survivor, victim], 1) == [victim], why


def test_pods_doubled_up_on_a_node_go_before_lonely_ones() -> None:
    crowded, lonely = pod("a", node="n1"), pod("b", node="n2")
    related = [crowded, lonely, pod("c", node="n1"), pod("d", node="n1")]
    assert pods_to_delete([lonely, crowded], related, 1) == [crowded]


def test_expectations_block_until_every_creation_and_deletion_is_observed() -> None:
    now = [0.0]
    expectations = Expectations(lambda: now[0], timeout=300)
    assert expectations.satisfied("ns/rs")
    expectations.expect_creations("ns/rs", 2)
    expectations.creation_observed("ns/rs")
    assert not expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")
    assert expectations.satisfied("ns/rs")
    expectations.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    for _ in range(2):
        expectations.deletion_observed("ns/rs", "ns/a")  # seen twice, counted once
    assert expectations.pending("ns/rs") == (0, 1)
    now[0] = 301.0
    assert expectations.satisfied("ns/rs"), "an expired record no longer blocks"


def service(target: int | str = "http", publish: bool = False) -> Object:
    return {
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "web", "port": 80, "targetPort": target}],
            "publishNotReadyAddresses": publish,
        }
    }


def test_desired_endpoints_resolve_named_ports_and_skip_pods_without_ip_or_finished() -> None:
    pods = [
        pod("a", ip="10.0.0.1"),
        pod("b", ip="10.0.0.2", ready=False),
        pod("c"),  # no IP yet
        pod("d", ip="10.0.0.4", phase="Succeeded"),
        pod("e", ip="10.0.0.5", labels={"app": "other"}),
    ]
    ((ports, endpoints),) = slicing.desired_endpoints(service(), pods).values()
    assert ports == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert [(e["targetRef"]["name"], e["conditions"]["ready"]) for e in endpoints] == [
        ("a", True),
        ("b", False),
    ]
    assert endpoints[0]["nodeName"] == "n1"


def test_pods_resolving_to_different_ports_go_to_different_slices() -> None:
    other = pod("b", ip="10.0.0.2")
    other["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 9090}]
    groups = slicing.desired_endpoints(service(), [pod("a", ip="10.0.0.1"), other])
    assert sorted(p[0]["port"] for p, _ in groups.values()) == [8080, 9090]


def test_slices_hold_at_most_the_maximum_and_keep_endpoints_where_they_are() -> None:
    pods = [pod(f"p{n:03}", ip=f"10.0.{n // 250}.{n % 250 + 1}") for n in range(250)]
    desired = slicing.desired_endpoints(service(), pods)
    first = slicing.plan([], desired, 100)
    assert [len(e) for _, e in first.create] == [100, 100, 50]
    existing = [
        {"metadata": {"name": f"s{i}"}, "ports": ports, "endpoints": endpoints}
        for i, (ports, endpoints) in enumerate(first.create)
    ]
    assert slicing.plan(existing, desired, 100).empty
    fewer = slicing.desired_endpoints(service(), pods[1:])
    again = slicing.plan(existing, fewer, 100)
    assert (
        [s["metadata"]["name"] for s, _, _ in again.update] == ["s0"]
        and not again.create
        and not again.delete
    )


def test_a_service_without_endpoints_keeps_one_empty_placeholder_slice() -> None:
    assert slicing.plan([], {}, 100).create == [([], [])]
    existing = [
        {"metadata": {"name": "s0"}, "ports": [{"port": 1}], "endpoints": [{"addresses": ["10.0.0.1"]}]}
    ]
    result = slicing.plan(existing, {}, 100)
    assert [s["metadata"]["name"] for s, _, _ in result.update] == ["s0"] and not result.delete


UNREACHABLE = {"key": tr.UNREACHABLE, "effect": "NoExecute", "timeAdded": format_time(NOW)}


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        ([], NOW + timedelta(seconds=30)),  # no toleration at all: at once (now is 30 s after the taint)
        (
            [{"key": tr.UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            NOW + timedelta(seconds=300),
        ),
        ([{"key": tr.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}], None),  # forever
        ([{"operator": "Exists"}], None),  # tolerates everything
        (
            [{"key": tr.NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}],
            NOW + timedelta(seconds=30),
        ),
        (
            [
                {"key": tr.UNREACHABLE, "operator": "Exists", "tolerationSeconds": 5},
                {"key": tr.UNREACHABLE, "operator": "Exists", "tolerationSeconds": 9},
            ],
            NOW + timedelta(seconds=5),
        ),
    ],
)
def test_eviction_time_counts_toleration_seconds_from_when_the_taint_was_added(
    tolerations: list[Object], expected: datetime | None
) -> None:
    assert tr.eviction_time(tolerations, [UNREACHABLE], NOW + timedelta(seconds=30)) == expected


@pytest.mark.parametrize(
    ("ready", "taint"),
    [("True", None), ("False", tr.NOT_READY), ("Unknown", tr.UNREACHABLE), (None, tr.UNREACHABLE)],
)
def test_ready_condition_decides_the_health_taint(ready: str | None, taint: str | None) -> None:
    assert tr.wanted_health_taint(ready) == taint


def test_health_taints_are_swapped_and_removed_other_taints_kept() -> None:
    dedicated = {"key": "dedicated", "effect": "NoSchedule"}
    swapped = tr.with_health_taint(
        [dedicated, {"key": tr.NOT_READY, "effect": "NoExecute"}], tr.UNREACHABLE, "t"
    )
    assert swapped == [
        dedicated,
        {"key": tr.UNREACHABLE, "effect": "NoSchedule", "timeAdded": "t"},
        {"key": tr.UNREACHABLE, "effect": "NoExecute", "timeAdded": "t"},
    ]
    assert tr.with_health_taint(swapped, tr.UNREACHABLE, "t2") is None
    assert tr.with_health_taint(swapped, None, "t") == [dedicated]


def test_a_missing_effect_is_added_and_the_eviction_clock_kept() -> None:
    only_no_execute = [{"key": tr.UNREACHABLE, "effect": "NoExecute", "timeAdded": "t0"}]
    assert tr.with_health_taint(only_no_execute, tr.UNREACHABLE, "t1") == [
        {"key": tr.UNREACHABLE, "effect": "NoSchedule", "timeAdded": "t1"},
        {"key": tr.UNREACHABLE, "effect": "NoExecute", "timeAdded": "t0"},
    ]


def test_eviction_rate_limiter_allows_one_node_then_one_per_ten_seconds() -> None:
    bucket = tr.TokenBucket(0.1, 1, now=0.0)
    assert bucket.take(0.0) and not bucket.take(5.0) and bucket.take(10.0) and not bucket.take(10.0)


def test_lost_node_conditions_all_become_unknown_once() -> None:
    node = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]
        }
    }
    conditions = unknown_conditions(node, "t")
    assert conditions is not None
    assert {c["type"]: (c["status"], c["reason"]) for c in conditions}["Ready"] == (
        "Unknown",
        "NodeStatusUnknown",
    )
    assert all(c["status"] == "Unknown" for c in conditions) and len(conditions) == 4
    assert unknown_conditions({"status": {"conditions": conditions}}, "t2") is None


def test_terminated_pods_beyond_the_threshold_go_oldest_first() -> None:
    pods = [pod(f"p{n}", phase="Succeeded", created=n) for n in range(5)] + [pod("live")]
    assert [p["metadata"]["name"] for p in oldest_terminated(pods, 3)] == ["p0", "p1"]
    assert oldest_terminated(pods, 0) == []


def rollout(replicas: int, generation: int = 1, status: Object | None = None) -> Object:
    return {
        "metadata": {"generation": generation},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 60,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        },
        "status": status or {},
    }


def rs_status(name: str, replicas: int, available: int) -> Object:
    return {
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": available, "availableReplicas": available},
    }


def test_progressing_condition_moves_from_updated_to_available_or_times_out() -> None:
    d = rollout(3, status={"replicas": 3, "updatedReplicas": 0, "availableReplicas": 3})
    old, new = rs_status("old", 2, 2), rs_status("new", 1, 0)
    status = ds.rollout_status(d, [old, new], new, NOW)
    assert ds.get_condition(status, "Progressing")["reason"] == "ReplicaSetUpdated"  # type: ignore[index]
    stalled = rollout(3, status=status)
    late = NOW + timedelta(seconds=61)
    timed_out = ds.rollout_status(stalled, [old, new], new, late)
    cond = ds.get_condition(timed_out, "Progressing")
    assert cond is not None and (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    done = ds.rollout_status(stalled, [rs_status("new", 3, 3)], rs_status("new", 3, 3), late)
    cond = ds.get_condition(done, "Progressing")
    assert cond is not None and cond["reason"] == "NewReplicaSetAvailable"
    assert ds.get_condition(done, "Available")["status"] == "True"  # type: ignore[index]
