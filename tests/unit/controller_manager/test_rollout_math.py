"""Deployment arithmetic: fenceposts, new ReplicaSet size, old scale-down, proportional scaling, hash."""

from __future__ import annotations

from typing import Any

import pytest

from services.controller_manager import deployment_util as du
from services.controller_manager.replicaset import slow_start_sizes

Object = dict[str, Any]


def deployment(
    replicas: int, surge: int | str = "25%", unavailable: int | str = "25%", kind: str = "RollingUpdate"
) -> Object:
    strategy: Object = {"type": kind}
    if kind == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web"}, "spec": {"replicas": replicas, "strategy": strategy}}


def rs(
    name: str,
    replicas: int,
    available: int = 0,
    created: str = "2026-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
) -> Object:
    return {
        "metadata": {"name": name, "creationTimestamp": created, "annotations": annotations or {}},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "availableReplicas": available},
    }


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        ("25%", "25%", 1, (1, 0)),
        (0, 0, 5, (0, 1)),  # never both zero
        ("0%", "0%", 3, (0, 1)),
        (2, "50%", 5, (2, 2)),
        ("30%", "30%", 10, (3, 3)),
        ("1%", "99%", 10, (1, 9)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailable_down(
    surge: int | str, unavailable: int | str, desired: int, expected: tuple[int, int]
) -> None:
    assert du.fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize(
    ("d", "expected_surge", "expected_unavailable"),
    [
        (deployment(10), 3, 2),
        (deployment(0), 0, 0),
        (deployment(3, surge=0, unavailable=5), 0, 3),  # capped at replicas
        (deployment(10, kind="Recreate"), 0, 0),
    ],
)
def test_max_surge_and_unavailable_of_a_deployment(
    d: Object, expected_surge: int, expected_unavailable: int
) -> None:
    assert du.max_surge(d) == expected_surge
    assert du.max_unavailable(d) == expected_unavailable


@pytest.mark.parametrize(
    ("d", "sets", "new_index", "expected"),
    [
        (deployment(10, surge=3), [rs("old", 10, 10), rs("new", 0)], 1, 3),  # up to 13 in total
        (deployment(10, surge=3), [rs("old", 10, 10), rs("new", 3)], 1, 3),  # at the cap already
        (deployment(10, surge=3), [rs("old", 5, 5), rs("new", 3)], 1, 8),
        (deployment(10, surge=3), [rs("old", 0), rs("new", 9)], 1, 10),  # never above replicas
        (deployment(10, kind="Recreate"), [rs("old", 10), rs("new", 0)], 1, 10),
    ],
)
def test_new_replica_set_grows_within_max_surge(
    d: Object, sets: list[Object], new_index: int, expected: int
) -> None:
    assert du.new_rs_replicas(d, sets, sets[new_index]) == expected


def test_old_replica_sets_shrink_only_while_min_available_holds() -> None:
    d = deployment(10, surge=3, unavailable=2)
    old, new = rs("old", 10, 10), rs("new", 3, 0, created="2026-01-02T00:00:00Z")
    assert du.max_scaled_down(d, [old, new], new) == 2  # 13 total, 8 must stay, 3 new unready
    assert du.old_scale_down(d, [old, new], [old]) == [(old, 8)]  # 10 available, 8 needed: 2 may go
    new_ready = rs("new", 3, 3, created="2026-01-02T00:00:00Z")
    old_8 = rs("old", 8, 8)
    assert du.old_scale_down(d, [old_8, new_ready], [old_8]) == [(old_8, 5)]  # 11 available → 3 more go


def stale(name: str, replicas: int, available: int, created: str = "2026-01-01T00:00:00Z") -> Object:
    """A ReplicaSet just scaled to ``replicas`` whose status still counts the pods it is deleting."""
    counts = {"replicas": available, "availableReplicas": available}
    return {**rs(name, replicas, created=created), "status": counts}


@pytest.mark.parametrize(
    ("old", "new_available", "expected"),
    [
        # Scaled 3 → 2, status still shows 3 available: 2 + 7 = 9 stay available, so 1 more may go, not 2.
        (stale("old", 2, 3), 7, [1]),
        # Scaled 10 → 8, status still shows 10: 8 + 0 = 8 is the floor already.
        (stale("old", 8, 10), 0, []),
        # Scaled 8 → 5, status still shows 8: 5 + 3 = 8, nothing more may go.
        (stale("old", 5, 8), 3, []),
        # A status that caught up is taken as it is: 2 + 7 = 9 → 1 may go.
        (rs("old", 2, 2), 7, [1]),
    ],
)
def test_old_scale_down_does_not_count_pods_an_old_replica_set_is_already_deleting(
    old: Object, new_available: int, expected: list[int]
) -> None:
    d = deployment(10, surge=3, unavailable=2)
    new = rs("new", 10, new_available, created="2026-01-02T00:00:00Z")
    assert [size for _, size in du.old_scale_down(d, [old, new], [old])] == expected


def test_a_new_replica_set_scaled_below_its_stale_available_count_has_no_unavailable_pods() -> None:
    d = deployment(10, surge=3, unavailable=2)
    old, new = rs("old", 4, 4), stale("new", 6, 8, created="2026-01-02T00:00:00Z")
    assert du.max_scaled_down(d, [old, new], new) == 2  # 10 in spec, 8 must stay, none of the new unready


def test_unhealthy_old_pods_are_cleaned_up_first_oldest_replica_set_first() -> None:
    older = rs("a", 4, 1, created="2026-01-01T00:00:00Z")
    newer = rs("b", 4, 4, created="2026-01-02T00:00:00Z")
    assert du.unhealthy_cleanup([newer, older], 2) == [(older, 2)]
    assert du.unhealthy_cleanup([newer, older], 5) == [(older, 1)]


def test_proportional_scaling_spreads_new_replicas_by_share() -> None:
    d = deployment(20, surge=0, unavailable=1)
    old = rs("old", 5, created="2026-01-01T00:00:00Z", annotations={du.MAX_REPLICAS: "10"})
    new = rs("new", 5, created="2026-01-02T00:00:00Z", annotations={du.MAX_REPLICAS: "10"})
    assert du.proportional_scale(d, [old, new]) == {"old": 10, "new": 10}
    d_down = deployment(4, surge=0, unavailable=1)
    assert sum(du.proportional_scale(d_down, [old, new]).values()) == 4


def test_template_hash_is_deterministic_ignores_the_hash_label_and_changes_with_the_template() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    labelled = {"metadata": {"labels": {"app": "web", du.HASH_LABEL: "x"}}, "spec": template["spec"]}
    other = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    first = du.template_hash(template)
    assert first == du.template_hash(labelled)
    assert first != du.template_hash(other)
    assert first != du.template_hash(template, collision_count=1)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert du.same_template(labelled, template) and not du.same_template(other, template)


def test_find_new_picks_the_oldest_replica_set_with_the_deployment_template() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    d = {"spec": {"template": template}}
    match_old = {**rs("x", 1, created="2026-01-01T00:00:00Z"), "spec": {"template": template}}
    match_new = {**rs("y", 1, created="2026-01-03T00:00:00Z"), "spec": {"template": template}}
    other = {**rs("z", 1), "spec": {"template": {"metadata": {}, "spec": {}}}}
    assert du.find_new(d, [match_new, other, match_old]) is match_old
    assert du.find_new(d, [other]) is None


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (2, [1, 1]), (10, [1, 2, 4, 3]), (15, [1, 2, 4, 8]), (16, [1, 2, 4, 8, 1])],
)
def test_slow_start_batches_double_from_one(count: int, sizes: list[int]) -> None:
    assert slow_start_sizes(count) == sizes
