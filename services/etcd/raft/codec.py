"""Encoding of Raft ``Message`` values to bytes and back, for the network transport between members.

Two framings exist. The binary one is the default (``encode_message`` / ``decode_message``) because it
measured 2.5 to 4 times faster than JSON on both a 64-entry ``MsgApp`` and a heartbeat (run
``bench/raft_codec.py``). The JSON one stays for debugging and for tools that cannot parse binary.

Binary framing (little-endian)::

    0xB1 | type u8 | flags u8 (1 = reject, 2 = has snapshot)
         | term u64 | log_term u64 | index u64 | commit u64 | reject_hint u64
         | to (u16 len | utf-8) | from (u16 len | utf-8) | context (u32 len | bytes)
         | entry_count u32 | entries: (term u64 | index u64 | type u8 | data_len u32 | data)*
         | snapshot, if flagged: index u64 | term u64 | voter_count u16 | (u16 len | utf-8)*
                                 | data_len u64 | data

Message type codes are fixed in ``_TYPE_CODES`` (never renumbered, so members of different versions
agree). Both decoders treat their input as hostile: nothing is evaluated (no pickle), every length is
checked against the bytes present, and any malformed input raises ``CodecError`` with the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any

from services.etcd.raft.types import Entry, EntryType, Message, MessageType, Snapshot, SnapshotMetadata

_MAGIC = 0xB1
_FLAG_REJECT = 1
_FLAG_SNAPSHOT = 2
_U64_MAX = (1 << 64) - 1

_TYPE_CODES: dict[MessageType, int] = {
    MessageType.HUP: 1,
    MessageType.BEAT: 2,
    MessageType.PROP: 3,
    MessageType.CHECK_QUORUM: 4,
    MessageType.SNAP_STATUS: 5,
    MessageType.UNREACHABLE: 6,
    MessageType.TRANSFER_LEADER: 7,
    MessageType.READ_INDEX: 8,
    MessageType.APP: 9,
    MessageType.APP_RESP: 10,
    MessageType.VOTE: 11,
    MessageType.VOTE_RESP: 12,
    MessageType.PRE_VOTE: 13,
    MessageType.PRE_VOTE_RESP: 14,
    MessageType.SNAP: 15,
    MessageType.HEARTBEAT: 16,
    MessageType.HEARTBEAT_RESP: 17,
    MessageType.TIMEOUT_NOW: 18,
    MessageType.READ_INDEX_RESP: 19,
}
_TYPES_BY_CODE = {code: kind for kind, code in _TYPE_CODES.items()}
_ENTRY_TYPE_CODES = {EntryType.NORMAL: 0, EntryType.CONF_CHANGE: 1}
_ENTRY_TYPES_BY_CODE = {code: kind for kind, code in _ENTRY_TYPE_CODES.items()}

_HEAD = struct.Struct("<BBBQQQQQ")
_ENTRY = struct.Struct("<QQBI")
_SNAP_HEAD = struct.Struct("<QQH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class CodecError(ValueError):
    """The bytes are not a valid encoded message (or the message cannot be encoded)."""


# ---------------------------------------------------------------------------------------------------------
# Binary


def encode_message_binary(msg: Message) -> bytes:
    try:
        flags = (_FLAG_REJECT if msg.reject else 0) | (_FLAG_SNAPSHOT if msg.snapshot is not None else 0)
        to, frm = msg.to.encode(), msg.frm.encode()
        parts = [
            _HEAD.pack(
                _MAGIC,
                _TYPE_CODES[msg.type],
                flags,
                msg.term,
                msg.log_term,
                msg.index,
                msg.commit,
                msg.reject_hint,
            ),
            _U16.pack(len(to)),
            to,
            _U16.pack(len(frm)),
            frm,
            _U32.pack(len(msg.context)),
            msg.context,
            _U32.pack(len(msg.entries)),
        ]
        pack_entry = _ENTRY.pack
        entry_codes = _ENTRY_TYPE_CODES
        for e in msg.entries:
            parts.append(pack_entry(e.term, e.index, entry_codes[e.type], len(e.data)))
            parts.append(e.data)
        if msg.snapshot is not None:
            meta = msg.snapshot.metadata
            parts.append(_SNAP_HEAD.pack(meta.index, meta.term, len(meta.voters)))
            for voter in meta.voters:
                raw = voter.encode()
                parts.append(_U16.pack(len(raw)))
                parts.append(raw)
            parts.append(_U64.pack(len(msg.snapshot.data)))
            parts.append(msg.snapshot.data)
        return b"".join(parts)
    except (struct.error, KeyError, AttributeError, TypeError, UnicodeError) as exc:
        raise CodecError(f"cannot encode {msg.type!r}: {exc}") from exc


class _Reader:
    """Bounds-checked reads from a byte string; every overrun is a ``CodecError``."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, length: int, what: str) -> bytes:
        end = self.pos + length
        if end > len(self.buf):
            raise CodecError(f"truncated {what}: {length} bytes needed, {len(self.buf) - self.pos} left")
        chunk = self.buf[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: struct.Struct, what: str) -> tuple[Any, ...]:
        if self.pos + fmt.size > len(self.buf):
            raise CodecError(f"truncated {what}")
        values = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return values

    def string(self, what: str) -> str:
        (length,) = self.unpack(_U16, what)
        try:
            return self.take(length, what).decode()
        except UnicodeDecodeError as exc:
            raise CodecError(f"{what} is not UTF-8") from exc


