"""The scheduling queue: priority order, back-off, and unschedulable pods moved only by helpful events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.scheduler.framework import ClusterEvent
from services.scheduler.queue import SchedulingQueue
from tests.builders import make_pod

from .helpers import pod_info


class ManualClock:
    """Time moves only when a test sets it; the queue's pure methods never sleep."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("unit tests do not sleep")


EVENTS = {
    "NodeResourcesFit": frozenset(
        {ClusterEvent.NODE_ADD, ClusterEvent.NODE_ALLOCATABLE, ClusterEvent.POD_DELETE}
    ),
    "TaintToleration": frozenset({ClusterEvent.NODE_ADD, ClusterEvent.NODE_TAINT}),
}


def queue(clock: ManualClock) -> SchedulingQueue:
    def events_for(plugins: set[str]) -> frozenset[ClusterEvent]:
        return frozenset().union(*(EVENTS[p] for p in plugins))

    return SchedulingQueue(clock, events_for=events_for)


def pod(name: str, priority: int = 0):  # type: ignore[no-untyped-def]
    return pod_info(make_pod().name(name).priority(priority))


def drain(q: SchedulingQueue) -> list[str]:
    out = []
    while (queued := q.pop_nowait()) is not None:
        out.append(queued.pod.name)
    return out


def test_active_queue_orders_by_priority_then_age() -> None:
    clock = ManualClock()
    q = queue(clock)
    for name, priority in [("low-old", 0), ("high", 10), ("low-new", 0), ("mid", 5)]:
        q.add(pod(name, priority))
        clock.t += 1
    assert drain(q) == ["high", "mid", "low-old", "low-new"]


def test_adding_a_queued_pod_again_does_not_duplicate_it() -> None:
    q = queue(ManualClock())
    q.add(pod("a"))
    q.add(pod("a"))
    assert drain(q) == ["a"]


@pytest.mark.parametrize(
    ("attempts", "backoff"), [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]
)
def test_backoff_doubles_from_one_second_to_ten(attempts: int, backoff: float) -> None:
    assert queue(ManualClock()).backoff_duration(attempts) == backoff


def test_failed_pod_waits_out_its_backoff() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add(pod("a"))
    first = q.pop_nowait()
    assert first is not None
    q.add_backoff(first)
    assert q.pending()["backoff"] == 1
    clock.t = 0.9
    q.flush(clock.t)
    assert drain(q) == []
    assert q.next_deadline() == 1.0
    clock.t = 1.0
    q.flush(clock.t)
    second = q.pop_nowait()
    assert second is not None and second.attempts == 2
    q.add_backoff(second)
    clock.t = 2.5
    q.flush(clock.t)
    assert drain(q) == []
    clock.t = 3.0
    q.flush(clock.t)
    assert drain(q) == ["a"]


def test_unschedulable_pod_moves_only_on_an_event_that_may_help() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add(pod("a"))
    queued = q.pop_nowait()
    assert queued is not None
    q.add_unschedulable(queued, {"TaintToleration"})
    assert q.pending()["unschedulable"] == 1
    assert q.move_on_event(ClusterEvent.POD_DELETE) == 0
    assert q.move_on_event(ClusterEvent.NODE_TAINT) == 1
    # Still within its 1 s back-off: it waits there, then becomes active.
    assert q.pending() == {"active": 0, "backoff": 1, "unschedulable": 0, "in_flight": 0}
    clock.t = 1.0
    q.flush(clock.t)
    assert drain(q) == ["a"]


def test_event_after_the_backoff_moves_the_pod_straight_to_active() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add(pod("a"))
    queued = q.pop_nowait()
    assert queued is not None
    q.add_unschedulable(queued, {"NodeResourcesFit"})
    clock.t = 30
    q.flush(clock.t)
    assert drain(q) == []
    q.move_on_event(ClusterEvent.NODE_ADD)
    assert drain(q) == ["a"]


def test_event_during_the_attempt_sends_the_pod_to_backoff_not_unschedulable() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add(pod("a"))
    queued = q.pop_nowait()
    assert queued is not None
    q.move_on_event(ClusterEvent.NODE_ADD)  # arrives while "a" is being scheduled
    q.add_unschedulable(queued, {"NodeResourcesFit"})
    assert q.pending()["unschedulable"] == 0
    assert q.pending()["backoff"] == 1


def test_pod_unschedulable_for_five_minutes_is_retried_anyway() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add(pod("a"))
    queued = q.pop_nowait()
    assert queued is not None
    q.add_unschedulable(queued, {"TaintToleration"})
    assert q.next_deadline() == 300.0
    clock.t = 299
    q.flush(clock.t)
    assert drain(q) == []
    clock.t = 300
    q.flush(clock.t)
    assert drain(q) == ["a"]


def test_deleted_or_bound_pods_leave_the_queue_and_are_not_requeued() -> None:
    q = queue(ManualClock())
    q.add(pod("a"))
    q.add(pod("b"))
    q.delete("default/a")
    queued = q.pop_nowait()
    assert queued is not None and queued.pod.name == "b"
    q.delete("default/b")  # bound by someone else while in flight
    q.add_unschedulable(queued, {"NodeResourcesFit"})
    assert "default/b" not in q
    assert drain(q) == []


def test_updating_an_unschedulable_pod_retries_it() -> None:
    clock = ManualClock()
    q = queue(clock)
    q.add(pod("a"))
    queued = q.pop_nowait()
    assert queued is not None
    q.add_unschedulable(queued, {"TaintToleration"})
    clock.t = 5
    q.update(pod_info(make_pod().name("a").toleration("x", operator="Exists")))
    popped = q.pop_nowait()
    assert popped is not None and popped.pod.tolerations[0].key == "x"
