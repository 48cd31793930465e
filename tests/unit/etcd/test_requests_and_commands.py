"""Requests parsed from their wire shape, and commands encoded into Raft entry data and back."""

from __future__ import annotations

from typing import Any

import pytest

from services.etcd.mvcc import (
    ALL_KEYS,
    BadRequestError,
    CompactRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DuplicateKeyError,
    KeyNotProvidedError,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    MvccError,
    PutRequest,
    RangeRequest,
    TooManyOpsError,
    TxnRequest,
    WatchCreateRequest,
    decode_command,
    encode_command,
    prefix_range_end,
)
from services.etcd.mvcc.commands import Command


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("a", "b"),
        ("/registry/pods/", "/registry/pods0"),
        ("a\U0010ffff", "b"),  # the maximum code point carries, like etcd's 0xff byte
        ("\U0010ffff", ALL_KEYS),
        ("", ALL_KEYS),
        ("a\ud7ff", "a\ue000"),  # steps over the surrogates UTF-8 cannot encode
        ("é", "ê"),
    ],
)
def test_prefix_range_end(prefix: str, end: str) -> None:
    assert prefix_range_end(prefix) == end


def test_prefix_range_end_bounds_exactly_the_keys_with_the_prefix() -> None:
    end = prefix_range_end("ab")
    for key in ["ab", "ab\0", "abz", "ab\U0010ffff"]:
        assert "ab" <= key < end
    for key in ["aa\U0010ffff", "ac", "b"]:
        assert not ("ab" <= key < end)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"key": "a"}, RangeRequest("a")),
        ({"key": "a", "range_end": "c", "limit": 2}, RangeRequest("a", "c", limit=2)),
        ({"key": "a", "range_end": ""}, RangeRequest("a")),
        ({"key": "p/", "prefix": True, "count_only": True}, RangeRequest("p/", "p0", count_only=True)),
        ({"key": "", "prefix": True}, RangeRequest(ALL_KEYS, ALL_KEYS)),
        (
            {"key": "a", "revision": 3, "keys_only": True, "serializable": True},
            RangeRequest("a", revision=3, keys_only=True, serializable=True),
        ),
    ],
)
def test_range_request_from_wire(body: dict[str, Any], expected: RangeRequest) -> None:
    assert RangeRequest.from_wire(body) == expected


