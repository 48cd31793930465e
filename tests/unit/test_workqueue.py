"""The work queue hands a key to one worker at a time, collapses duplicates and retries with back-off.

Time is a ``VirtualClock`` moved by ``advance``; nothing here sleeps on the real clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Hashable
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.clock import VirtualClock
from shared.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    Result,
    ShutDownError,
    WorkQueue,
    default_controller_rate_limiter,
    run_workers,
)

K = TypeVar("K", bound=Hashable)


async def settle() -> None:
    """Let every runnable task run until it waits again; a handful of loop turns is plenty here."""
    for _ in range(10):
        await asyncio.sleep(0)


async def advance(clock: VirtualClock, seconds: float) -> None:
    """Let timers arm (the queue's timer is a task), move time, then let whatever woke run."""
    await settle()
    await clock.advance(seconds)
    await settle()


async def take_all(queue: WorkQueue[K]) -> list[K]:
    """Get and finish every key queued right now, in the order the queue hands them out."""
    keys = []
    while len(queue):
        key = await queue.get()
        queue.done(key)
        keys.append(key)
    return keys


def backoff_queue(clock: VirtualClock, base: float = 1.0, cap: float = 60.0) -> RateLimitingQueue[str]:
    """A queue retrying after base, 2·base, 4·base, … seconds: whole seconds keep float sums exact."""
    return RateLimitingQueue(ItemExponentialFailureRateLimiter(base, cap), clock=clock, name="test")


# The basic queue


async def test_key_added_twice_while_queued_is_handed_out_once_in_first_add_order() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ["c", "a", "c", "b", "a"]:
        queue.add(key)
    assert len(queue) == 3
    assert await take_all(queue) == ["c", "a", "b"]
    assert queue.adds == 3


async def test_key_added_during_processing_comes_back_only_after_done_and_exactly_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0, "a key being processed must not be queued for a second worker"

    second = asyncio.create_task(queue.get())
    await settle()
    assert not second.done()
    queue.done("a")
    await settle()
    assert second.result() == "a"
    queue.done("a")
    assert len(queue) == 0
    assert queue.processing == 0


async def test_waiting_getter_is_woken_by_add() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(queue.get())
    await settle()
    assert not getter.done()
    queue.add("a")
    await settle()
    assert getter.result() == "a"


async def test_done_for_a_key_not_being_processed_changes_nothing() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.done("a")
    queue.done("z")
    assert len(queue) == 1
    assert queue.processing == 0


async def test_getter_cancelled_after_being_woken_passes_the_key_to_another_getter() -> None:
    queue: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(queue.get())
    await settle()
    second = asyncio.create_task(queue.get())
    await settle()
    queue.add("a")  # wakes `first`, which is cancelled before it can take the key
    first.cancel()
    await settle()
    assert first.cancelled()
    assert second.result() == "a"


WORKERS = 3
KEYS = 4
interleavings = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, KEYS - 1)),
        st.tuples(st.sampled_from(["get", "done"]), st.integers(0, WORKERS - 1)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(interleavings)
def test_random_interleavings_never_give_a_key_to_two_workers_nor_lose_an_add(
    operations: list[tuple[str, int]],
) -> None:
    asyncio.run(_replay_interleaving(operations))


async def _replay_interleaving(operations: list[tuple[str, int]]) -> None:
    queue: WorkQueue[int] = WorkQueue()
    getting: dict[int, asyncio.Task[int]] = {}  # worker → its pending get()
    holding: dict[int, int] = {}  # worker → the key it is processing
    needs_work = dict.fromkeys(range(KEYS), False)  # an add not yet followed by a hand-out of that key

    def collect_handouts() -> None:
        for worker, task in list(getting.items()):
            if task.done():
                del getting[worker]
                key = task.result()
                assert key not in holding.values(), f"key {key} handed to two workers at once"
                assert needs_work[key], f"key {key} handed out again without a new add"
                needs_work[key] = False
                holding[worker] = key
        assert queue.processing == len(holding)

    for operation, argument in operations:
        if operation == "add":
            queue.add(argument)
            needs_work[argument] = True
        elif operation == "get" and argument not in getting and argument not in holding:
            getting[argument] = asyncio.create_task(queue.get())
        elif operation == "done" and argument in holding:
            queue.done(holding.pop(argument))
        await settle()
        collect_handouts()

    # Let every worker finish what it holds and keep taking keys until nothing is left.
    for _ in range(KEYS + 1):  # with no new adds, each key can come back at most once more
        for worker in list(holding):
            queue.done(holding.pop(worker))
        for worker in range(WORKERS):
            if worker not in getting:
                getting[worker] = asyncio.create_task(queue.get())
        await settle()
        collect_handouts()
    assert not holding and not len(queue), "keys keep coming back without new adds"
    assert not any(needs_work.values()), f"adds lost: {needs_work}"

    queue.shut_down()
    await settle()
    for task in getting.values():
        assert isinstance(task.exception(), ShutDownError)


# Shutting down


async def test_shut_down_wakes_every_waiting_getter_with_shutdown_error() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()
    queue.shut_down()
    await settle()
    assert queue.shutting_down
    for getter in getters:
        assert isinstance(getter.exception(), ShutDownError)


async def test_shut_down_ignores_new_adds_but_hands_out_queued_keys_before_raising() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.shut_down()
    queue.add("c")
    assert await take_all(queue) == ["a", "b"]
    with pytest.raises(ShutDownError):
        await queue.get()


async def test_shut_down_still_requeues_a_key_added_during_processing_before_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    queue.add("a")
    queue.shut_down()
    queue.done("a")
    assert await take_all(queue) == ["a"]


async def test_shut_down_with_drain_returns_only_when_in_flight_keys_are_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    await queue.get()
    drain = asyncio.create_task(queue.shut_down_with_drain())
    await settle()
    queue.done("a")
    await settle()
    assert not drain.done(), "b is still queued"
    assert await queue.get() == "b"
    await settle()
    assert not drain.done(), "b is still being processed"
    queue.done("b")
    await settle()
    assert drain.done()


# Delayed adds


async def test_add_after_queues_keys_in_deadline_order_only_when_their_time_comes() -> None:
    clock = VirtualClock()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("late", 3)
    queue.add_after("early", 1)
    queue.add_after("middle", 2)
    assert (len(queue), queue.waiting) == (0, 3)

    await advance(clock, 1)
    assert await take_all(queue) == ["early"]
    await advance(clock, 0.5)
    assert await take_all(queue) == []
    await advance(clock, 0.5)
    assert await take_all(queue) == ["middle"]
    await advance(clock, 1)
    assert await take_all(queue) == ["late"]
    assert queue.waiting == 0


async def test_add_after_for_a_waiting_key_keeps_the_earlier_deadline_only() -> None:
    clock = VirtualClock()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("a", 5)
    queue.add_after("a", 2)  # earlier: replaces 5
    queue.add_after("a", 4)  # later than 2: dropped
    assert queue.waiting == 1
    await advance(clock, 2)
    assert await take_all(queue) == ["a"]
    await advance(clock, 10)
    assert await take_all(queue) == [], "the superseded deadlines must not add the key again"


async def test_add_after_without_a_positive_delay_adds_at_once() -> None:
    queue: DelayingQueue[str] = DelayingQueue(clock=VirtualClock())
    queue.add_after("a", 0)
    queue.add_after("b", -1)
    assert await take_all(queue) == ["a", "b"]


async def test_delayed_add_of_an_already_queued_key_collapses_into_it() -> None:
    clock = VirtualClock()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add("a")
    queue.add_after("a", 1)
    await advance(clock, 1)
    assert await take_all(queue) == ["a"]


async def test_shut_down_drops_waiting_keys_and_ignores_delayed_adds() -> None:
    clock = VirtualClock()
    queue: DelayingQueue[str] = DelayingQueue(clock=clock)
    queue.add_after("a", 1)
    queue.shut_down()
    queue.add_after("b", 1)
    await advance(clock, 5)
    assert (len(queue), queue.waiting, clock.sleepers) == (0, 0, 0)


delayed_adds = st.lists(
    st.one_of(
        st.tuples(st.just("after"), st.integers(0, 3), st.integers(-1, 5)),
        st.tuples(st.just("tick"), st.just(0), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(delayed_adds)
def test_delayed_keys_are_queued_exactly_at_their_earliest_requested_deadline(
    operations: list[tuple[str, int, int]],
) -> None:
    asyncio.run(_replay_delayed_adds([*operations, *[("tick", 0, 0)] * 6]))


async def _replay_delayed_adds(operations: list[tuple[str, int, int]]) -> None:
    clock = VirtualClock()
    queue: DelayingQueue[int] = DelayingQueue(clock=clock)
    deadline: dict[int, int] = {}  # key → the earliest deadline asked for and not yet reached
    now = 0
    for operation, key, delay in operations:
        expected: set[int] = set()
        if operation == "after":
            queue.add_after(key, delay)
            if delay <= 0:
                expected = {key}
            else:
                deadline[key] = min(deadline.get(key, now + delay), now + delay)
        else:
            now += 1
            await advance(clock, 1)
            expected = {k for k, due in deadline.items() if due <= now}
            for k in expected:
                del deadline[k]
        assert set(await take_all(queue)) == expected, f"at t={now}"
        assert queue.waiting == len(deadline)


# Rate limiters


def test_exponential_backoff_doubles_per_failure_up_to_the_cap_and_per_key() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(1, 10)
    assert [limiter.when("a") for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    assert limiter.num_requeues("a") == 6
    assert limiter.when("b") == 1


def test_default_exponential_backoff_starts_at_5ms_and_never_exceeds_1000s() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    delays = [limiter.when("a") for _ in range(2000)]  # far past where 2**n overflows a float
    assert delays[:3] == pytest.approx([0.005, 0.01, 0.02])
    assert max(delays) == delays[-1] == 1000


def test_forget_resets_a_keys_backoff_to_the_base_delay() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(1, 10)
    limiter.when("a")
    limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 1


async def test_token_bucket_allows_a_burst_then_one_retry_per_token_interval() -> None:
    clock = VirtualClock()
    bucket: BucketRateLimiter[str] = BucketRateLimiter(qps=2, burst=3, clock=clock)
    assert [bucket.when(key) for key in "abcde"] == [0, 0, 0, 0.5, 1.0]
    await advance(clock, 1)  # two tokens back: the debt of two is paid
    assert bucket.when("f") == 0.5
    await advance(clock, 60)  # refills only up to the burst
    assert [bucket.when(key) for key in "ghij"] == [0, 0, 0, 0.5]
    assert bucket.num_requeues("g") == 0


async def test_max_of_limiters_waits_for_the_longest_delay_and_forgets_in_all() -> None:
    clock = VirtualClock()
    limiter: MaxOfRateLimiter[str] = default_controller_rate_limiter(
        clock=clock, base_delay=1, max_delay=100, qps=0.1, burst=1
    )
    assert limiter.when("a") == 1  # back-off 1, a token left
    assert limiter.when("b") == 10  # back-off 1, bucket 10
    assert limiter.when("a") == 20  # back-off 2, bucket 20
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: ItemExponentialFailureRateLimiter(0, 1),
        lambda: ItemExponentialFailureRateLimiter(2, 1),
        lambda: BucketRateLimiter(qps=0, burst=1),
        lambda: BucketRateLimiter(qps=1, burst=0),
        lambda: MaxOfRateLimiter(),
        lambda: Result(requeue_after=0),
    ],
    ids=["zero-base", "cap-below-base", "zero-qps", "zero-burst", "no-limiters", "zero-requeue-after"],
)
def test_invalid_configuration_is_refused_when_constructed(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


# The rate-limiting queue


async def test_add_rate_limited_retries_after_a_growing_delay_and_counts_requeues() -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    queue.add_rate_limited("a")
    await advance(clock, 1)
    assert await take_all(queue) == ["a"]
    queue.add_rate_limited("a")
    await advance(clock, 1)
    assert await take_all(queue) == []
    await advance(clock, 1)
    assert await take_all(queue) == ["a"]
    assert queue.num_requeues("a") == 2
    queue.forget("a")
    assert queue.num_requeues("a") == 0


async def test_token_bucket_spreads_a_burst_of_retries_over_time() -> None:
    clock = VirtualClock()
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        BucketRateLimiter(qps=2, burst=3, clock=clock), clock=clock
    )
    for key in "abcde":
        queue.add_rate_limited(key)
    assert await take_all(queue) == ["a", "b", "c"]
    await advance(clock, 0.5)
    assert await take_all(queue) == ["d"]
    await advance(clock, 0.5)
    assert await take_all(queue) == ["e"]


async def test_queue_without_a_limiter_uses_client_gos_default_controller_limiter() -> None:
    clock = VirtualClock()
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=clock)
    limiter = queue.rate_limiter
    assert isinstance(limiter, MaxOfRateLimiter)
    backoff, bucket = limiter.limiters
    assert isinstance(backoff, ItemExponentialFailureRateLimiter)
    assert (backoff.base_delay, backoff.max_delay) == (0.005, 1000)
    assert isinstance(bucket, BucketRateLimiter)
    assert (bucket.qps, bucket.burst) == (10, 100)


async def test_metrics_report_depth_adds_retries_and_longest_running_processor() -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    for key in ["a", "b", "a"]:
        queue.add(key)
    assert (queue.depth, queue.adds) == (2, 2)
    await queue.get()
    await advance(clock, 3)
    await queue.get()
    await advance(clock, 1)
    assert (queue.depth, queue.processing, queue.longest_running_processor) == (0, 2, 4)
    queue.done("a")
    assert queue.longest_running_processor == 1
    queue.done("b")
    assert queue.longest_running_processor == 0
    queue.add_rate_limited("c")
    queue.add_after("d", 5)
    assert (queue.retries, queue.waiting, queue.depth) == (2, 2, 0)


# Workers


async def test_run_workers_retries_a_failing_key_with_growing_delay_and_forgets_it_on_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    attempts: list[float] = []

    async def reconcile(key: str) -> Result:
        attempts.append(clock.monotonic())
        if len(attempts) <= 3:
            raise RuntimeError("apiserver unavailable")
        return Result()

    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="shared.workqueue.workers"):
        runner = asyncio.create_task(run_workers(queue, reconcile, workers=2, stop_event=stop))
        queue.add("a")
        await settle()
        for step in [1, 2, 4]:
            assert queue.num_requeues("a") > 0
            await advance(clock, step)
        assert attempts == [0, 1, 3, 7]
        assert queue.num_requeues("a") == 0
        stop.set()
        await runner
    failures = [r for r in caplog.records if r.getMessage().startswith("reconcile failed")]
    assert len(failures) == 3
    assert "key=a" in failures[0].getMessage()


async def test_run_workers_requeue_after_waits_that_long_and_resets_the_backoff() -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    results: list[Exception | Result] = [RuntimeError("conflict"), Result(requeue_after=30), Result()]
    attempts: list[tuple[float, int]] = []

    async def reconcile(key: str) -> Result:
        attempts.append((clock.monotonic(), queue.num_requeues(key)))
        outcome = results.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    stop = asyncio.Event()
    runner = asyncio.create_task(run_workers(queue, reconcile, stop_event=stop))
    queue.add("a")
    await settle()
    await advance(clock, 1)
    assert queue.num_requeues("a") == 0, "a chosen delay is not a failure"
    await advance(clock, 30)
    assert attempts == [(0, 0), (1, 1), (31, 0)]
    stop.set()
    await runner


async def test_run_workers_requeue_retries_with_the_rate_limited_backoff() -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    attempts: list[float] = []

    async def reconcile(key: str) -> Result:
        attempts.append(clock.monotonic())
        return Result(requeue=len(attempts) < 3)

    stop = asyncio.Event()
    runner = asyncio.create_task(run_workers(queue, reconcile, stop_event=stop))
    queue.add("a")
    await settle()
    for step in [1, 2]:
        await advance(clock, step)
    assert attempts == [0, 1, 3]
    stop.set()
    await runner


async def test_run_workers_never_reconcile_one_key_concurrently_and_keep_adds_made_meanwhile() -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    active: set[str] = set()
    overlaps: list[str] = []
    runs: Counter[str] = Counter()

    async def reconcile(key: str) -> Result:
        if key in active:
            overlaps.append(key)
        active.add(key)
        await clock.sleep(1)
        active.discard(key)
        runs[key] += 1
        return Result()

    stop = asyncio.Event()
    runner = asyncio.create_task(run_workers(queue, reconcile, workers=4, stop_event=stop))
    for key in "abc":
        queue.add(key)
    await settle()
    assert active == {"a", "b", "c"}
    for _ in range(3):
        queue.add("a")  # while "a" is being reconciled, with a worker idle
    await settle()
    assert active == {"a", "b", "c"}
    await advance(clock, 1)
    assert runs == {"a": 1, "b": 1, "c": 1}
    assert active == {"a"}, "the adds made during the first reconcile run it once more"
    await advance(clock, 5)
    assert runs == {"a": 2, "b": 1, "c": 1}
    assert overlaps == []
    stop.set()
    await runner


async def test_run_workers_stop_lets_the_running_reconcile_finish_and_takes_no_more_keys() -> None:
    clock = VirtualClock()
    queue = backoff_queue(clock)
    finished: list[str] = []

    async def reconcile(key: str) -> Result:
        await clock.sleep(1)
        finished.append(key)
        return Result()

    stop = asyncio.Event()
    runner = asyncio.create_task(run_workers(queue, reconcile, workers=1, stop_event=stop))
    queue.add("a")
    queue.add("b")
    await settle()
    stop.set()
    await settle()
    assert queue.shutting_down
    assert not runner.done()
    await advance(clock, 1)
    assert runner.done()
    await runner
    assert finished == ["a"]
    assert queue.processing == 0


async def test_run_workers_return_after_draining_a_queue_shut_down_elsewhere() -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=VirtualClock())
    seen: list[str] = []

    async def reconcile(key: str) -> Result:
        seen.append(key)
        return Result()

    for key in "abc":
        queue.add(key)
    queue.shut_down()
    await run_workers(queue, reconcile, workers=2)
    assert sorted(seen) == ["a", "b", "c"]


async def test_run_workers_refuses_fewer_than_one_worker() -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=VirtualClock())

    async def reconcile(key: str) -> Result:
        return Result()

    with pytest.raises(ValueError):
        await run_workers(queue, reconcile, workers=0)
