"""The REST front's pure parts: paths and methods to routes, query reading, discovery, tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.apiserver.rest import discovery
from services.apiserver.rest.params import accepts_table, read_query
from services.apiserver.rest.paths import parse_path, route_for
from services.apiserver.rest.tables import as_table, event_as_table
from shared.errors import ApiError


@pytest.mark.parametrize(
    ("method", "path", "query_watch", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/pods", False, ("pods", "ns", "", "list")),
        ("GET", "/api/v1/pods", False, ("pods", "", "", "list")),
        ("GET", "/api/v1/namespaces/ns/pods", True, ("pods", "ns", "", "watch")),
        ("GET", "/api/v1/watch/namespaces/ns/pods", False, ("pods", "ns", "", "watch")),
        ("GET", "/api/v1/namespaces/ns/pods/p", False, ("pods", "ns", "p", "get")),
        ("PUT", "/api/v1/namespaces/ns/pods/p/status", False, ("pods", "ns", "p", "status")),
        ("POST", "/api/v1/namespaces/ns/pods/p/eviction", False, ("pods", "ns", "p", "eviction")),
        ("POST", "/api/v1/namespaces/ns/pods", False, ("pods", "ns", "", "create")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            False,
            ("deployments", "ns", "d", "scale"),
        ),
        ("DELETE", "/apis/apps/v1/namespaces/ns/deployments/d", False, ("deployments", "ns", "d", "delete")),
        ("GET", "/api/v1/namespaces/ns", False, ("namespaces", "", "ns", "get")),
        ("PUT", "/api/v1/namespaces/ns/status", False, ("namespaces", "", "ns", "status")),
        ("GET", "/api/v1/nodes/n1", False, ("nodes", "", "n1", "get")),
    ],
)
def test_paths_and_methods_route_to_verbs(
    method: str, path: str, query_watch: bool, expected: tuple[str, str, str, str]
) -> None:
    where = parse_path(path)
    r = route_for(method, where, query_watch)
    assert (r.rt.plural, where.namespace, where.name, r.verb) == expected


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/api/v1/namespaces/ns/widgets", 404),
        ("GET", "/api/v1/namespaces/ns/nodes", 404),
        ("GET", "/api/v1/namespaces/ns/pods/p/exec", 404),
        ("GET", "/apis/apps/v2/deployments", 404),
        ("DELETE", "/api/v1/watch/namespaces/ns/pods", 405),
        ("PUT", "/api/v1/namespaces/ns/pods", 405),
    ],
)
def test_paths_not_served_are_404_and_methods_not_allowed_405(method: str, path: str, code: int) -> None:
    with pytest.raises(ApiError) as info:
        route_for(method, parse_path(path), False)
    assert info.value.code == code


def test_query_parameters_become_the_request_with_dry_run() -> None:
    fields, options = read_query(
        {"labelSelector": "app=web", "limit": "500", "timeout": "32s", "fieldValidation": "Warn"}, watch=False
    )
    assert fields == {"labelSelector": "app=web", "limit": 500, "fieldValidation": "Warn"}
    assert options.field_validation == "Warn"
    assert read_query({"dryRun": "All"}, watch=False)[0] == {"dryRun": ["All"]}


def test_send_initial_events_needs_not_older_than_and_bookmarks() -> None:
    good = {
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
    }
    fields, _ = read_query(good, watch=True)
    assert fields["sendInitialEvents"] is True
    with pytest.raises(ApiError) as info:
        read_query({"sendInitialEvents": "true", "allowWatchBookmarks": "true"}, watch=True)
    assert info.value.code == 422


@pytest.mark.parametrize(
    ("accept", "table"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
            "application/json",
            True,
        ),
        ("application/json", False),
        ("application/vnd.kubernetes.protobuf,application/json", False),
        ("", False),
    ],
)
def test_tables_are_served_when_asked_first(accept: str, table: bool) -> None:
    assert accepts_table(accept) is table


def test_aggregated_discovery_is_recognised_only_in_its_exact_form() -> None:
    assert discovery.wants_aggregated(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    )
    assert not discovery.wants_aggregated("application/json, */*")


def test_discovery_never_lists_an_empty_group_version_and_carries_subresource_kinds() -> None:
    core = discovery.aggregated(core=True)["items"][0]["versions"][0]["resources"]
    pods = next(r for r in core if r["resource"] == "pods")
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    eviction = next(s for s in pods["subresources"] if s["subresource"] == "eviction")
    assert eviction["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    for item in discovery.aggregated(core=False)["items"]:
        assert all(version["resources"] for version in item["versions"])
    legacy = discovery.api_resource_list("apps", "v1")
    assert legacy is not None
    scale = next(r for r in legacy["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert discovery.api_resource_list("policy", "v1") is None


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _pod(**status: Any) -> dict[str, Any]:
    created = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "creationTimestamp": created,
            "resourceVersion": "7",
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "cells"),
    [
        ({"phase": "Pending"}, ["web", "0/2", "Pending", "0", "5m"]),
        (
            {
                "phase": "Running",
                "podIP": "10.0.0.1",
                "containerStatuses": [
                    {"ready": True, "restartCount": 2, "state": {"running": {}}},
                    {"ready": False, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                ],
            },
            ["web", "1/2", "CrashLoopBackOff", "3", "5m"],
        ),
    ],
)
def test_pod_rows_have_kubectls_columns(status: dict[str, Any], cells: list[str]) -> None:
    table = as_table(
        "pods", {"kind": "PodList", "metadata": {"resourceVersion": "9"}, "items": [_pod(**status)]}, NOW
    )
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    row = table["rows"][0]
    assert row["cells"][:5] == cells
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"] == {"resourceVersion": "9"}


def test_watch_events_become_one_row_tables_with_the_header_only_first() -> None:
    first = event_as_table("pods", {"type": "ADDED", "object": _pod(phase="Pending")}, NOW, True, "Metadata")
    later = event_as_table(
        "pods", {"type": "MODIFIED", "object": _pod(phase="Running")}, NOW, False, "Metadata"
    )
    assert first["object"]["columnDefinitions"] and not later["object"]["columnDefinitions"]
    assert later["object"]["rows"][0]["cells"][2] == "Running"
    error = {"type": "ERROR", "object": {"kind": "Status", "code": 410}}
    assert event_as_table("pods", error, NOW, False, "Metadata") == error
