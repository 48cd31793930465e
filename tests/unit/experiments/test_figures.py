"""Recovery figures from a recording with the fault at t=0: detection, recovery, write gaps, errors,
latency percentiles and the availability bins the plot draws."""

from __future__ import annotations

import pytest

from shared.experiments.figures import (
    availability_series,
    client_recovered_at,
    compute_figures,
    detected_at,
    max_write_gap,
    percentile,
    steady_state_restored_at,
)
from shared.experiments.records import Event, OpKind, OpRecord, ProbeRound, Recording


def op(kind: OpKind, start: float, end: float, ok: bool = True) -> OpRecord:
    return OpRecord(kind=kind, start=start, end=end, ok=ok, error="" if ok else "504 timeout")


def rounds(*pairs: tuple[float, bool]) -> list[ProbeRound]:
    return [ProbeRound(at=at, ok=ok) for at, ok in pairs]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 0.99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.99, 4.0),
        ([3.0, 1.0, 2.0], 0.0, 1.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_detection_is_the_first_reaction_after_the_fault_not_an_action_or_an_earlier_one() -> None:
    events = [
        Event(at=-1.0, source="etcd", text="etcd leader cp-1", reaction=True),
        Event(at=0.0, source="action", text="kill cp-1-etcd"),
        Event(at=0.2, source="process", text="cp-1-etcd STARTING"),
        Event(at=0.7, source="etcd", text="etcd leader cp-2", reaction=True),
    ]
    assert detected_at(events) == 0.7
    assert detected_at(events[:3]) is None


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([op("write", 0.1, 0.2)], 3.0),  # nothing failed: recovered at the heal point
        ([op("write", 0.0, 1.0, ok=False), op("write", 1.0, 1.1)], 1.1),
        ([op("write", 0.0, 1.0, ok=False), op("read", 0.5, 0.9), op("read", 1.0, 1.2)], 1.2),
        ([op("write", 0.0, 1.0, ok=False)], None),  # never succeeded again
        ([op("write", -2.0, -1.0, ok=False), op("write", -1.0, -0.9)], 3.0),  # a failure before the fault
    ],
)
def test_clients_recover_with_the_first_success_after_their_last_failure(
    ops: list[OpRecord], expected: float | None
) -> None:
    assert client_recovered_at(ops, heal_at=3.0) == expected


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (rounds((0.5, False), (1.5, True)), 1.0),  # failing only before the heal point
        (rounds((1.5, False), (2.0, False), (2.5, True), (3.0, True)), 2.5),
        (
            rounds((1.5, False), (2.0, True), (2.5, False), (3.0, True)),
            3.0,
        ),  # flapping: the last failure counts
        (rounds((1.5, False)), None),
        ([], 1.0),
    ],
)
def test_the_steady_state_is_restored_at_the_first_passing_round_after_the_last_failing_one(
    recorded: list[ProbeRound], expected: float | None
) -> None:
    assert steady_state_restored_at(recorded, heal_at=1.0) == expected


def test_the_longest_write_gap_counts_from_the_fault_to_the_end_of_the_load() -> None:
    writes = [
        op("write", -0.5, -0.4),
        op("write", 0.0, 0.1),
        op("write", 0.1, 2.0, ok=False),
        op("write", 2.0, 2.5),
    ]
    assert max_write_gap(writes, load_end=3.0) == pytest.approx(2.4)
    assert max_write_gap([op("write", 0.0, 1.0, ok=False)], load_end=4.0) == 4.0
    assert max_write_gap([op("read", 0.0, 0.1)], load_end=4.0) is None


def test_figures_combine_client_and_probe_recovery_measured_from_the_heal_point() -> None:
    ops = [
        op("write", -1.0, -0.99),
        op("write", 0.01, 1.01, ok=False),
        op("write", 1.01, 1.02),
        op("read", 0.0, 0.5, ok=False),
        op("read", 0.6, 0.61),
    ]
    events = [Event(at=0.3, source="etcd", text="etcd has no leader", reaction=True)]
    figures = compute_figures(ops, events, rounds((0.5, False), (2.0, True)), heal_at=0.01, load_end=3.0)
    assert figures.time_to_detect == 0.3
    assert figures.recovered_at == 2.0  # the probes came back after the clients did
    assert figures.time_to_recover == pytest.approx(1.99)
    assert figures.first_write_after_fault == 1.02
    assert figures.client_errors == 2
    assert figures.errors_by_kind == {"write": 1, "read": 1}
    assert figures.operations == {"write": 3, "read": 2}
    assert figures.max_write_gap == pytest.approx(1.98)


def test_figures_are_unrecovered_when_the_probes_never_pass_again() -> None:
    figures = compute_figures([op("write", 0.0, 0.1)], [], rounds((1.0, False)), heal_at=0.5, load_end=2.0)
    assert figures.recovered_at is None and figures.time_to_recover is None


def test_availability_bins_count_successes_and_failures_by_completion_time() -> None:
    ops = [
        op("write", 0.0, 0.1),
        op("write", 0.1, 0.4, ok=False),
        op("write", 0.4, 0.6),
        op("read", 0.0, 0.2),
    ]
    bins = availability_series(ops, width=0.5)
    assert [(b.kind, b.start, b.ok, b.failed) for b in bins] == [
        ("read", 0.0, 1, 0),
        ("write", 0.0, 1, 1),
        ("write", 0.5, 1, 0),
    ]
    assert bins[1].availability == 0.5
    assert bins[1].latency_p50_ms == pytest.approx(100.0)
    with pytest.raises(ValueError, match="positive"):
        availability_series(ops, width=0)


def test_a_recording_shifted_to_the_fault_keeps_every_record_in_time_order() -> None:
    recording = Recording()
    recording.event("etcd", "late", at=105.0)
    recording.event("action", "kill", at=100.0)
    recording.round(101.0, False, ["etcd-has-leader"])
    recording.ops.append(op("write", 99.0, 99.5))
    shifted = recording.relative_to(100.0)
    assert [(e.at, e.text) for e in shifted.events] == [(0.0, "kill"), (5.0, "late")]
    assert shifted.rounds[0].at == 1.0 and shifted.rounds[0].failing == ["etcd-has-leader"]
    assert (shifted.ops[0].start, shifted.ops[0].end) == (-1.0, -0.5)
