"""Contract: transactions — compares on every target and operator, branches, their responses, one revision."""

from __future__ import annotations

import pytest

from services.etcd.client.api import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteOp,
    DeleteResult,
    InvalidArgumentError,
    KeyValue,
    KVClient,
    PutOp,
    PutResult,
    RangeOp,
    RangeResult,
)

OPERATORS: list[CompareResult] = ["=", "!=", "<", ">"]
HOLDS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


async def revision_now(kv: KVClient) -> int:
    return (await kv.range("/contract/no-such-key")).header.revision


async def holds(kv: KVClient, compare: Compare) -> bool:
    return (await kv.txn([compare], [], [])).succeeded


def field_of(kv_: KeyValue, target: CompareTarget) -> str | int:
    fields: dict[str, str | int] = {
        "value": kv_.value,
        "version": kv_.version,
        "create_revision": kv_.create_revision,
        "mod_revision": kv_.mod_revision,
        "lease": kv_.lease,
    }
    return fields[target]


@pytest.mark.parametrize("target", ["value", "version", "create_revision", "mod_revision", "lease"])
async def test_compare_on_an_existing_key_applies_each_operator(
    kv: KVClient, prefix: str, target: CompareTarget
) -> None:
    lease = await kv.lease_grant(60)
    try:
        await kv.put(prefix + "k", "m", lease=lease.id)
        await kv.put(prefix + "k", "m", lease=lease.id)
        [kv_] = (await kv.range(prefix + "k")).kvs
        actual = field_of(kv_, target)
        references: list[str | int] = (
            ["a", "m", "z"] if isinstance(actual, str) else [int(actual) - 1, int(actual), int(actual) + 1]
        )
        wrong = [
            (operator, reference)
            for operator in OPERATORS
            for reference in references
            if await holds(kv, Compare(prefix + "k", target, operator, reference))
            != HOLDS[operator](actual, reference)
        ]
        assert wrong == [], f"{target} = {actual!r}: these compares gave the wrong answer"
    finally:
        await kv.lease_revoke(lease.id)


@pytest.mark.parametrize("target", ["version", "create_revision", "mod_revision", "lease"])
async def test_compare_on_a_missing_key_sees_zero(kv: KVClient, prefix: str, target: CompareTarget) -> None:
    answers = {
        (op, ref): await holds(kv, Compare(prefix + "missing", target, op, ref))
        for op in OPERATORS
        for ref in (0, 1)
    }
    assert answers == {(op, ref): HOLDS[op](0, ref) for op in OPERATORS for ref in (0, 1)}


async def test_compare_on_the_value_of_a_missing_key_is_false_whatever_the_operator(
    kv: KVClient, prefix: str
) -> None:
    # etcd: "nil == empty string in grpc; no way to represent missing value" — so no value compare holds.
    answers = {
        (op, reference): await holds(kv, Compare(prefix + "missing", "value", op, reference))
        for op in OPERATORS
        for reference in ("", "x")
    }
    assert not any(answers.values()), answers


async def test_a_txn_with_no_compares_runs_the_success_branch(kv: KVClient, prefix: str) -> None:
    result = await kv.txn([], [PutOp(prefix + "k", "v")], [PutOp(prefix + "other", "v")])
    assert result.succeeded
    assert [x.key for x in (await kv.range(prefix, prefix=True)).kvs] == [prefix + "k"]


async def test_all_writes_of_a_txn_happen_at_one_new_revision(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "gone", "x")
    before = await revision_now(kv)
    result = await kv.txn(
        [], [PutOp(prefix + "a", "1"), PutOp(prefix + "b", "2"), DeleteOp(prefix + "gone")], []
    )
    assert result.header.revision == before + 1
    kvs = (await kv.range(prefix, prefix=True)).kvs
    assert [(x.key, x.mod_revision) for x in kvs] == [(prefix + "a", before + 1), (prefix + "b", before + 1)]
    assert await revision_now(kv) == before + 1


async def test_a_txn_without_writes_keeps_the_revision(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "k", "v")
    before = await revision_now(kv)
    result = await kv.txn([Compare(prefix + "k", "value", "=", "v")], [RangeOp(prefix + "k")], [])
    assert result.succeeded
    assert result.header.revision == before
    assert await revision_now(kv) == before


