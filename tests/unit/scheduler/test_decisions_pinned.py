"""Scheduling decisions on seeded synthetic clusters are pinned: a checksum of every placement and every
FailedScheduling message, recorded before the scheduler's hot paths were optimised. Any change to a
filter, a score, the normalisation, the node sampling or the tie-breaking changes the checksum."""

from __future__ import annotations

import pytest

from services.scheduler.nodeinfo import PodInfo

from .synthetic import checksum, default_framework, load_cache, replay, synthetic_cluster


@pytest.mark.parametrize(
    ("nodes", "pods", "seed", "failures", "expected"),
    [
        # 50 nodes, 200 pods: every pod fits; spread, affinity, taints and scores decide where.
        (50, 200, 7, 0, "7da8a7baf1c403851b63dc5e29aaa7ada5e2e5691a77b5d8a2be723b1c562b5d"),
        # 12 nodes, 500 pods: the cluster fills up, so the FailedScheduling messages are pinned too.
        (12, 500, 5, 225, "4055412d352aeb9f8b1a16cea69653a0e9cfb7b78eb92d6bdf62a395ec5e86e1"),
        # 1,000 nodes: percentageOfNodesToScore (42 %) and the rotating start node take part.
        (1000, 300, 11, 0, "077aa1eb8e4daffaad769d33e8111ae12623c135ceebbcd18acf4c82bd7bfbfc"),
    ],
)
def test_decisions_on_a_seeded_cluster_match_the_recorded_checksum(
    nodes: int, pods: int, seed: int, failures: int, expected: str
) -> None:
    node_objs, pod_objs = synthetic_cluster(nodes, pods, seed)
    lines = replay(default_framework(seed), load_cache(node_objs), [PodInfo.of(obj) for obj in pod_objs])
    assert sum(" !! " in line for line in lines) == failures
    assert checksum(lines) == expected
