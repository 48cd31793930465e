"""Every component of the default topology does its work within its NATS permissions (issue 10).

Run after other e2e modules on the same cluster, this also covers the traffic they caused: the servers log
each refused publish or subscription, and each component logs each one it was refused.
"""

from __future__ import annotations

import pytest

from shared.topology import NATS
from tests.clusters import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REFUSALS = ("Publish Violation", "Subscription Violation", "permissions violation")


def test_no_component_was_refused_a_publish_or_a_subscription(cluster: Cluster) -> None:
    placements = cluster.topology.placements()
    assert {p.component for p in placements} >= {"kubelet", "runtime", "proxy", "scheduler", NATS}
    for program in [p.program for p in placements]:
        text = cluster.paths.program_log(program).read_text()
        refused = [line for line in text.splitlines() if any(r.lower() in line.lower() for r in REFUSALS)]
        assert refused == [], f"{program}: {refused[:5]}"
    servers = [cluster.paths.program_log(f"{r.name}-{NATS}") for r in cluster.topology.replicas]
    assert all("Server is ready" in log.read_text() for log in servers)  # the servers' logs were read