def decode_message_binary(data: bytes | bytearray | memoryview) -> Message:
    buf = bytes(data)
    r = _Reader(buf)
    magic, code, flags, term, log_term, index, commit, reject_hint = r.unpack(_HEAD, "message header")
    if magic != _MAGIC:
        raise CodecError(f"not a binary raft message (first byte {magic:#x})")
    kind = _TYPES_BY_CODE.get(code)
    if kind is None:
        raise CodecError(f"unknown message type code {code}")
    if flags & ~(_FLAG_REJECT | _FLAG_SNAPSHOT):
        raise CodecError(f"unknown flags {flags:#x}")
    to = r.string("to")
    frm = r.string("from")
    (context_len,) = r.unpack(_U32, "context length")
    context = r.take(context_len, "context")
    (count,) = r.unpack(_U32, "entry count")
    if count * _ENTRY.size > len(buf) - r.pos:
        raise CodecError(f"{count} entries cannot fit in {len(buf) - r.pos} bytes")
    entries = []
    # The hot loop of decoding a MsgApp, so it reads the buffer directly instead of through _Reader.
    pos, size, unpack_entry, entry_types = r.pos, len(buf), _ENTRY.unpack_from, _ENTRY_TYPES_BY_CODE
    for _ in range(count):
        if pos + _ENTRY.size > size:
            raise CodecError("truncated entry header")
        e_term, e_index, e_code, e_len = unpack_entry(buf, pos)
        start = pos + _ENTRY.size
        pos = start + e_len
        if pos > size:
            raise CodecError("truncated entry data")
        e_type = entry_types.get(e_code)
        if e_type is None:
            raise CodecError(f"unknown entry type code {e_code}")
        entries.append(Entry(e_term, e_index, buf[start:pos], e_type))
    r.pos = pos
    snapshot = None
    if flags & _FLAG_SNAPSHOT:
        s_index, s_term, voter_count = r.unpack(_SNAP_HEAD, "snapshot header")
        voters = tuple(r.string("voter") for _ in range(voter_count))
        (s_len,) = r.unpack(_U64, "snapshot data length")
        snapshot = Snapshot(SnapshotMetadata(s_index, s_term, voters), r.take(s_len, "snapshot data"))
    if r.pos != len(buf):
        raise CodecError(f"{len(buf) - r.pos} trailing bytes after the message")
    return Message(
        type=kind,
        to=to,
        frm=frm,
        term=term,
        log_term=log_term,
        index=index,
        entries=tuple(entries),
        commit=commit,
        snapshot=snapshot,
        reject=bool(flags & _FLAG_REJECT),
        reject_hint=reject_hint,
        context=context,
    )


# ---------------------------------------------------------------------------------------------------------
# JSON: bytes travel as base64, entries as [term, index, type, data] to keep the text small


