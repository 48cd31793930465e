"""How a local etcd cluster for tests is shaped: its size or its member names, never both."""

from __future__ import annotations

import pytest

from services.etcd.local_cluster import LocalEtcdCluster, member_names


@pytest.mark.parametrize(
    ("size", "names", "expected"),
    [
        (None, None, ("e1", "e2", "e3")),
        (5, None, ("e1", "e2", "e3", "e4", "e5")),
        (1, None, ("e1",)),
        (None, ("cp-1", "cp-2"), ("cp-1", "cp-2")),
    ],
)
def test_members_are_named_after_the_size_or_as_listed(
    size: int | None, names: tuple[str, ...] | None, expected: tuple[str, ...]
) -> None:
    assert member_names(size, names) == expected


@pytest.mark.parametrize(
    ("size", "names"), [(3, ("cp-1", "cp-2", "cp-3")), (1, ("a", "b")), (0, None), (None, ())]
)
def test_a_size_beside_names_or_no_member_at_all_is_refused(
    size: int | None, names: tuple[str, ...] | None
) -> None:
    with pytest.raises(ValueError):
        member_names(size, names)


def test_the_cluster_refuses_a_size_beside_names_before_it_starts_anything() -> None:
    with pytest.raises(ValueError, match="not both"):
        LocalEtcdCluster(5, names=("cp-1", "cp-2", "cp-3"))
