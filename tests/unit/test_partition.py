"""The partition state that ``chaos.network.partition`` and ``chaos.reset`` set: parsing and reachability."""

from __future__ import annotations

import json
from typing import cast

import pytest
from nats.aio.client import Client

from shared import subjects
from shared.cluster.natsperms import program_permissions
from shared.partition import PartitionError, PartitionState, parse_partition
from shared.reachability import REPLICA_HEADER, Reachability
from shared.topology import Placement
from tests.unit.test_nats_auth import may_subscribe

SPLIT = json.dumps({"groups": [["cp-1"], ["cp-2", "cp-3"]]}).encode()


def split_state(body: bytes = SPLIT) -> PartitionState:
    state = PartitionState()
    state.partition(parse_partition(body))
    return state


@pytest.mark.parametrize(
    ("a", "b", "reachable"),
    [
        ("cp-1", "cp-2", False),
        ("cp-2", "cp-1", False),
        ("cp-1", "cp-3", False),
        ("cp-2", "cp-3", True),
        ("cp-3", "cp-2", True),
        ("cp-1", "cp-1", True),
        ("cp-4", "cp-1", True),  # not named in any group: reaches everyone
        ("cp-2", "cp-4", True),
        ("worker-1", "cp-1", True),
    ],
)
def test_replicas_reach_only_their_own_group(a: str, b: str, reachable: bool) -> None:
    assert split_state().can_reach(a, b) is reachable


def test_a_whole_network_reaches_everyone() -> None:
    state = PartitionState()
    assert not state.partitioned
    assert state.can_reach("cp-1", "cp-2")


def test_reset_heals_the_partition() -> None:
    state = split_state()
    assert state.partitioned and not state.can_reach("cp-1", "cp-2")
    state.reset()
    assert not state.partitioned and state.can_reach("cp-1", "cp-2")
    assert state.groups() == []


def test_a_new_partition_replaces_the_old_one() -> None:
    state = split_state()
    state.partition(parse_partition(json.dumps({"groups": [["cp-3"], ["cp-1", "cp-2"]]}).encode()))
    assert state.can_reach("cp-1", "cp-2")
    assert not state.can_reach("cp-3", "cp-2")
    assert state.groups() == [["cp-3"], ["cp-1", "cp-2"]]


def test_groups_are_reported_sorted_in_message_order() -> None:
    state = split_state(json.dumps({"groups": [["b", "a"], ["c"]]}).encode())
    assert state.groups() == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"", "valid dictionary"),  # chaos.reset's empty body is not a partition
        (b"{not json", "not JSON"),
        (b"\xff", "not JSON"),
        (json.dumps({}).encode(), "groups"),
        (json.dumps({"groups": []}).encode(), "groups"),
        (json.dumps({"groups": [[]]}).encode(), "at least one replica"),
        (json.dumps({"groups": [["cp-1"], ["cp-1", "cp-2"]]}).encode(), "more than one group"),
        (json.dumps({"groups": [["cp.1"]]}).encode(), "subject token"),
        (json.dumps({"groups": [["cp-1"]], "extra": 1}).encode(), "extra"),
        (json.dumps({"groups": "cp-1"}).encode(), "groups"),
    ],
)
def test_a_body_that_is_no_partition_is_refused_with_the_reason(body: bytes, complaint: str) -> None:
    with pytest.raises(PartitionError, match=complaint):
        parse_partition(body)


@pytest.mark.parametrize("component", ["etcd", "apiserver", "scheduler", "controller-manager", "kubelet"])
def test_every_control_plane_component_may_subscribe_to_the_partition_and_reset_subjects(
    component: str,
) -> None:
    permissions = program_permissions(Placement(host="cp-1", role="control-plane", component=component))
    assert may_subscribe(permissions, subjects.chaos_network_partition())
    assert may_subscribe(permissions, subjects.chaos_reset())


@pytest.mark.parametrize(
    ("name", "group"),
    [("cp-1", ["cp-1"]), ("cp-3", ["cp-2", "cp-3"]), ("cp-4", None), ("worker-1", None)],
)
def test_the_group_of_a_replica_is_its_side_of_the_partition(name: str, group: list[str] | None) -> None:
    assert split_state().group_of(name) == group
    assert PartitionState().group_of(name) is None  # a whole network has no sides


# --- one replica's view (shared.reachability), without the bus ----------------------------------------


def view(replica: str, body: bytes | None = SPLIT) -> Reachability:
    reachability = Reachability(cast(Client, None), replica)  # the connection is only for subscribing
    if body is not None:
        reachability.state.partition(parse_partition(body))
    return reachability


@pytest.mark.parametrize(
    ("replica", "targets"),
    [
        ("cp-1", ["cp-1"]),
        ("cp-3", ["cp-3", "cp-2"]),  # its own replica first, then the rest of its side
        ("cp-4", []),  # named in no group: the queue group reaches everyone it may reach
    ],
)
def test_a_partitioned_replica_addresses_only_its_own_side(replica: str, targets: list[str]) -> None:
    assert view(replica).targets() == targets
    assert view(replica).partitioned is bool(targets)
    assert view(replica, None).targets() == []


@pytest.mark.parametrize(
    ("headers", "admitted"),
    [
        ({REPLICA_HEADER: "cp-3"}, True),
        ({REPLICA_HEADER: "cp-1"}, False),
        ({REPLICA_HEADER.lower(): "cp-1"}, False),  # NATS keeps the sender's spelling of the name
        ({}, True),  # kubectl, the CLI, a worker: no replica, not partitioned away
        ({REPLICA_HEADER: "worker-1"}, True),
    ],
)
def test_a_replica_admits_requests_only_from_its_side(headers: dict[str, str], admitted: bool) -> None:
    assert view("cp-2").admits(headers) is admitted
    assert view("cp-2", None).admits(headers) is True


def test_listeners_hear_only_of_changes_to_their_own_side() -> None:
    reachability = view("cp-1", None)
    heard: list[str] = []
    reachability.on_change(lambda: heard.append("moved"))
    reachability.partition(parse_partition(SPLIT))  # cp-1 cut off: its clients must move
    reachability.partition(parse_partition(SPLIT))  # the same again: nothing to do
    reachability.partition(parse_partition(json.dumps({"groups": [["cp-1"], ["cp-2"]]}).encode()))
    assert heard == ["moved"]  # cp-3 left the other side; cp-1's side is the same
    reachability.heal()
    reachability.heal()  # already whole
    assert heard == ["moved", "moved"]


def test_a_removed_listener_hears_nothing() -> None:
    reachability = view("cp-1", None)
    heard: list[str] = []

    def listener() -> None:
        heard.append("moved")

    reachability.on_change(listener)
    reachability.remove_listener(listener)
    reachability.remove_listener(listener)  # twice is harmless
    reachability.partition(parse_partition(SPLIT))
    assert heard == []
