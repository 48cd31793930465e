"""The linearizability checker accepts exactly the key-value histories a register per key can explain.

Hand-written histories pin down the classic cases; property tests check that histories produced by a
real sequential store are accepted, that corrupting one read gets them rejected, and that the checker's
reductions never change a verdict (against a brute-force search on small histories).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, replace
from functools import cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.linearizability import (
    Cas,
    CheckResult,
    Delete,
    History,
    Op,
    Operation,
    Read,
    Status,
    Verdict,
    Write,
    check,
)


class Script:
    """A hand-written history: one call per operation, with its interval, as drawn in a test's comment."""

    def __init__(self) -> None:
        self.history = History()

    def ok(self, client: str, op: Op, call: int, ret: int, result: object = None) -> Script:
        op_id = self.history.invoke(client, op, at=call)
        self.history.ok(op_id, result, at=ret)
        return self

    def info(self, client: str, op: Op, call: int) -> Script:
        self.history.info(self.history.invoke(client, op, at=call))
        return self

    def fail(self, client: str, op: Op, call: int) -> Script:
        self.history.fail(self.history.invoke(client, op, at=call))
        return self

    def check(self, *, max_steps: int | None = None) -> CheckResult:
        return check(self.history, max_steps=max_steps)


# --- hand-written histories -----------------------------------------------------------------------


def test_sequential_writes_and_reads_are_linearizable() -> None:
    result = (
        Script()
        .ok("a", Read("k"), 0, 5, None)
        .ok("a", Write("k", 1), 10, 20)
        .ok("b", Read("k"), 30, 40, 1)
        .ok("b", Write("k", 2), 50, 60)
        .ok("a", Read("k"), 70, 80, 2)
        .check()
    )
    assert result.linearizable, result.explain()
    assert result.verdict is Verdict.LINEARIZABLE


def test_stale_read_after_a_completed_write_is_not_linearizable() -> None:
    #  a: write 1 |--|  write 2 |--|
    #  b:                             read -> 1 |--|
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .ok("a", Write("k", 2), 20, 30)
        .ok("b", Read("k"), 40, 50, 1)
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert not result.linearizable
    assert result.key == "k"


@pytest.mark.parametrize("last_value", [1, 2])
def test_two_concurrent_writes_may_be_read_in_either_order(last_value: int) -> None:
    #  a: write 1  |--------------|
    #  b: write 2  |--------------|
    #  c:    read -> first |--|      read -> last |--|
    first_value = 3 - last_value
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 100)
        .ok("b", Write("k", 2), 0, 100)
        .ok("c", Read("k"), 10, 20, first_value)
        .ok("c", Read("k"), 110, 120, last_value)
        .check()
    )
    assert result.linearizable, result.explain()


def test_reads_disagreeing_after_two_concurrent_writes_completed_are_not_linearizable() -> None:
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 100)
        .ok("b", Write("k", 2), 0, 100)
        .ok("c", Read("k"), 110, 120, 1)
        .ok("d", Read("k"), 130, 140, 2)
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE


def test_read_of_a_value_never_written_is_not_linearizable() -> None:
    result = Script().ok("a", Write("k", 1), 0, 10).ok("b", Read("k"), 20, 30, 7).check()
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.violation is not None
    assert [blocked.operation.result for blocked in result.violation.blocked] == [7]
    assert "nothing writes the value it returned" in result.explain()


def test_reads_going_back_in_time_across_clients_are_not_linearizable() -> None:
    #  a: write 1 |--|  write 2 |-----------------------|
    #  b:                  read -> 2 |--|
    #  c:                                read -> 1 |--|
    # Once b saw 2, a read that begins later cannot see the 1 that 2 replaced.
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .ok("a", Write("k", 2), 20, 100)
        .ok("b", Read("k"), 30, 40, 2)
        .ok("c", Read("k"), 50, 60, 1)
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE


