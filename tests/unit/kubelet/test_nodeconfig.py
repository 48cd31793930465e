"""Node name patterns, labels, taints, derived addresses and token-file lookup."""

from __future__ import annotations

import pytest

from services.kubelet.nodeconfig import (
    NodeConfig,
    default_node_ip,
    default_pod_cidr,
    expand_names,
    parse_labels,
    parse_taints,
    token_for,
)
from shared.models import Quantity


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("worker-1", ["worker-1"]),
        ("worker-{1..3}", ["worker-1", "worker-2", "worker-3"]),
        ("n{01..03}", ["n01", "n02", "n03"]),
        ("edge-{a,b}", ["edge-a", "edge-b"]),
        ("n{1..2}-{x,y}", ["n1-x", "n1-y", "n2-x", "n2-y"]),
        ("a-{1..2},b", ["a-1", "a-2", "b"]),
        ("w-{3..1}", ["w-3", "w-2", "w-1"]),
        ("w-{1..2},w-2", ["w-1", "w-2"]),
    ],
)
def test_brace_patterns_expand_to_node_names(pattern: str, names: list[str]) -> None:
    assert expand_names(pattern) == names


def test_five_hundred_hollow_nodes_expand_in_order() -> None:
    names = expand_names("worker-{1..500}")
    assert len(names) == 500 and names[0] == "worker-1" and names[-1] == "worker-500"


@pytest.mark.parametrize(
    "pattern", ["worker-{1..3", "worker-}", "Worker-1", "", "w-{1..2}_x", "w-{1..200000}"]
)
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        expand_names(pattern)


def test_labels_parse_and_bad_ones_are_refused() -> None:
    assert parse_labels("zone=a, disk=ssd") == {"zone": "a", "disk": "ssd"}
    assert parse_labels("") == {}
    for bad in ("zone", "=a", "zone=a b"):
        with pytest.raises(ValueError):
            parse_labels(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dedicated=gpu:NoSchedule", [("dedicated", "gpu", "NoSchedule")]),
        ("spot:PreferNoSchedule,x=y:NoExecute", [("spot", "", "PreferNoSchedule"), ("x", "y", "NoExecute")]),
    ],
)
def test_taints_parse(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(t.key, t.value, t.effect) for t in parse_taints(text)] == expected


@pytest.mark.parametrize("bad", ["dedicated=gpu", "a:Sometimes", ":NoSchedule"])
def test_bad_taints_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_taints(bad)


@pytest.mark.parametrize(
    ("name", "cidr", "ip"),
    [
        ("worker-1", "10.244.1.0/24", "172.18.0.2"),
        ("worker-255", "10.244.255.0/24", "172.18.1.0"),
        ("worker-300", "10.245.44.0/24", "172.18.1.45"),
    ],
)
def test_pod_cidr_and_node_ip_derive_from_the_trailing_number(name: str, cidr: str, ip: str) -> None:
    assert default_pod_cidr(name) == cidr
    assert default_node_ip(name) == ip


def test_names_without_digits_get_a_stable_cidr() -> None:
    assert default_pod_cidr("edge") == default_pod_cidr("edge")


def test_allocatable_is_capacity_minus_reserved() -> None:
    config = NodeConfig("w", Quantity("4"), Quantity("8Gi"), 110, Quantity("100m"), Quantity("1Gi"))
    allocatable = config.allocatable()
    assert allocatable["cpu"] == Quantity("3900m")
    assert allocatable["memory"] == Quantity("7Gi")
    assert allocatable["pods"] == Quantity("110")
    assert config.all_labels()["node-role.kubernetes.io/worker"] == ""
    assert config.all_labels()["kubernetes.io/hostname"] == "w"


TOKENS = """# token,user,uid,groups
tok-admin,admin,1,"system:masters"
tok-w1,system:node:worker-1,uid-w1,system:nodes
tok-fake,system:node:worker-2,uid-w2,"not-nodes"
"""


def test_token_of_the_node_user_is_found() -> None:
    assert token_for(TOKENS, "worker-1") == "tok-w1"


@pytest.mark.parametrize("node", ["worker-2", "worker-3", "admin"])
def test_token_lookup_needs_the_node_user_in_the_nodes_group(node: str) -> None:
    with pytest.raises(KeyError):
        token_for(TOKENS, node)
