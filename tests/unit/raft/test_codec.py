"""The message codecs: every message round-trips, and malformed bytes raise CodecError and nothing else."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.etcd.raft import codec
from services.etcd.raft.codec import CodecError
from services.etcd.raft.types import Entry, EntryType, Message, MessageType, Snapshot, SnapshotMetadata

Encoder = Callable[[Message], bytes]
Decoder = Callable[[bytes], Message]

FRAMINGS = [
    pytest.param(codec.encode_message_binary, codec.decode_message_binary, id="binary"),
    pytest.param(codec.encode_message_json, codec.decode_message_json, id="json"),
]

u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
names = st.text(max_size=12)
entries = st.builds(Entry, term=u64, index=u64, data=st.binary(max_size=64), type=st.sampled_from(EntryType))
snapshots = st.builds(
    Snapshot,
    metadata=st.builds(SnapshotMetadata, index=u64, term=u64, voters=st.lists(names, max_size=5).map(tuple)),
    data=st.binary(max_size=256),
)
messages = st.builds(
    Message,
    type=st.sampled_from(MessageType),
    to=names,
    frm=names,
    term=u64,
    log_term=u64,
    index=u64,
    entries=st.lists(entries, max_size=8).map(tuple),
    commit=u64,
    snapshot=st.none() | snapshots,
    reject=st.booleans(),
    reject_hint=u64,
    context=st.binary(max_size=32),
)


def app() -> Message:
    return Message(
        type=MessageType.APP,
        to="cp-2",
        frm="cp-1",
        term=3,
        log_term=2,
        index=10,
        entries=(Entry(3, 11, b"put a"), Entry(3, 12, b"", EntryType.CONF_CHANGE)),
        commit=9,
        context=b"ctx",
    )


def snap_message() -> Message:
    meta = SnapshotMetadata(index=100, term=3, voters=("cp-1", "cp-2"))
    return Message(type=MessageType.SNAP, to="cp-2", frm="cp-1", term=3, snapshot=Snapshot(meta, b"state"))


# ---------------------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize(("encode", "decode"), FRAMINGS)
@settings(max_examples=300)
@given(msg=messages)
def test_any_message_round_trips(encode: Encoder, decode: Decoder, msg: Message) -> None:
    assert decode(encode(msg)) == msg


@pytest.mark.parametrize(("encode", "decode"), FRAMINGS)
@pytest.mark.parametrize("kind", list(MessageType))
def test_every_message_type_round_trips_with_entries_and_a_snapshot(
    encode: Encoder, decode: Decoder, kind: MessageType
) -> None:
    msg = Message(
        type=kind,
        to="b",
        frm="a",
        term=1,
        entries=app().entries,
        snapshot=snap_message().snapshot,
        reject=True,
        reject_hint=4,
    )
    assert decode(encode(msg)) == msg


def test_the_default_framing_is_the_binary_one() -> None:
    assert codec.encode_message is codec.encode_message_binary
    assert codec.decode_message is codec.decode_message_binary
    assert codec.decode_message(codec.encode_message(app())) == app()


def test_the_binary_decoder_accepts_bytearray_and_memoryview() -> None:
    blob = codec.encode_message_binary(app())
    assert codec.decode_message_binary(bytearray(blob)) == app()
    assert codec.decode_message_binary(memoryview(blob)) == app()


@pytest.mark.parametrize(("encode", "decode"), FRAMINGS)
def test_a_value_that_does_not_fit_64_bits_cannot_be_encoded(encode: Encoder, decode: Decoder) -> None:
    with pytest.raises(CodecError):
        encode(Message(type=MessageType.HEARTBEAT, term=-1))
    with pytest.raises(CodecError):
        encode(Message(type=MessageType.HEARTBEAT, commit=1 << 64))


# ---------------------------------------------------------------------------------------------------------
# Malformed input


@pytest.mark.parametrize(("encode", "decode"), FRAMINGS)
@pytest.mark.parametrize("msg", [app(), snap_message()], ids=["app", "snap"])
def test_every_truncation_is_a_codec_error(encode: Encoder, decode: Decoder, msg: Message) -> None:
    blob = encode(msg)
    for length in range(len(blob)):
        with pytest.raises(CodecError):
            decode(blob[:length])


@pytest.mark.parametrize(("encode", "decode"), FRAMINGS)
@settings(max_examples=500)
@given(blob=st.binary(max_size=200))
def test_arbitrary_bytes_decode_to_a_message_or_a_codec_error(
    encode: Encoder, decode: Decoder, blob: bytes
) -> None:
    with contextlib.suppress(CodecError):
        decode(blob)


@settings(max_examples=500)
@given(msg=messages, data=st.data())
def test_a_corrupted_binary_message_decodes_to_a_message_or_a_codec_error(
    msg: Message, data: st.DataObject
) -> None:
    blob = bytearray(codec.encode_message_binary(msg))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CodecError):
        codec.decode_message_binary(bytes(blob))


def test_binary_trailing_bytes_are_a_codec_error() -> None:
    with pytest.raises(CodecError, match="trailing"):
        codec.decode_message_binary(codec.encode_message_binary(app()) + b"\x00")


def test_binary_wrong_first_byte_is_a_codec_error() -> None:
    blob = bytearray(codec.encode_message_binary(app()))
    blob[0] = ord("{")
    with pytest.raises(CodecError, match="not a binary"):
        codec.decode_message_binary(bytes(blob))


def test_binary_unknown_message_type_is_a_codec_error() -> None:
    blob = bytearray(codec.encode_message_binary(app()))
    blob[1] = 200
    with pytest.raises(CodecError, match="unknown message type"):
        codec.decode_message_binary(bytes(blob))


def test_binary_unknown_flags_are_a_codec_error() -> None:
    blob = bytearray(codec.encode_message_binary(app()))
    blob[2] |= 0x80
    with pytest.raises(CodecError, match="flags"):
        codec.decode_message_binary(bytes(blob))


def test_binary_unknown_entry_type_is_a_codec_error() -> None:
    msg = Message(type=MessageType.APP, entries=(Entry(1, 1, b"x"),))
    blob = bytearray(codec.encode_message_binary(msg))
    entry_type_at = len(blob) - 1 - 4 - 1  # data (1 byte), data length (4), then the type byte
    blob[entry_type_at] = 9
    with pytest.raises(CodecError, match="entry type"):
        codec.decode_message_binary(bytes(blob))


def test_binary_invalid_utf8_in_a_name_is_a_codec_error() -> None:
    blob = bytearray(codec.encode_message_binary(Message(type=MessageType.VOTE, to="ab")))
    header = 3 + 5 * 8
    blob[header + 2] = 0xFF  # first byte of "ab"
    with pytest.raises(CodecError, match="UTF-8"):
        codec.decode_message_binary(bytes(blob))


def test_binary_entry_count_larger_than_the_message_is_a_codec_error() -> None:
    blob = bytearray(codec.encode_message_binary(Message(type=MessageType.APP)))
    blob[-4:] = (0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(CodecError, match="cannot fit"):
        codec.decode_message_binary(bytes(blob))


def _json(**changes: object) -> bytes:
    doc = json.loads(codec.encode_message_json(app()))
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (_json(type="gossip"), "unknown message type"),
        (_json(type=3), "type must be a string"),
        (_json(term="3"), "term must be"),
        (_json(term=True), "term must be"),
        (_json(term=-1), "term must be"),
        (_json(term=1 << 64), "term must be"),
        (_json(term=1.5), "term must be"),
        (_json(reject="no"), "reject must be a boolean"),
        (_json(context="***"), "not base64"),
        (_json(to=None), "to must be a string"),
        (_json(to="\ud800"), "not valid Unicode"),
        (_json(entries={}), "entries must be a list"),
        (_json(entries=[[1, 2, "normal"]]), "an entry must be"),
        (_json(entries=[[1, 2, "weird", ""]]), "unknown entry type"),
        (_json(snapshot=[]), "snapshot must be"),
        (_json(snapshot={"index": 1, "term": 1, "voters": "ab", "data": ""}), "voters must be a list"),
        (_json(snapshot={"index": 1, "term": 1, "voters": []}), "missing field 'data'"),
    ],
)
def test_malformed_json_is_a_codec_error_saying_why(blob: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        codec.decode_message_json(blob)


def test_json_missing_field_is_a_codec_error() -> None:
    doc = json.loads(codec.encode_message_json(app()))
    del doc["commit"]
    with pytest.raises(CodecError, match="missing field 'commit'"):
        codec.decode_message_json(json.dumps(doc).encode())