def test_overlapping_reads_may_disagree_while_a_write_is_in_flight() -> None:
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .ok("a", Write("k", 2), 20, 100)
        .ok("b", Read("k"), 30, 60, 2)
        .ok("c", Read("k"), 50, 70, 1)
        .check()
    )
    assert result.linearizable, result.explain()


def test_timed_out_write_whose_effect_appears_later_is_linearizable() -> None:
    #  a: write 1 |--|  write 2 |-- timed out ...
    #  b:                           read -> 1 |--|   read -> 2 |--|
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .info("a", Write("k", 2), 20)
        .ok("b", Read("k"), 30, 40, 1)
        .ok("b", Read("k"), 1_000, 1_010, 2)
        .check()
    )
    assert result.linearizable, result.explain()


def test_timed_out_write_whose_effect_appears_before_its_invocation_is_not_linearizable() -> None:
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .ok("b", Read("k"), 20, 30, 2)
        .info("a", Write("k", 2), 40)
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE


def test_timed_out_write_may_never_take_effect() -> None:
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .info("a", Write("k", 2), 20)
        .ok("b", Read("k"), 1_000, 1_010, 1)
        .ok("b", Read("k"), 2_000, 2_010, 1)
        .check()
    )
    assert result.linearizable, result.explain()


def test_timed_out_write_cannot_take_effect_twice() -> None:
    #  Seen, overwritten, then seen again: one write of 2 cannot explain both reads of 2.
    result = (
        Script()
        .info("a", Write("k", 2), 0)
        .ok("b", Read("k"), 10, 20, 2)
        .ok("b", Write("k", 3), 30, 40)
        .ok("b", Read("k"), 50, 60, 2)
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE


def test_timed_out_writes_may_take_effect_in_the_opposite_order_of_their_invocations() -> None:
    result = (
        Script()
        .info("a", Write("k", 1), 0)
        .info("b", Write("k", 2), 10)
        .ok("c", Read("k"), 20, 30, 2)
        .ok("c", Read("k"), 40, 50, 1)
        .check()
    )
    assert result.linearizable, result.explain()


def test_timed_out_write_nobody_read_can_explain_a_failed_cas() -> None:
    # Only the write of 5 can have made the key exist, so the cas expecting it absent failed.
    result = Script().info("a", Write("k", 5), 0).ok("b", Cas("k", None, 1), 10, 20, False).check()
    assert result.linearizable, result.explain()


def test_refused_write_never_takes_effect() -> None:
    script = Script().ok("a", Write("k", 1), 0, 10).fail("a", Write("k", 2), 20)
    assert script.check().linearizable
    script.ok("b", Read("k"), 30, 40, 2)
    assert script.check().verdict is Verdict.NOT_LINEARIZABLE


def test_operation_still_pending_may_take_effect_or_not() -> None:
    history = History()
    done = history.invoke("a", Write("k", 1), at=0)
    history.ok(done, at=10)
    history.invoke("a", Write("k", 2), at=20)  # the client crashed waiting
    seen = history.invoke("b", Read("k"), at=30)
    history.ok(seen, 2, at=40)
    assert history.operations()[1].status is Status.INFO
    assert check(history).linearizable


@pytest.mark.parametrize(
    ("expected", "succeeded", "linearizable"),
    [(1, True, True), (1, False, False), (5, False, True), (5, True, False)],
)
def test_cas_result_must_agree_with_the_value_it_compares(
    expected: int, succeeded: bool, linearizable: bool
) -> None:
    result = Script().ok("a", Write("k", 1), 0, 10).ok("b", Cas("k", expected, 2), 20, 30, succeeded).check()
    assert result.linearizable is linearizable, result.explain()


def test_later_reads_see_a_successful_cas_and_not_a_failed_one() -> None:
    base = Script().ok("a", Write("k", 1), 0, 10).ok("b", Cas("k", 1, 2), 20, 30, True)
    assert base.ok("c", Read("k"), 40, 50, 2).check().linearizable
    stale = Script().ok("a", Write("k", 1), 0, 10).ok("b", Cas("k", 1, 2), 20, 30, True)
    assert stale.ok("c", Read("k"), 40, 50, 1).check().verdict is Verdict.NOT_LINEARIZABLE
    failed = Script().ok("a", Write("k", 1), 0, 10).ok("b", Cas("k", 3, 2), 20, 30, False)
    assert failed.ok("c", Read("k"), 40, 50, 2).check().verdict is Verdict.NOT_LINEARIZABLE


def test_two_clients_cannot_both_win_a_cas_on_the_same_value() -> None:
    result = (
        Script()
        .ok("a", Write("k", 0), 0, 10)
        .ok("b", Cas("k", 0, 1), 20, 50, True)
        .ok("c", Cas("k", 0, 2), 20, 50, True)
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE


def test_cas_on_a_missing_key_compares_with_none() -> None:
    assert Script().ok("a", Cas("k", None, 1), 0, 10, True).ok("a", Read("k"), 20, 30, 1).check().linearizable
    assert Script().ok("a", Cas("k", 1, 2), 0, 10, False).check().linearizable


def test_read_after_delete_returns_none() -> None:
    script = Script().ok("a", Write("k", 1), 0, 10).ok("a", Delete("k"), 20, 30)
    assert script.ok("b", Read("k"), 40, 50, None).check().linearizable


def test_read_of_the_deleted_value_after_the_delete_is_not_linearizable() -> None:
    script = Script().ok("a", Write("k", 1), 0, 10).ok("a", Delete("k"), 20, 30)
    assert script.ok("b", Read("k"), 40, 50, 1).check().verdict is Verdict.NOT_LINEARIZABLE


def test_operation_invoked_at_the_instant_another_returns_counts_as_concurrent() -> None:
    # The read may take effect at instant 10, before the write does.
    result = Script().ok("a", Write("k", 1), 0, 10).ok("b", Read("k"), 10, 20, None).check()
    assert result.linearizable, result.explain()


def test_keys_are_independent_registers() -> None:
    result = (
        Script()
        .ok("a", Write("x", 1), 0, 10)
        .ok("a", Write("y", 2), 20, 30)
        .ok("b", Read("x"), 40, 50, 1)
        .ok("b", Read("y"), 40, 50, 2)
        .ok("c", Read("y"), 60, 70, None)  # y had been written: stale
        .check()
    )
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == "y"
    assert result.keys == 2


def test_violation_shows_the_longest_prefix_and_why_each_next_operation_is_refused() -> None:
    #  a: write 1 |--|          write 2 |--|
    #  b:               read -> 1 |--|         read -> 1 |--|
    script = (
        Script()
        .ok("a", Write("k", 1), 100, 110)
        .ok("b", Read("k"), 120, 130, 1)
        .ok("a", Write("k", 2), 140, 150)
        .ok("b", Read("k"), 160, 170, 1)
    )
    result = script.check()
    violation = result.violation
    assert violation is not None
    assert [str(operation.op) for operation in violation.prefix] == ["write('k', 1)", "read('k')"]
    assert violation.state == 1
    assert [str(blocked.operation.op) for blocked in violation.blocked] == ["write('k', 2)"]
    assert violation.blocked[0].strands is not None
    assert violation.blocked[0].strands.call == 160
    text = result.explain()
    assert "key 'k' is not linearizable" in text
    assert "client b: read('k') -> 1  [20, 30]" in text  # times relative to the first invocation
    assert "could never be placed" in text


def test_violation_names_the_read_that_contradicts_the_register() -> None:
    #  a: write 1 |--|  write 2 |--|
    #  b:                            read -> 2 |--|
    #  c:                                          cas 2 -> 3 failed |--|   (yet the value was 2)
    result = (
        Script()
        .ok("a", Write("k", 1), 0, 10)
        .ok("a", Write("k", 2), 20, 30)
        .ok("b", Read("k"), 40, 50, 2)
        .ok("c", Cas("k", 2, 3), 60, 70, False)
        .check()
    )
    assert result.violation is not None
    assert [blocked.reason for blocked in result.violation.blocked] == [
        "the cas failed, so the value was not 2, but the register holds 2"
    ]


def test_empty_history_is_linearizable() -> None:
    result = check(History())
    assert result.linearizable
    assert (result.operations, result.keys) == (0, 0)


def test_timed_out_writes_nobody_read_are_interchangeable_for_the_search() -> None:
    # Forty timed-out writes of values nobody read, any of which explains the failed cas; then a read of
    # a value written only later. Every subset of the forty is a dead end: taking them as twins, the
    # search tries 41 of them rather than 2 ** 40.
    script = Script().ok("a", Write("k", 0), 0, 10)
    for n in range(40):
        script.info(f"c{n}", Write("k", 100 + n), 20 + n)
    script.ok("a", Cas("k", 0, 1), 100, 110, False).ok("a", Read("k"), 120, 130, 7)
    script.info("b", Write("k", 7), 200)
    result = script.check(max_steps=100_000)
    assert result.verdict is Verdict.NOT_LINEARIZABLE, result.explain()


# --- budget ---------------------------------------------------------------------------------------


def adversarial(pairs: int) -> History:
    """Writes of 1 and 2 and reads of both, all concurrent, then a contradiction no single read shows:
    a cas says the value is not 1, and the next read says it is. Every order of the concurrent block
    is a different dead end, so the search grows as 2 ** pairs."""
    script = Script()
    for n in range(pairs):
        script.ok(f"w{n}", Write("k", 1 + n % 2), 0, 100)
        script.ok(f"r{n}", Read("k"), 0, 100, 1 + (n + 1) % 2)
    script.ok("c", Cas("k", 1, 3), 200, 210, False).ok("c", Read("k"), 220, 230, 1)
    return script.history


def test_adversarial_history_is_unknown_when_the_time_budget_runs_out() -> None:
    started = time.monotonic()
    result = check(adversarial(40), timeout=0.3)
    elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNKNOWN
    assert not result.linearizable
    assert result.unknown_keys == ("k",)
    assert elapsed < 2.0
    assert "unknown (budget exhausted)" in result.explain()


def test_adversarial_history_is_unknown_when_the_step_budget_runs_out() -> None:
    result = check(adversarial(40), timeout=None, max_steps=5_000)
    assert result.verdict is Verdict.UNKNOWN
    assert result.steps == 5_000


def test_small_adversarial_history_is_decided_within_the_budget() -> None:
    assert check(adversarial(4), max_steps=5_000).verdict is Verdict.NOT_LINEARIZABLE


def test_violation_on_one_key_is_reported_even_if_another_would_exhaust_the_budget() -> None:
    history = adversarial(40)
    write = history.invoke("z", Write("small", 1), at=0)
    history.ok(write, at=10)
    read = history.invoke("z", Read("small"), at=20)
    history.ok(read, None, at=30)
    result = check(history, max_steps=5_000)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == "small"


# --- recording ------------------------------------------------------------------------------------


def test_history_takes_timestamps_from_the_injected_clock() -> None:
    ticks = iter([5, 9])
    history = History(clock=lambda: next(ticks))
    op_id = history.invoke("a", Write("k", 1))
    history.ok(op_id)
    [operation] = history.operations()
    assert (operation.call, operation.ret, operation.status) == (5, 9, Status.OK)


def test_history_rejects_completing_an_operation_twice() -> None:
    history = History()
    op_id = history.invoke("a", Write("k", 1))
    history.info(op_id)
    with pytest.raises(ValueError, match="already completed"):
        history.ok(op_id)


def test_history_rejects_a_return_before_the_invocation() -> None:
    history = History()
    op_id = history.invoke("a", Read("k"), at=10)
    with pytest.raises(ValueError, match="before its invocation"):
        history.ok(op_id, None, at=5)


def test_history_rejects_results_of_the_wrong_kind() -> None:
    history = History()
    with pytest.raises(TypeError):
        history.ok(history.invoke("a", Cas("k", 1, 2)), 2)
    with pytest.raises(TypeError):
        history.ok(history.invoke("a", Write("k", 1)), 1)
    with pytest.raises(KeyError):
        history.ok(99)
    with pytest.raises(ValueError):
        Write("k", None)


def test_history_records_from_many_threads_at_once() -> None:
    history = History()

    def client(name: str) -> None:
        for n in range(200):
            op_id = history.invoke(name, Write(name, n))
            history.ok(op_id)

    threads = [threading.Thread(target=client, args=(f"c{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    operations = history.operations()
    assert len(operations) == len(history) == 1_600
    assert len({operation.id for operation in operations}) == 1_600
    assert all(operation.status is Status.OK for operation in operations)
    assert check(history).linearizable


# --- properties -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One simulated operation: what the client saw, and when (if ever) it took effect."""

    client: str
    op: Op
    status: Status
    call: int
    ret: int | None
    result: object


@st.composite
def simulated(
    draw: st.DrawFn, *, unique_values: bool = False, max_ops: int = 8, timeouts: int = 1
) -> list[Record]:
    """A history of clients running operations against one sequential store.

    Each client runs one operation at a time; each operation takes effect at an instant drawn inside its
    interval, the store applies them in that order, and the clients record the results. A timed-out
    operation takes effect at some instant after its invocation, or never; a refused one never.
    """
    keys = draw(st.sampled_from([["k"], ["k", "j"]]))
    fresh = itertools.count(1)
    planned: list[tuple[int, int, Op, str, Status, int, int | None]] = []  # point, tiebreak, ...
    for client in range(draw(st.integers(1, 4))):
        now = draw(st.integers(0, 5))
        for _ in range(draw(st.integers(0, max_ops))):
            key = draw(st.sampled_from(keys))
            value = next(fresh) if unique_values else draw(st.integers(1, 3))
            kind = draw(st.sampled_from(["read", "read", "write", "write", "cas", "delete"]))
            op: Op
            if kind == "read":
                op = Read(key)
            elif kind == "write":
                op = Write(key, value)
            elif kind == "cas":
                op = Cas(key, draw(st.sampled_from([None, 1, 2, 3])), value)
            else:
                op = Delete(key)
            duration = draw(st.integers(0, 12))
            status = draw(st.sampled_from([Status.OK] * 6 + [Status.INFO] * timeouts + [Status.FAIL]))
            if status is Status.OK:
                point: int | None = now + draw(st.integers(0, duration))
            elif status is Status.INFO:
                point = draw(st.one_of(st.none(), st.integers(now, now + 40)))
            else:
                point = None
            ret = now + duration if status is Status.OK else None
            planned.append((-1 if point is None else point, len(planned), op, f"c{client}", status, now, ret))
            now += duration + draw(st.integers(0, 3))
    store: dict[str, object] = {}
    records = []
    for point, _, op, name, status, call, ret in sorted(planned):
        result = _apply(store, op) if point >= 0 else None
        records.append(Record(name, op, status, call, ret, result if status is Status.OK else None))
    return records


def _apply(store: dict[str, object], op: Op) -> object:
    if isinstance(op, Read):
        return store.get(op.key)
    if isinstance(op, Write):
        store[op.key] = op.value
    elif isinstance(op, Delete):
        store.pop(op.key, None)
    else:
        if store.get(op.key) != op.expected:
            return False
        store[op.key] = op.new
        return True
    return None


def to_history(records: list[Record]) -> History:
    history = History()
    for record in sorted(records, key=lambda r: r.call):
        op_id = history.invoke(record.client, record.op, at=record.call)
        if record.status is Status.OK:
            assert record.ret is not None
            history.ok(op_id, record.result, at=record.ret)
        elif record.status is Status.INFO:
            history.info(op_id)
        else:
            history.fail(op_id)
    return history


@settings(max_examples=400, deadline=None)
@given(simulated())
def test_histories_of_a_sequential_store_are_linearizable(records: list[Record]) -> None:
    result = check(to_history(records), timeout=None)
    assert result.linearizable, result.explain()


@settings(max_examples=200, deadline=None)
@given(simulated(unique_values=True, max_ops=12))
def test_histories_with_unique_values_are_linearizable(records: list[Record]) -> None:
    result = check(to_history(records), timeout=None)
    assert result.linearizable, result.explain()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(simulated(), st.data())
def test_a_read_of_a_value_never_written_makes_a_history_not_linearizable(
    records: list[Record], data: st.DataObject
) -> None:
    reads = [n for n, r in enumerate(records) if isinstance(r.op, Read) and r.status is Status.OK]
    assume(reads)
    n = data.draw(st.sampled_from(reads))
    records[n] = replace(records[n], result="never written")
    result = check(to_history(records), timeout=None)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == records[n].op.key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(simulated(unique_values=True, max_ops=12), st.data())
def test_a_read_of_a_value_overwritten_before_it_began_makes_a_history_not_linearizable(
    records: list[Record], data: st.DataObject
) -> None:
    # Values are unique, so the value of a write that completed before an overwrite that completed before
    # the read began is gone for good by the time the read starts.
    def completed(r: Record, kind: type[Write] | type[Delete]) -> bool:
        return isinstance(r.op, kind) and r.status is Status.OK and r.ret is not None

    stale = [
        (n, written.op.value)
        for n, read in enumerate(records)
        if isinstance(read.op, Read) and read.status is Status.OK
        for written in records
        if completed(written, Write) and written.op.key == read.op.key and isinstance(written.op, Write)
        if any(
            (completed(over, Write) or completed(over, Delete))
            and over.op.key == read.op.key
            and written.ret is not None
            and over.ret is not None
            and written.ret < over.call
            and over.ret < read.call
            for over in records
        )
    ]
    assume(stale)
    n, value = data.draw(st.sampled_from(stale))
    records[n] = replace(records[n], result=value)
    result = check(to_history(records), timeout=None)
    assert result.verdict is Verdict.NOT_LINEARIZABLE


@settings(max_examples=600, deadline=None)
@given(simulated(max_ops=3, timeouts=4), st.data())
def test_checker_agrees_with_a_brute_force_search_on_small_histories(
    records: list[Record], data: st.DataObject
) -> None:
    # Corrupt some results so that about half the histories are not linearizable.
    for n, record in enumerate(records):
        if record.status is Status.OK and isinstance(record.op, Read | Cas) and data.draw(st.booleans()):
            wrong = data.draw(
                st.sampled_from([None, 1, 2, 3]) if isinstance(record.op, Read) else st.booleans()
            )
            records[n] = replace(record, result=wrong)
    history = to_history(records)
    result = check(history, timeout=None)
    assert result.verdict is not Verdict.UNKNOWN
    assert result.linearizable == brute_force(history.operations()), result.explain()


def brute_force(operations: list[Operation]) -> bool:
    """Linearizability by trying every order real time allows, one key at a time, with no reductions."""
    keys = {operation.key for operation in operations}
    return all(_brute_force_key([o for o in operations if o.key == key]) for key in keys)


def _brute_force_key(operations: list[Operation]) -> bool:
    ops = tuple(o for o in operations if o.status is not Status.FAIL)

    @cache
    def extend(placed: frozenset[int], value: object) -> bool:
        left = [n for n in range(len(ops)) if n not in placed]
        deadlines = [ops[n].ret for n in left if ops[n].ret is not None]
        if not deadlines:
            return True  # the unknown operations left never took effect
        first_return = min(r for r in deadlines if r is not None)
        for n in left:
            if ops[n].call <= first_return:
                fits, after = _sequential_step(ops[n], value)
                if fits and extend(placed | {n}, after):
                    return True
        return False

    return extend(frozenset(), None)


def _sequential_step(operation: Operation, value: object) -> tuple[bool, object]:
    op, known = operation.op, operation.status is Status.OK
    if isinstance(op, Read):
        return (not known or operation.result == value), value
    if isinstance(op, Write):
        return True, op.value
    if isinstance(op, Delete):
        return True, None
    succeeds = value == op.expected
    if known and operation.result != succeeds:
        return False, value
    return True, op.new if succeeds else value
