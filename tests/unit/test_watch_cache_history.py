"""How the watch cache turns a change read back from etcd's history into its own event."""

from __future__ import annotations

import json

import pytest

from services.apiserver.watch_cache import selectable_fields
from services.apiserver.watch_cache.history import history_event
from services.apiserver.watch_cache.store import ObjectStore
from services.etcd.client.api import KeyValue, WatchEvent

KEY = "/registry/pods/default/web"
STORE = ObjectStore("/registry/pods/", lambda obj: selectable_fields("pods", obj))


def version(phase: str, created: int, modified: int) -> KeyValue:
    pod = {"metadata": {"name": "web", "namespace": "default"}, "status": {"phase": phase}}
    return KeyValue(KEY, json.dumps(pod), created, modified, modified - created + 1)


def summary(change: WatchEvent) -> tuple[str, int, str, int | None, str | None] | None:
    """``(type, rv, phase after, rv before, phase before)`` of the event, None for no event."""
    event = history_event(STORE, change)
    if event is None:
        return None
    assert event.namespace == "default" and event.key == KEY
    assert event.cur.obj["metadata"]["resourceVersion"] == str(event.rv)
    before = event.prev
    return (
        event.type,
        event.rv,
        event.cur.obj["status"]["phase"],
        before.rv if before else None,
        before.obj["status"]["phase"] if before else None,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            WatchEvent("PUT", version("Pending", 5, 5)), ("ADDED", 5, "Pending", None, None), id="create"
        ),
        pytest.param(
            WatchEvent("PUT", version("Running", 5, 7), prev_kv=version("Pending", 5, 5)),
            ("MODIFIED", 7, "Running", 5, "Pending"),
            id="update-replaces-prev-kv",
        ),
        pytest.param(
            WatchEvent("DELETE", KeyValue(KEY, "", 0, 9, 0), prev_kv=version("Running", 5, 7)),
            ("DELETED", 9, "Running", 7, "Running"),
            id="delete-carries-last-version-at-its-revision",
        ),
        pytest.param(WatchEvent("DELETE", KeyValue(KEY, "", 0, 9, 0)), None, id="delete-without-prev-kv"),
        pytest.param(WatchEvent("PUT", KeyValue(KEY, "not json", 5, 5, 1)), None, id="undecodable"),
    ],
)
def test_a_change_from_history_becomes_the_event_the_cache_would_have_recorded(
    change: WatchEvent, expected: tuple[str, int, str, int | None, str | None] | None
) -> None:
    assert summary(change) == expected
