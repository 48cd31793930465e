"""The ``partition`` action: what an experiment file may write, and the chaos message it resolves to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from shared.experiments import ExperimentError, parse_experiment
from shared.experiments.action_specs import Chaos, Partition
from shared.experiments.partitions import resolve_groups
from shared.experiments.targets import TargetError

MEMBERS = ["cp-1", "cp-2", "cp-3"]


def with_method(*method: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "split",
        "steady_state": {"probes": [{"type": "etcd-has-leader"}]},
        "method": list(method),
    }


def test_a_partition_action_parses_and_describes_itself() -> None:
    parsed = parse_experiment(
        with_method(
            {"type": "partition", "groups": [["etcd-leader"], ["rest"]]},
            {"type": "chaos", "reset": True},
        )
    )
    partition, reset = parsed.method
    assert partition == Partition(type="partition", groups=[["etcd-leader"], ["rest"]])
    assert partition.disruptive and isinstance(reset, Chaos)
    assert partition.describe() == "partition etcd-leader | rest"


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([["cp-1"]], "at least 2 items"),
        ([["cp-1"], []], "at least one replica"),
        ([["the leader"], ["rest"]], "is not a replica name"),
        ([["cp-1", "rest"], ["rest"]], "rest may appear once"),
        ("cp-1", "valid list"),
    ],
)
def test_a_bad_partition_action_fails_with_the_field(groups: Any, message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        parse_experiment(with_method({"type": "partition", "groups": groups}))


@pytest.mark.parametrize(
    ("groups", "replicas", "members", "resolved"),
    [
        ([["etcd-leader"], ["rest"]], {"etcd-leader": "cp-2"}, MEMBERS, [["cp-2"], ["cp-1", "cp-3"]]),
        ([["cp-1"], ["cp-2", "cp-3"]], {}, MEMBERS, [["cp-1"], ["cp-2", "cp-3"]]),
        ([["rest"], ["cp-3"]], {}, MEMBERS, [["cp-1", "cp-2"], ["cp-3"]]),
        (  # a role and its replica named together count once
            [["etcd-leader", "cp-1"], ["rest"]],
            {"etcd-leader": "cp-1"},
            MEMBERS,
            [["cp-1"], ["cp-2", "cp-3"]],
        ),
        (  # the scheduler leader cut off with the etcd leader
            [["etcd-leader", "scheduler-leader"], ["rest"]],
            {"etcd-leader": "cp-1", "scheduler-leader": "cp-3"},
            MEMBERS,
            [["cp-1", "cp-3"], ["cp-2"]],
        ),
    ],
)
def test_roles_and_rest_resolve_to_replicas(
    groups: list[list[str]], replicas: Mapping[str, str], members: Sequence[str], resolved: list[list[str]]
) -> None:
    assert resolve_groups(groups, replicas, members).groups == resolved


@pytest.mark.parametrize(
    ("groups", "replicas", "message"),
    [
        ([["etcd-leader"], ["cp-2"]], {"etcd-leader": "cp-2"}, "more than one group"),
        (
            [["etcd-leader"], ["scheduler-leader"]],
            {"etcd-leader": "cp-1", "scheduler-leader": "cp-1"},
            "more",
        ),
        ([["cp-1", "cp-2", "cp-3"], ["rest"]], {}, "names no replica"),
    ],
)
def test_groups_that_resolve_to_no_partition_are_an_error(
    groups: list[list[str]], replicas: Mapping[str, str], message: str
) -> None:
    with pytest.raises(TargetError, match=message):
        resolve_groups(groups, replicas, MEMBERS)
