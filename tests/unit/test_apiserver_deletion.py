"""Deletion decisions: graceful pod stops, finalizers, and the finalizers a propagation policy adds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.apiserver.deletion import is_finalized, mark_for_deletion, with_propagation_finalizer

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def obj(kind: str = "ReplicaSet", **meta: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "x", "resourceVersion": "7", **meta}, "spec": {}}


def bound_pod(**meta: Any) -> dict[str, Any]:
    pod = obj("Pod", **meta)
    pod["spec"] = {"nodeName": "worker-1", "terminationGracePeriodSeconds": 30}
    return pod


@pytest.mark.parametrize(
    ("policy", "finalizers"),
    [
        (None, []),
        ("Background", []),
        ("Foreground", ["foregroundDeletion"]),
        ("Orphan", ["orphan"]),
    ],
)
def test_propagation_policy_adds_its_finalizer(policy: str | None, finalizers: list[str]) -> None:
    out = with_propagation_finalizer(obj(), policy)
    assert out["metadata"].get("finalizers", []) == finalizers


def test_propagation_policy_keeps_existing_finalizers_and_does_not_repeat() -> None:
    once = with_propagation_finalizer(obj(finalizers=["example.com/keep"]), "Orphan")
    assert once["metadata"]["finalizers"] == ["example.com/keep", "orphan"]
    assert with_propagation_finalizer(once, "Orphan") is once


def test_an_object_already_being_deleted_keeps_its_first_policy() -> None:
    terminating = obj(deletionTimestamp="2026-01-01T00:00:00Z", finalizers=["orphan"])
    assert with_propagation_finalizer(terminating, "Foreground") is terminating


def test_object_without_finalizers_is_deleted_at_once() -> None:
    assert mark_for_deletion("replicasets", obj(), None, NOW) is None


def test_object_with_a_finalizer_is_marked_and_stays() -> None:
    marked = mark_for_deletion("replicasets", obj(finalizers=["orphan"]), None, NOW)
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:05Z"
    assert not is_finalized(marked)
    marked["metadata"]["finalizers"] = []
    assert is_finalized(marked)


def test_bound_pod_is_given_its_grace_period() -> None:
    marked = mark_for_deletion("pods", bound_pod(), None, NOW)
    assert marked is not None
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:35Z"


def test_unbound_or_finished_pod_is_deleted_at_once() -> None:
    unbound = obj("Pod")
    finished = bound_pod()
    finished["status"] = {"phase": "Succeeded"}
    assert mark_for_deletion("pods", unbound, None, NOW) is None
    assert mark_for_deletion("pods", finished, None, NOW) is None


def test_final_delete_of_a_pod_with_finalizers_waits_for_them_with_grace_zero() -> None:
    terminating = mark_for_deletion("pods", bound_pod(finalizers=["foregroundDeletion"]), None, NOW)
    assert terminating is not None
    final = mark_for_deletion("pods", terminating, 0, NOW)
    assert final is not None
    assert final["metadata"]["deletionGracePeriodSeconds"] == 0
    assert not is_finalized(final)
    final["metadata"]["finalizers"] = []
    assert is_finalized(final)
