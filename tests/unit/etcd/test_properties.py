"""Properties of the state machine over random command sequences: a member restored from a snapshot
midway ends identical, every readable revision reads as a naive model of etcd's semantics says, and
watchers see every revision once and in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.etcd.mvcc import (
    ALL_KEYS,
    CompactRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    Event,
    EventType,
    KeyValue,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchResponse,
)
from services.etcd.mvcc.commands import Command
from tests.unit.etcd.harness import Member, outcome

KEYS = ["a", "b", "c", "d"]
key = st.sampled_from(KEYS)
end = st.sampled_from([None, None, "c", ALL_KEYS])
compare = st.one_of(
    st.builds(
        Compare,
        key,
        st.just(CompareTarget.VALUE),
        st.sampled_from(list(CompareResult)),
        st.sampled_from(["x", "y"]),
    ),
    st.builds(
        Compare,
        key,
        st.sampled_from([t for t in CompareTarget if t is not CompareTarget.VALUE]),
        st.sampled_from(list(CompareResult)),
        st.integers(0, 6),
    ),
)
# How often each kind of command comes: mostly writes, with enough leases and compactions to matter.
KINDS = ["put"] * 4 + ["delete"] * 2 + ["txn"] * 3 + ["compact"] * 2 + ["grant"] * 2 + ["revoke", "expire"]


def command(m: Member) -> st.SearchStrategy[Command]:
    """A command fit for ``m``'s state: leases it holds (and one it never granted), and compactions
    mostly in recent history, where they matter; some of each are refused, as they must be."""
    held = [lease.id for lease in m.sm.lessor.leases()]
    lease = st.sampled_from([0, 9, *held, *held])
    some_lease = st.one_of(st.sampled_from(held), st.just(9)) if held else st.just(9)
    revision = m.sm.revision
    put = st.builds(PutRequest, key, st.sampled_from(["x", "y", "ü"]), lease, st.booleans())
    delete = st.builds(DeleteRangeRequest, key, end, st.booleans())
    rng = st.builds(RangeRequest, key, end, st.integers(0, 2), st.integers(0, revision + 1))
    op = st.one_of(put, delete, rng)
    recent = st.integers(max(revision - 4, 0), revision)
    strategies: dict[str, st.SearchStrategy[Command]] = {
        "put": put,
        "delete": delete,
        "txn": st.builds(
            TxnRequest, st.lists(compare, max_size=2), st.lists(op, max_size=3), st.lists(op, max_size=3)
        ),
        "compact": st.builds(CompactRequest, st.one_of(recent, st.integers(0, revision + 2))),
        "grant": st.builds(LeaseGrantRequest, st.integers(1, 100), st.sampled_from([0, 0, 1, 2])),
        "revoke": st.builds(LeaseRevokeRequest, some_lease),
        "expire": st.builds(LeaseExpireRequest, st.lists(some_lease, max_size=2)),
    }
    return st.sampled_from(KINDS).flatmap(strategies.__getitem__)


def draw_commands(data: st.DataObject, m: Member, apply: Callable[[Command], object]) -> int:
    """Draw up to 40 commands, each fit for ``m`` as it is then, and hand each to ``apply``."""
    n = data.draw(st.integers(0, 40), label="commands")
    for _ in range(n):
        apply(data.draw(command(m)))
    return n


def observable(m: Member) -> Any:
    """Everything a client can read: every readable revision, leases with their keys, the counters."""
    sm = m.sm
    first = max(sm.compact_revision, 1)
    return (
        sm.revision,
        sm.compact_revision,
        sm.applied_index,
        [m.range(revision=rev) for rev in range(first, sm.revision + 1)],
        [sm.lease_time_to_live(lease.id, 0.0, keys=True) for lease in sm.lessor.leases()],
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_member_restored_from_a_snapshot_midway_ends_in_the_same_state(data: st.DataObject) -> None:
    a, b = Member(), Member()
    split = data.draw(st.integers(0, 40), label="split")
    applied: list[Command] = []

    def apply(cmd: Command) -> None:
        if len(applied) == split:
            b.sm.restore(a.sm.snapshot())
            b.index = a.index
            assert observable(b) == observable(a)
        if len(applied) >= split:
            assert outcome(b.apply(cmd)) == outcome(a.apply(cmd))
        else:
            a.apply(cmd)
        applied.append(cmd)

    draw_commands(data, a, apply)
    if len(applied) > split:
        assert b.sm.snapshot() == a.sm.snapshot()
        assert observable(b) == observable(a)


class Model:
    """A naive MVCC model: a full copy of the key space per revision, and leases as sets of keys."""

    def __init__(self) -> None:
        self.revision, self.compact_revision = 1, -1
        self.history: dict[int, dict[str, KeyValue]] = {1: {}}
        self.leases: dict[int, set[str]] = {}

    @property
    def now(self) -> dict[str, KeyValue]:
        return self.history[self.revision]

    def apply(self, index: int, cmd: Command) -> None:
        """Apply ``cmd`` if it is valid; an invalid one changes nothing (as the store must)."""
        match cmd:
            case PutRequest() if cmd.lease == 0 or cmd.lease in self.leases:
                self.write([cmd])
            case DeleteRangeRequest():
                self.write([cmd])
            case TxnRequest():
                if writes_a_key_twice(cmd.success) or writes_a_key_twice(cmd.failure):
                    return  # refused as a request, whichever branch would run
                ops = cmd.success if all(self.holds(c) for c in cmd.compare) else cmd.failure
                for op in ops:
                    if isinstance(op, PutRequest) and op.lease and op.lease not in self.leases:
                        return
                    if isinstance(op, RangeRequest) and not self.readable(op.revision):
                        return
                self.write([op for op in ops if not isinstance(op, RangeRequest)])
            case CompactRequest() if self.compact_revision < cmd.revision <= self.revision:
                self.compact_revision = cmd.revision
            case LeaseGrantRequest():
                lease = cmd.id or min(i for i in range(max(index, 1), index + 10) if i not in self.leases)
                self.leases.setdefault(lease, set())
            case LeaseRevokeRequest() if cmd.id in self.leases:
                self.write([DeleteRangeRequest(k) for k in sorted(self.leases.pop(cmd.id))])
            case LeaseExpireRequest():
                for lease in cmd.ids:
                    if lease in self.leases:
                        self.write([DeleteRangeRequest(k) for k in sorted(self.leases.pop(lease))])

    def readable(self, revision: int) -> bool:
        return revision <= 0 or self.compact_revision <= revision <= self.revision

    def holds(self, c: Compare) -> bool:
        if c.range_end is None:
            kvs = [self.now[c.key]] if c.key in self.now else []
        else:
            kvs = [
                kv
                for k, kv in self.now.items()
                if c.key <= k and (c.range_end == ALL_KEYS or k < c.range_end)
            ]
        return c.holds(kvs)

    def write(self, ops: list[Any]) -> None:
        new, rev, changed = dict(self.now), self.revision + 1, False
        for op in ops:
            if isinstance(op, PutRequest):
                prev = new.get(op.key)
                if prev is not None and prev.lease in self.leases:
                    self.leases[prev.lease].discard(op.key)
                if op.lease:
                    self.leases[op.lease].add(op.key)
                create, version = (prev.create_revision, prev.version + 1) if prev else (rev, 1)
                new[op.key] = KeyValue(op.key, op.value, create, rev, version, op.lease)
                changed = True
            else:
                for k in sorted(new):
                    if covers(op, k):
                        if new[k].lease in self.leases:
                            self.leases[new[k].lease].discard(k)
                        del new[k]
                        changed = True
        if changed:
            self.revision = rev
            self.history[rev] = new


def writes_a_key_twice(ops: list[Any]) -> bool:
    puts = [op.key for op in ops if isinstance(op, PutRequest)]
    deletes = [op for op in ops if isinstance(op, DeleteRangeRequest)]
    return len(set(puts)) < len(puts) or any(covers(d, k) for d in deletes for k in puts)


def covers(op: DeleteRangeRequest, key: str) -> bool:
    end = op.range_end
    return key == op.key if end is None else op.key <= key and (end == ALL_KEYS or key < end)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_readable_revision_reads_as_a_naive_model_says(data: st.DataObject) -> None:
    m, model = Member(), Model()

    def apply(cmd: Command) -> None:
        m.apply(cmd)
        model.apply(m.index, cmd)

    draw_commands(data, m, apply)
    assert (m.sm.revision, m.sm.compact_revision) == (model.revision, model.compact_revision)
    for rev in range(max(model.compact_revision, 1), model.revision + 1):
        assert m.range(revision=rev) == [model.history[rev][k] for k in sorted(model.history[rev])], rev
    assert {lease.id: lease.keys for lease in m.sm.lessor.leases()} == model.leases


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_watchers_see_every_revision_once_and_in_order(data: st.DataObject) -> None:
    """Replaying a live watcher's events rebuilds every revision the model holds, prev_kv included; a
    watcher started later from any revision still in history gets exactly the same events from there."""
    m, model = Member(), Model()
    live = m.sm.watches.watch(ALL_KEYS, ALL_KEYS, prev_kv=True)
    events: list[Event] = []

    def apply(cmd: Command) -> None:
        result = m.apply(cmd)
        model.apply(m.index, cmd)
        events.extend(ev for r in result.watch_responses if r.watch_id == live for ev in r.events)

    draw_commands(data, m, apply)

    state: dict[str, KeyValue] = {}
    for i, ev in enumerate(events):
        assert ev.prev_kv == state.get(ev.kv.key)
        if ev.type is EventType.PUT:
            state[ev.kv.key] = ev.kv
        else:
            del state[ev.kv.key]
        if i + 1 == len(events) or events[i + 1].revision != ev.revision:
            assert state == model.history[ev.revision]
    assert sorted({ev.revision for ev in events}) == list(range(2, model.revision + 1))

    m.sm.watches.batch_revisions = data.draw(st.integers(1, 5))
    # Starting exactly at the compact revision is the edge: that revision's deletes must still come.
    start = data.draw(st.one_of(st.just(max(model.compact_revision, 1)), st.integers(1, model.revision)))
    late = m.sm.watches.watch(ALL_KEYS, ALL_KEYS, start_revision=start, prev_kv=True)
    responses: list[WatchResponse] = []
    while m.sm.watches.has_unsynced:
        responses += m.sm.watches.sync()
    if start < model.compact_revision:
        assert [(r.watch_id, r.canceled, r.compact_revision) for r in responses] == [
            (late, True, model.compact_revision)
        ]
    else:
        replayed = [ev for r in responses for ev in r.events]
        expected = [ev for ev in events if ev.revision >= start]
        # Like etcd, a replayed event's prev_kv is unknown when it is below the compact revision.
        assert [(ev.type, ev.kv) for ev in replayed] == [(ev.type, ev.kv) for ev in expected]
        for got, want in zip(replayed, expected, strict=True):
            if got.revision - 1 >= model.compact_revision:
                assert got.prev_kv == want.prev_kv
            else:
                assert got.prev_kv is None
