"""The partition state that ``chaos.network.partition`` and ``chaos.reset`` set: parsing and reachability."""

from __future__ import annotations

import json

import pytest

from shared import subjects
from shared.cluster.natsperms import program_permissions
from shared.partition import PartitionError, PartitionState, parse_partition
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


def test_an_etcd_member_may_subscribe_to_the_partition_and_reset_subjects() -> None:
    permissions = program_permissions(Placement(host="cp-1", role="control-plane", component="etcd"))
    assert may_subscribe(permissions, subjects.chaos_network_partition())
    assert may_subscribe(permissions, subjects.chaos_reset())
