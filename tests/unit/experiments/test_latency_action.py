"""The ``latency`` action: what an experiment file may write and how it describes itself."""

from __future__ import annotations

from typing import Any

import pytest

from shared.experiments import ExperimentError, parse_experiment
from shared.experiments.action_specs import Latency


def with_method(*method: dict[str, Any]) -> dict[str, Any]:
    return {"name": "slow", "steady_state": {"probes": [{"type": "etcd-has-leader"}]}, "method": list(method)}


def test_a_latency_action_parses_and_describes_itself() -> None:
    parsed = parse_experiment(
        with_method(
            {"type": "latency", "replicas": ["etcd-leader", "cp-3"], "delay_ms": 100, "jitter_ms": 20}
        )
    )
    (latency,) = parsed.method
    assert latency == Latency(type="latency", replicas=["etcd-leader", "cp-3"], delay_ms=100, jitter_ms=20)
    assert latency.disruptive
    assert latency.describe() == "add 100 ± 20 ms latency to etcd-leader, cp-3"


def test_jitter_defaults_to_none() -> None:
    (latency,) = parse_experiment(
        with_method({"type": "latency", "replicas": ["cp-1"], "delay_ms": 50})
    ).method
    assert isinstance(latency, Latency) and latency.jitter_ms == 0
    assert latency.describe() == "add 50 ms latency to cp-1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"replicas": [], "delay_ms": 50}, "at least 1 item"),
        ({"replicas": ["the leader"], "delay_ms": 50}, "is not a replica name"),
        ({"replicas": ["cp-1"], "delay_ms": 0}, "greater than 0"),
        ({"replicas": ["cp-1"], "delay_ms": 120_000}, "less than or equal"),
        ({"replicas": ["cp-1"], "delay_ms": 50, "jitter_ms": 80}, "jitter_ms may not exceed"),
        ({"replicas": ["cp-1"]}, "delay_ms"),
        ({"replicas": ["cp-1"], "delay_ms": 50, "loss": 0.5}, "loss"),
    ],
)
def test_a_bad_latency_action_fails_with_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        parse_experiment(with_method({"type": "latency", **fields}))