_JSON_TYPES = frozenset(t.value for t in MessageType)
_JSON_ENTRY_TYPES = frozenset(t.value for t in EntryType)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def encode_message_json(msg: Message) -> bytes:
    doc: dict[str, Any] = {
        "type": msg.type.value,
        "to": msg.to,
        "from": msg.frm,
        "term": msg.term,
        "log_term": msg.log_term,
        "index": msg.index,
        "commit": msg.commit,
        "reject": msg.reject,
        "reject_hint": msg.reject_hint,
        "context": _b64(msg.context),
        "entries": [[e.term, e.index, e.type.value, _b64(e.data)] for e in msg.entries],
        "snapshot": None,
    }
    if msg.snapshot is not None:
        meta = msg.snapshot.metadata
        doc["snapshot"] = {
            "index": meta.index,
            "term": meta.term,
            "voters": list(meta.voters),
            "data": _b64(msg.snapshot.data),
        }
    for name in ("term", "log_term", "index", "commit", "reject_hint"):
        if not 0 <= doc[name] <= _U64_MAX:
            raise CodecError(f"{name} {doc[name]} does not fit an unsigned 64-bit field")
    return json.dumps(doc, separators=(",", ":")).encode()


def _uint(value: Any, what: str) -> int:
    # bool is an int subclass; a "true" term is malformed input, not 1.
    if type(value) is not int or not 0 <= value <= _U64_MAX:
        raise CodecError(f"{what} must be an unsigned 64-bit integer, got {value!r:.40}")
    return value


def _str(value: Any, what: str) -> str:
    if type(value) is not str:
        raise CodecError(f"{what} must be a string, got {value!r:.40}")
    try:
        value.encode()  # JSON can carry lone surrogates, which no other layer could encode again
    except UnicodeEncodeError as exc:
        raise CodecError(f"{what} is not valid Unicode") from exc
    return value


def _bytes(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(_str(value, what), validate=True)
    except binascii.Error as exc:
        raise CodecError(f"{what} is not base64: {exc}") from exc


def _field(doc: dict[str, Any], name: str) -> Any:
    try:
        return doc[name]
    except KeyError:
        raise CodecError(f"missing field {name!r}") from None


def decode_message_json(data: bytes | bytearray | memoryview) -> Message:
    try:
        doc = json.loads(bytes(data))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CodecError(f"not JSON: {exc}") from exc
    if type(doc) is not dict:
        raise CodecError("a message must be a JSON object")
    type_name = _str(_field(doc, "type"), "type")
    if type_name not in _JSON_TYPES:
        raise CodecError(f"unknown message type {type_name!r:.40}")
    kind = MessageType(type_name)
    reject = _field(doc, "reject")
    if type(reject) is not bool:
        raise CodecError("reject must be a boolean")
    raw_entries = _field(doc, "entries")
    if type(raw_entries) is not list:
        raise CodecError("entries must be a list")
    entries = []
    for item in raw_entries:
        if type(item) is not list or len(item) != 4:
            raise CodecError("an entry must be [term, index, type, data]")
        e_type_name = _str(item[2], "entry type")
        if e_type_name not in _JSON_ENTRY_TYPES:
            raise CodecError(f"unknown entry type {e_type_name!r:.40}")
        e_type = EntryType(e_type_name)
        entries.append(
            Entry(
                _uint(item[0], "entry term"), _uint(item[1], "entry index"), _bytes(item[3], "data"), e_type
            )
        )
    raw_snapshot = _field(doc, "snapshot")
    snapshot = None
    if raw_snapshot is not None:
        if type(raw_snapshot) is not dict:
            raise CodecError("snapshot must be an object or null")
        voters = _field(raw_snapshot, "voters")
        if type(voters) is not list:
            raise CodecError("voters must be a list")
        meta = SnapshotMetadata(
            index=_uint(_field(raw_snapshot, "index"), "snapshot index"),
            term=_uint(_field(raw_snapshot, "term"), "snapshot term"),
            voters=tuple(_str(v, "voter") for v in voters),
        )
        snapshot = Snapshot(meta, _bytes(_field(raw_snapshot, "data"), "snapshot data"))
    return Message(
        type=kind,
        to=_str(_field(doc, "to"), "to"),
        frm=_str(_field(doc, "from"), "from"),
        term=_uint(_field(doc, "term"), "term"),
        log_term=_uint(_field(doc, "log_term"), "log_term"),
        index=_uint(_field(doc, "index"), "index"),
        entries=tuple(entries),
        commit=_uint(_field(doc, "commit"), "commit"),
        snapshot=snapshot,
        reject=reject,
        reject_hint=_uint(_field(doc, "reject_hint"), "reject_hint"),
        context=_bytes(_field(doc, "context"), "context"),
    )


# The faster framing by measurement (see the module docstring); the transport uses only these two names.
encode_message = encode_message_binary
decode_message = decode_message_binary
