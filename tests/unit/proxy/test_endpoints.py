"""Endpoint choice: same-node ready endpoints first, remote as fallback, Local policy, least in flight."""

from __future__ import annotations

from typing import Any

import pytest

from services.proxy.endpoints import NoEndpointsError, ServiceTable


def service(
    name: str = "db", local: bool = False, ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": ports or [{"port": 80, "targetPort": 8080}]}
    if local:
        spec["internalTrafficPolicy"] = "Local"
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def endpoint(ip: str, node: str, ready: bool | None = True, terminating: bool = False) -> dict[str, Any]:
    return {
        "addresses": [ip],
        "nodeName": node,
        "conditions": {"ready": ready, "terminating": terminating},
        "targetRef": {"kind": "Pod", "name": f"pod-{ip}"},
    }


def endpoint_slice(*endpoints: dict[str, Any], name: str = "db-abc", port_name: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": 8080}],
        "endpoints": list(endpoints),
    }


def table(*endpoints: dict[str, Any], local: bool = False) -> ServiceTable:
    t = ServiceTable("worker-1")
    t.set_service(service(local=local))
    t.set_slice(endpoint_slice(*endpoints))
    return t


def test_local_ready_endpoint_is_always_chosen() -> None:
    t = table(endpoint("10.0.1.1", "worker-1"), endpoint("10.0.2.1", "worker-2"))
    assert {t.pick("default", "db").ip for _ in range(10)} == {"10.0.1.1"}


def test_remote_endpoints_take_over_when_no_local_one_is_ready() -> None:
    t = table(endpoint("10.0.1.1", "worker-1", ready=False), endpoint("10.0.2.1", "worker-2"))
    assert t.pick("default", "db").ip == "10.0.2.1"


def test_unknown_readiness_counts_as_ready() -> None:
    t = table(endpoint("10.0.2.1", "worker-2", ready=None))
    assert t.pick("default", "db").port == 8080


def test_local_policy_never_goes_remote() -> None:
    t = table(endpoint("10.0.2.1", "worker-2"), local=True)
    with pytest.raises(NoEndpointsError, match="internalTrafficPolicy Local"):
        t.pick("default", "db")


def test_equals_share_the_load_in_turn() -> None:
    t = table(endpoint("10.0.2.1", "worker-2"), endpoint("10.0.3.1", "worker-3"))
    assert {t.pick("default", "db").ip for _ in range(4)} == {"10.0.2.1", "10.0.3.1"}


def test_busiest_endpoint_is_avoided() -> None:
    t = table(endpoint("10.0.2.1", "worker-2"), endpoint("10.0.3.1", "worker-3"))
    busy = t.pick("default", "db")
    t.started(busy)
    assert all(t.pick("default", "db") != busy for _ in range(3))
    t.finished(busy)
    assert not t.in_flight


def test_terminating_endpoints_are_a_last_resort() -> None:
    t = table(endpoint("10.0.2.1", "worker-2", terminating=True), endpoint("10.0.3.1", "worker-3"))
    assert t.pick("default", "db").ip == "10.0.3.1"
    only = table(endpoint("10.0.2.1", "worker-2", terminating=True))
    assert only.pick("default", "db").ip == "10.0.2.1"


def test_dropped_slice_removes_its_endpoints() -> None:
    t = table(endpoint("10.0.2.1", "worker-2"))
    t.remove_slice(endpoint_slice())
    with pytest.raises(NoEndpointsError, match="no endpoints available"):
        t.pick("default", "db")


def test_named_port_selects_the_slice_port_of_that_name() -> None:
    t = ServiceTable("worker-1")
    t.set_service(service(ports=[{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]))
    t.set_slice(endpoint_slice(endpoint("10.0.1.1", "worker-1"), port_name="metrics"))
    assert t.pick("default", "db", "metrics").port == 8080
    with pytest.raises(NoEndpointsError):
        t.pick("default", "db", "http")
    with pytest.raises(NoEndpointsError, match='no port "grpc"'):
        t.pick("default", "db", "grpc")


def test_unknown_service_is_reported() -> None:
    with pytest.raises(NoEndpointsError, match='service "default/nope" not found'):
        ServiceTable("worker-1").pick("default", "nope")