async def test_success_branch_runs_when_every_compare_holds_and_returns_one_response_per_op(
    kv: KVClient, prefix: str
) -> None:
    await kv.put(prefix + "a", "1")
    await kv.put(prefix + "b", "2")
    result = await kv.txn(
        [Compare(prefix + "a", "value", "=", "1"), Compare(prefix + "b", "version", "=", 1)],
        [
            PutOp(prefix + "a", "10", prev_kv=True),
            RangeOp(prefix + "b"),
            DeleteOp(prefix + "b", prev_kv=True),
        ],
        [PutOp(prefix + "failed", "x")],
    )
    assert result.succeeded
    put, range_, delete = result.responses
    assert isinstance(put, PutResult) and put.prev_kv is not None and put.prev_kv.value == "1"
    assert isinstance(range_, RangeResult) and [x.value for x in range_.kvs] == ["2"] and range_.count == 1
    assert (
        isinstance(delete, DeleteResult)
        and delete.deleted == 1
        and [x.value for x in delete.prev_kvs] == ["2"]
    )
    assert all(r.header.revision == result.header.revision for r in result.responses)
    assert [(x.key, x.value) for x in (await kv.range(prefix, prefix=True)).kvs] == [(prefix + "a", "10")]


async def test_failure_branch_runs_when_any_compare_fails(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "a", "1")
    result = await kv.txn(
        [Compare(prefix + "a", "value", "=", "1"), Compare(prefix + "a", "version", ">", 1)],
        [PutOp(prefix + "success", "x")],
        [RangeOp(prefix + "a"), PutOp(prefix + "failure", "y")],
    )
    assert not result.succeeded
    range_, put = result.responses
    assert isinstance(range_, RangeResult) and [x.value for x in range_.kvs] == ["1"]
    assert isinstance(put, PutResult) and put.prev_kv is None
    assert [x.key for x in (await kv.range(prefix, prefix=True)).kvs] == [prefix + "a", prefix + "failure"]


async def test_ranges_in_a_txn_see_the_writes_made_earlier_in_the_branch(kv: KVClient, prefix: str) -> None:
    await kv.put(prefix + "old", "x")
    result = await kv.txn(
        [],
        [PutOp(prefix + "new", "1"), DeleteOp(prefix + "old"), RangeOp(prefix, prefix=True, count_only=True)],
        [],
    )
    counted = result.responses[2]
    assert isinstance(counted, RangeResult) and counted.count == 1


async def test_create_if_absent_succeeds_once(kv: KVClient, prefix: str) -> None:
    async def create(value: str) -> bool:
        result = await kv.txn(
            [Compare(prefix + "k", "create_revision", "=", 0)],
            [PutOp(prefix + "k", value)],
            [RangeOp(prefix + "k")],
        )
        return result.succeeded

    assert await create("first")
    assert not await create("second")
    assert [x.value for x in (await kv.range(prefix + "k")).kvs] == ["first"]


async def test_compare_and_swap_on_mod_revision_rejects_a_stale_writer(kv: KVClient, prefix: str) -> None:
    seen = (await kv.put(prefix + "k", "v1")).header.revision

    async def update(value: str, expected: int) -> bool:
        result = await kv.txn(
            [Compare(prefix + "k", "mod_revision", "=", expected)], [PutOp(prefix + "k", value)], []
        )
        return result.succeeded

    assert await update("v2", seen)
    assert not await update("v3", seen)  # the second writer read the same revision: it lost
    assert [x.value for x in (await kv.range(prefix + "k")).kvs] == ["v2"]


async def test_writing_one_key_twice_in_a_txn_is_refused_and_writes_nothing(
    kv: KVClient, prefix: str
) -> None:
    before = await revision_now(kv)
    with pytest.raises(InvalidArgumentError) as raised:
        await kv.txn([], [PutOp(prefix + "k", "1"), PutOp(prefix + "k", "2")], [])
    assert raised.value.code == 400
    with pytest.raises(InvalidArgumentError):
        await kv.txn([], [PutOp(prefix + "k", "1"), DeleteOp(prefix + "k")], [])
    assert await revision_now(kv) == before
    assert (await kv.range(prefix + "k")).kvs == []


def test_a_compare_takes_a_str_for_value_and_an_int_for_the_rest() -> None:
    with pytest.raises(TypeError):
        Compare("k", "value", "=", 1)
    with pytest.raises(TypeError):
        Compare("k", "version", "=", "1")
    with pytest.raises(ValueError):
        Compare("k", "version", "==", 1)  # type: ignore[arg-type]
