"""The added latency that ``chaos.network.latency`` and ``chaos.reset`` set: parsing and per-link delays."""

from __future__ import annotations

import json

import pytest

from shared import subjects
from shared.cluster.natsperms import program_permissions
from shared.netchaos import LatencyError, LatencyState, parse_latency
from shared.topology import Placement
from tests.unit.test_nats_auth import may_subscribe

SLOW_CP1 = json.dumps({"delay_ms": 50, "jitter_ms": 10, "replicas": ["cp-1"]}).encode()


def slowed(body: bytes = SLOW_CP1, jitter: float = 0.0) -> LatencyState:
    state = LatencyState(uniform=lambda low, high: jitter)
    state.add(parse_latency(body))
    return state


@pytest.mark.parametrize(
    ("sender", "receiver", "seconds"),
    [
        ("cp-1", "cp-2", 0.05),  # from the slowed replica
        ("cp-2", "cp-1", 0.05),  # to it
        ("cp-2", "cp-3", 0.0),  # between two others
        ("cp-1", "cp-1", 0.0),  # to itself
        ("worker-1", "cp-1", 0.05),
    ],
)
def test_messages_to_and_from_a_slowed_replica_are_delayed(
    sender: str, receiver: str, seconds: float
) -> None:
    assert slowed().delay(sender, receiver) == pytest.approx(seconds)


@pytest.mark.parametrize(("jitter", "seconds"), [(10.0, 0.06), (-10.0, 0.04), (0.0, 0.05)])
def test_jitter_moves_the_delay_within_its_range(jitter: float, seconds: float) -> None:
    assert slowed(jitter=jitter).delay("cp-1", "cp-2") == pytest.approx(seconds)


def test_jitter_is_drawn_between_minus_and_plus_its_size() -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return 0.0

    state = LatencyState(uniform=uniform)
    state.add(parse_latency(SLOW_CP1))
    state.delay("cp-1", "cp-2")
    assert drawn == [(-10, 10)]


def test_no_latency_until_added_and_none_after_reset() -> None:
    state = LatencyState()
    assert not state.active and state.delay("cp-1", "cp-2") == 0.0
    state = slowed()
    assert state.active
    state.reset()
    assert not state.active and state.spec is None and state.delay("cp-1", "cp-2") == 0.0


def test_a_new_latency_replaces_the_current_one() -> None:
    state = slowed()
    state.add(parse_latency(json.dumps({"delay_ms": 200, "replicas": ["cp-2"]}).encode()))
    assert state.delay("cp-1", "cp-3") == 0.0
    assert state.delay("cp-3", "cp-2") == pytest.approx(0.2)


def test_a_zero_delay_is_no_latency() -> None:
    state = slowed(json.dumps({"delay_ms": 0, "replicas": ["cp-1"]}).encode())
    assert not state.active and state.delay("cp-1", "cp-2") == 0.0


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"", "body"),
        (b"not json", "not JSON"),
        (b'{"replicas": ["cp-1"]}', "delay_ms"),
        (b'{"delay_ms": 50}', "replicas"),
        (b'{"delay_ms": 50, "replicas": []}', "replicas"),
        (b'{"delay_ms": -1, "replicas": ["cp-1"]}', "delay_ms"),
        (b'{"delay_ms": 600000, "replicas": ["cp-1"]}', "delay_ms"),
        (b'{"delay_ms": 50, "jitter_ms": 60, "replicas": ["cp-1"]}', "jitter_ms may not exceed"),
        (b'{"delay_ms": 50, "replicas": ["cp-1", "cp-1"]}', "named twice"),
        (b'{"delay_ms": 50, "replicas": ["cp 1"]}', "replicas"),
        (b'{"delay_ms": 50, "replicas": ["cp-1"], "loss": 0.1}', "loss"),
    ],
)
def test_a_body_that_is_no_latency_is_refused_with_the_reason(body: bytes, complaint: str) -> None:
    with pytest.raises(LatencyError, match=complaint):
        parse_latency(body)


def test_an_etcd_member_may_subscribe_to_the_latency_subject() -> None:
    permissions = program_permissions(Placement(host="cp-1", role="control-plane", component="etcd"))
    assert may_subscribe(permissions, subjects.chaos_network_latency())
