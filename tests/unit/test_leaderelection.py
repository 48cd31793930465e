"""Leader election on a virtual clock: acquire, renew, lose on renew deadline, take over on expiry, release.

The Lease lives in an in-memory lock with the API server's compare-and-swap semantics (a write names the
version it read); the real lock over the API server is exercised by the scheduler's integration tests.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shared.clock import VirtualClock
from shared.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    LeaseRecord,
    held_by_other,
    next_record,
    released,
    replica_of,
    unique_identity,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2)


class MemoryLock:
    """A Lease held in memory: versions count writes; ``broken`` makes every call fail, like a partition."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.broken = False
        self.writes: list[LeaseRecord] = []

    def _check(self) -> None:
        if self.broken:
            raise ConnectionError("unreachable")

    async def get(self) -> tuple[LeaseRecord, str] | None:
        self._check()
        return None if self.record is None else (self.record, str(self.version))

    async def create(self, record: LeaseRecord) -> bool:
        self._check()
        if self.record is not None:
            return False
        self._write(record)
        return True

    async def update(self, record: LeaseRecord, version: str) -> bool:
        self._check()
        if self.record is None or str(self.version) != version:
            return False
        self._write(record)
        return True

    def _write(self, record: LeaseRecord) -> None:
        self.record, self.version = record, self.version + 1
        self.writes.append(record)

    def describe(self) -> str:
        return "kube-system/test"


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def advance(clock: VirtualClock, seconds: float, step: float = 0.5) -> None:
    """Move time in small steps, letting every woken task run in between."""
    elapsed = 0.0
    while elapsed < seconds:
        await settle()
        await clock.advance(step)
        elapsed += step
    await settle()


class Replica:
    """One elector running ``run`` in a task, recording when it leads."""

    def __init__(self, name: str, lock: MemoryLock, clock: VirtualClock) -> None:
        self.elector = LeaderElector(lock, name, CONFIG, clock=clock, rng=random.Random(name))
        self.stop = asyncio.Event()
        self.leading = False
        self.starts = 0
        self.stops = 0
        self.task: asyncio.Task[bool] | None = None

    async def lead(self) -> None:
        self.leading, self.starts = True, self.starts + 1
        try:
            await asyncio.Event().wait()
        finally:
            self.leading = False

    def stopped(self) -> None:
        self.stops += 1

    def start(self) -> Replica:
        self.task = asyncio.create_task(self.elector.run(self.lead, self.stop, self.stopped))
        return self

    def crash(self) -> None:
        """Gone without a word: no release, no more renewals."""
        assert self.task is not None
        self.task.cancel()


# --- the pure rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holder", "duration", "observed_at", "now", "held"),
    [
        ("", 15, 0, 1, False),
        ("me", 15, 0, 1, False),
        ("other", 15, 0, 14.9, True),
        ("other", 15, 0, 15, False),
        ("other", 15, 10, 20, True),
        ("other", 1, 0, 1.5, False),
    ],
)
def test_lease_is_held_by_another_until_it_has_not_changed_for_its_duration(
    holder: str, duration: int, observed_at: float, now: float, held: bool
) -> None:
    record = LeaseRecord(holder_identity=holder, lease_duration_seconds=duration)
    assert held_by_other(record, "me", observed_at, now) is held


@pytest.mark.parametrize(
    ("current", "transitions", "keeps_acquire_time"),
    [
        (None, 0, False),
        (LeaseRecord("me", 15, T0, T0, 3), 3, True),
        (LeaseRecord("other", 15, T0, T0, 3), 4, False),
        (LeaseRecord("", 1, T0, T0, 3), 4, False),
    ],
)
def test_next_record_counts_transitions_only_when_the_holder_changes(
    current: LeaseRecord | None, transitions: int, keeps_acquire_time: bool
) -> None:
    later = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    record = next_record(current, "me", 15, later)
    assert (record.holder_identity, record.lease_duration_seconds, record.renew_time) == ("me", 15, later)
    assert record.lease_transitions == transitions
    assert record.acquire_time == (T0 if keeps_acquire_time else later)


def test_released_record_names_no_holder() -> None:
    record = released(LeaseRecord("me", 15, T0, T0, 2), T0)
    assert (record.holder_identity, record.lease_transitions) == ("", 2)