@pytest.mark.parametrize(
    ("parse", "body", "error", "message"),
    [
        (RangeRequest.from_wire, {}, KeyNotProvidedError, "etcdserver: key is not provided"),
        (PutRequest.from_wire, {"key": "", "value": "x"}, KeyNotProvidedError, "key is not provided"),
        (DeleteRangeRequest.from_wire, {"range_end": "b"}, KeyNotProvidedError, "key is not provided"),
        (RangeRequest.from_wire, [], BadRequestError, "must be a JSON object"),
        (RangeRequest.from_wire, {"key": 5}, BadRequestError, "key: must be a string, got int"),
        (RangeRequest.from_wire, {"key": "a", "limit": -1}, BadRequestError, "limit: must be >= 0"),
        (
            RangeRequest.from_wire,
            {"key": "a", "revision": True},
            BadRequestError,
            "revision: must be an integer",
        ),
        (RangeRequest.from_wire, {"key": "a", "prefix": "yes"}, BadRequestError, "prefix: must be a boolean"),
        (RangeRequest.from_wire, {"key": "a", "prefix": True, "range_end": "b"}, BadRequestError, "prefix"),
        (PutRequest.from_wire, {"key": "a", "value": 1}, BadRequestError, "value: must be a string"),
        (PutRequest.from_wire, {"key": "a\ud800"}, BadRequestError, "key: is not valid UTF-8"),
        (PutRequest.from_wire, {"key": "a", "lease": "7"}, BadRequestError, "lease: must be an integer"),
        (TxnRequest.from_wire, {"success": {}}, BadRequestError, "success: must be a list"),
        (TxnRequest.from_wire, {"success": [{"get": {}}]}, BadRequestError, "op: must have exactly one of"),
        (TxnRequest.from_wire, {"compare": [{"key": "a", "target": "x"}]}, BadRequestError, "target must be"),
        (
            TxnRequest.from_wire,
            {"compare": [{"key": "a", "target": "version", "result": "=", "value": "1"}]},
            BadRequestError,
            "value: must be an integer",
        ),
        (
            TxnRequest.from_wire,
            {"success": [{"put": {"key": "a"}}, {"put": {"key": "a"}}]},
            DuplicateKeyError,
            "etcdserver: duplicate key given in txn request",
        ),
        (
            TxnRequest.from_wire,
            {"failure": [{"put": {"key": "b"}}, {"delete": {"key": "a", "range_end": "c"}}]},
            DuplicateKeyError,
            "duplicate key",
        ),
        (
            TxnRequest.from_wire,
            {"success": [{"put": {"key": f"k{i}"}} for i in range(129)]},
            TooManyOpsError,
            "etcdserver: too many operations in txn request",
        ),
        (LeaseGrantRequest.from_wire, {"ttl": "10"}, BadRequestError, "ttl: must be an integer"),
        (LeaseExpireRequest.from_wire, {"ids": [1, "2"]}, BadRequestError, "ids: must be a list of integers"),
    ],
)
def test_bad_requests_are_400_errors_naming_the_field(
    parse: Any, body: Any, error: type[MvccError], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        parse(body)
    assert raised.value.code == 400


def test_overlapping_deletes_and_puts_in_different_branches_are_allowed() -> None:
    txn = TxnRequest.from_wire(
        {
            "success": [{"delete": {"key": "a", "range_end": "c"}}, {"delete": {"key": "b"}}],
            "failure": [{"put": {"key": "b"}}],
        }
    )
    assert len(txn.success) == 2 and len(txn.failure) == 1


COMMANDS: list[Command] = [
    PutRequest("a", "1"),
    PutRequest("ключ", "värde ✓", lease=7, prev_kv=True),
    DeleteRangeRequest("a"),
    DeleteRangeRequest("a", "b", prev_kv=True),
    TxnRequest(
        [
            Compare("a", CompareTarget.VERSION, CompareResult.EQUAL, 0),
            Compare("b", CompareTarget.VALUE, CompareResult.NOT_EQUAL, ""),
            Compare("p/", CompareTarget.MOD_REVISION, CompareResult.LESS, 9, "p0"),
        ],
        [PutRequest("a", "1"), RangeRequest("a", "c", limit=1)],
        [DeleteRangeRequest("b", ALL_KEYS)],
    ),
    TxnRequest(),
    CompactRequest(42),
    LeaseGrantRequest(10),
    LeaseGrantRequest(10, id=99),
    LeaseRevokeRequest(99),
    LeaseExpireRequest([99, 100]),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_commands_round_trip_through_their_encoding(command: Command) -> None:
    assert decode_command(encode_command(command)) == command


@pytest.mark.parametrize(
    ("command", "data"),
    [
        (PutRequest("a", "1"), b'{"op":"put","key":"a","value":"1"}'),
        (
            PutRequest("a", "é", lease=7, prev_kv=True),
            '{"op":"put","key":"a","value":"é","lease":7,"prev_kv":true}'.encode(),
        ),
        (DeleteRangeRequest("a", "b"), b'{"op":"delete_range","key":"a","range_end":"b"}'),
        (
            TxnRequest([Compare("a", CompareTarget.VERSION, CompareResult.EQUAL, 0)], [PutRequest("a", "1")]),
            b'{"op":"txn","compare":[{"key":"a","target":"version","result":"=","value":0}],'
            b'"success":[{"put":{"key":"a","value":"1"}}]}',
        ),
        (CompactRequest(5), b'{"op":"compact","revision":5}'),
        (LeaseGrantRequest(10), b'{"op":"lease_grant","ttl":10}'),
        (LeaseExpireRequest([3]), b'{"op":"lease_expire","ids":[3]}'),
    ],
)
def test_commands_encode_as_compact_json(command: Command, data: bytes) -> None:
    assert encode_command(command) == data


def test_a_committed_txn_decodes_whatever_the_op_limit() -> None:
    big = TxnRequest(success=[PutRequest(f"k{i}", "v") for i in range(200)])
    assert decode_command(encode_command(big)) == big


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid UTF-8 JSON"),
        (b"\xff", "not valid UTF-8 JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"key":"a"}', "unknown op None"),
        (b'{"op":"range","key":"a"}', "unknown op 'range'"),
        (b'{"op":"put","key":""}', "key is not provided"),
    ],
)
def test_undecodable_entries_are_bad_request_errors(data: bytes, message: str) -> None:
    with pytest.raises(MvccError, match=message) as raised:
        decode_command(data)
    assert raised.value.code == 400


def test_member_local_requests_from_wire() -> None:
    body = {"key": "/r/", "prefix": True, "start_revision": 7, "prev_kv": True, "deliver": "_INBOX.w"}
    assert WatchCreateRequest.from_wire(body) == WatchCreateRequest("/r/", "/r0", 7, True, "_INBOX.w")
    assert WatchCreateRequest.from_wire({"key": "a"}) == WatchCreateRequest("a")
    assert LeaseKeepAliveRequest.from_wire({"id": 5}) == LeaseKeepAliveRequest(5)
    assert LeaseTimeToLiveRequest.from_wire({"id": 5, "keys": True}) == LeaseTimeToLiveRequest(5, True)
    with pytest.raises(KeyNotProvidedError):
        WatchCreateRequest.from_wire({"deliver": "x"})