@pytest.mark.parametrize(
    ("durations", "message"),
    [
        ((10, 10, 2), "lease duration (10s) must be greater than renew deadline (10s)"),
        ((15, 2, 2), "renew deadline (2s) must be greater than 1.2 × retry period (2s)"),
        ((15, 10, 0), "must be greater than zero"),
    ],
)
def test_config_refuses_timings_that_could_give_two_leaders(
    durations: tuple[float, float, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LeaderElectionConfig(*durations)


# --- the elector on a virtual clock -----------------------------------------------------------------


async def test_first_candidate_creates_the_lease_and_leads() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await settle()
    assert a.leading and a.elector.is_leader
    assert lock.record is not None and lock.record.holder_identity == "a"
    assert lock.record.lease_duration_seconds == 15
    a.stop.set()
    assert a.task is not None and await a.task is True


async def test_leader_renews_every_retry_period() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await advance(clock, 10)
    renewals = [w.renew_time for w in lock.writes]
    assert len(renewals) == 6  # create, then one write every 2 s
    assert lock.record is not None and lock.record.acquire_time == T0
    a.stop.set()
    await settle()


async def test_standby_waits_while_the_leader_renews() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await settle()
    b = Replica("b", lock, clock).start()
    await advance(clock, 60)
    assert a.leading and not b.leading
    assert b.elector.leader == "a"
    a.stop.set()
    b.stop.set()
    await settle()


async def test_standby_takes_over_a_crashed_leader_after_the_lease_duration() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await settle()
    b = Replica("b", lock, clock).start()
    await advance(clock, 4)
    a.crash()
    crashed_at = clock.monotonic()
    while not b.leading:
        await advance(clock, 0.5)
    waited = clock.monotonic() - crashed_at
    # The last renewal came up to one retry period before the crash. The standby counts the lease from
    # when it first saw that renewal (up to one jittered retry period later) and notices the expiry at
    # its next try (up to one more).
    assert 15 - 2 <= waited <= 15 + 2 * 2 * 1.2
    assert lock.record is not None and (lock.record.holder_identity, lock.record.lease_transitions) == (
        "b",
        1,
    )
    b.stop.set()
    await settle()


async def test_clean_stop_releases_so_the_standby_takes_over_at_its_next_try() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await settle()
    b = Replica("b", lock, clock).start()
    await advance(clock, 6)
    a.stop.set()
    await settle()
    assert a.task is not None and a.task.done() and not a.leading and a.stops == 1
    assert lock.record is not None and lock.record.holder_identity == ""
    await advance(clock, 2 * 1.2)
    assert b.leading
    b.stop.set()
    await settle()


async def test_leader_that_cannot_renew_stops_leading_before_the_lease_expires() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await settle()
    lock.broken = True
    cut_at = clock.monotonic()
    while a.leading:
        await advance(clock, 0.5)
    stopped_after = clock.monotonic() - cut_at
    assert 10 <= stopped_after < 15  # renew deadline passed, lease duration not yet
    assert a.stops == 1
    assert a.task is not None and a.task.done() and a.task.result() is False


async def test_renewal_that_recovers_within_the_deadline_keeps_leadership() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    a = Replica("a", lock, clock).start()
    await settle()
    lock.broken = True
    await advance(clock, 6)
    lock.broken = False
    await advance(clock, 20)
    assert a.leading and a.starts == 1 and a.stops == 0
    a.stop.set()
    await settle()


async def test_two_candidates_never_lead_at_once() -> None:
    clock, lock = VirtualClock(T0), MemoryLock()
    replicas = [Replica(name, lock, clock).start() for name in ("a", "b", "c")]
    leaders: Callable[[], int] = lambda: sum(r.leading for r in replicas)  # noqa: E731
    for _ in range(40):
        await advance(clock, 0.5)
        assert leaders() <= 1
    assert leaders() == 1
    for r in replicas:
        r.stop.set()
    await settle()


def test_each_process_of_a_replica_has_its_own_identity_naming_the_replica() -> None:
    first, restarted = unique_identity("cp-1"), unique_identity("cp-1")
    assert first != restarted
    assert replica_of(first) == replica_of(restarted) == "cp-1"
    assert replica_of("cp-2") == "cp-2"
