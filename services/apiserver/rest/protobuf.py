"""Kubernetes' protobuf request bodies, decoded into the dict the same object sent as JSON would give.

client-go's typed clients (and so kubectl's generator commands: ``create namespace``, ``create
deployment``, ``create service``) write ``application/vnd.kubernetes.protobuf``: the four bytes ``k8s\\0``,
then a ``runtime.Unknown`` whose ``typeMeta`` names the object's apiVersion and kind and whose ``raw``
holds the object's own message. :func:`decode_protobuf` reads that with the table of
:mod:`~services.apiserver.rest.protoschema` and returns what Go's JSON encoder would have written for the
same object — zero values of ``omitempty`` fields dropped, ``Time`` as RFC 3339, ``Quantity`` and
``IntOrString`` as in JSON — so everything after decoding is the JSON path, unchanged.

Unknown field numbers are skipped, as kube-apiserver's protobuf decoder skips them whatever
``fieldValidation`` says (it has no strict mode); the caller gets their places back to warn about. A body
that is not well-formed protobuf, or names a kind not served here, is a 400 ``BadRequest``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.apiserver.rest.protoschema import KINDS, MESSAGES, Field
from shared.errors import ApiError

MAGIC = b"k8s\x00"
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {VARINT: "varint", FIXED64: "fixed64", LENGTH: "length-delimited", FIXED32: "fixed32"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Go's zero time.Time, as some encoders write it instead of leaving the Time empty.
_GO_ZERO_SECONDS = -62135596800


class ProtobufError(ValueError):
    """A body that is not a well-formed protobuf object of a kind served here."""


@dataclass(slots=True)
class DecodedBody:
    """The object as a JSON dict, and the places of the unknown fields that were skipped."""

    object: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


def decode_protobuf(data: bytes) -> DecodedBody:
    """A protobuf request body as its JSON dict; ApiError 400 with the reason when it cannot be read."""
    try:
        return decode_body(data)
    except ProtobufError as error:
        raise ApiError(400, f"error decoding protobuf body: {error}") from None


def decode_body(data: bytes) -> DecodedBody:
    """The envelope and the object inside it; ProtobufError when either is malformed."""
    if not data.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix k8s\\x00")
    api_version, kind, raw = _envelope(data[len(MAGIC) :])
    if not kind:
        raise ProtobufError("the envelope names no kind")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise ProtobufError(f'no kind "{kind}" is registered for version "{api_version}"')
    decoded = DecodedBody({"apiVersion": api_version, "kind": kind})
    decoded.object.update(decode_message(message, raw, kind, decoded.skipped))
    return decoded


def _envelope(data: bytes) -> tuple[str, str, bytes]:
    # runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType.
    api_version = kind = encoding = ""
    raw = b""
    for number, wire, value in iter_fields(data):
        if number == 1:
            for inner, inner_wire, inner_value in iter_fields(_bytes(value, wire, "typeMeta")):
                if inner == 1:
                    api_version = _text(inner_value, inner_wire, "typeMeta.apiVersion")
                elif inner == 2:
                    kind = _text(inner_value, inner_wire, "typeMeta.kind")
        elif number == 2:
            raw = _bytes(value, wire, "raw")
        elif number == 3:
            encoding = _text(value, wire, "contentEncoding")
    if encoding:
        raise ProtobufError(f'content encoding "{encoding}" is not supported')
    return api_version, kind, raw


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` for each field of a message: an int for varint and fixed
    fields, the bytes of a length-delimited one. Groups (wire types 3 and 4) are refused: proto3 and
    Kubernetes' proto2 messages never use them."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > len(data):
                raise ProtobufError(f"truncated {_WIRE_NAMES[wire]} field {number}")
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        elif wire == LENGTH:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError(f"field {number} is longer than the bytes left")
            value, pos = data[pos : pos + length], pos + length
        else:
            raise ProtobufError(f"field {number} has unsupported wire type {wire}")
        yield number, wire, value


def decode_message(name: str, data: bytes, path: str, skipped: list[str]) -> dict[str, Any]:
    """The message ``name`` (a key of ``MESSAGES``) as its JSON dict; ``path`` names it in errors."""
    fields = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(data):
        spec = fields.get(number)
        if spec is None:
            skipped.append(f"{path}: unknown field number {number}")
            continue
        where = f"{path}.{spec.json}"
        if spec.map:
            key, item = _map_entry(spec, _bytes(value, wire, where), where, skipped)
            out.setdefault(spec.json, {})[key] = item
        elif spec.repeated:
            items = out.setdefault(spec.json, [])
            if wire == LENGTH and spec.type in ("i", "b"):
                items.extend(_packed(spec, value, where))  # a packed encoder's repeated numbers
            else:
                items.append(_value(spec, wire, value, f"{where}[{len(items)}]", skipped))
        elif spec.inline:
            out.update(decode_message(spec.type, _bytes(value, wire, where), path, skipped))
        else:
            decoded = _value(spec, wire, value, where, skipped)
            if decoded is None or (not spec.keep_zero and not spec.is_message and decoded in ("", 0)):
                out.pop(spec.json, None)  # Go's omitempty: a zero value is not sent
            else:
                out[spec.json] = decoded
    return out


def _value(spec: Field, wire: int, value: int | bytes, where: str, skipped: list[str]) -> Any:
    kind = spec.type
    if kind == "i":
        return _signed(_number(value, wire, where))
    if kind == "b":
        return _number(value, wire, where) != 0
    if kind == "s":
        return _text(value, wire, where)
    data = _bytes(value, wire, where)
    if kind == "y":
        return base64.b64encode(data).decode("ascii")
    if kind in ("t", "u"):
        return _timestamp(data, where, micro=kind == "u")
    if kind == "q":
        return _single_string(data, where) or "0"
    if kind == "x":
        return _int_or_string(data, where, keep_zero=spec.keep_zero)
    if kind == "f":
        return _fields_v1(data, where)
    return decode_message(kind, data, where, skipped)


def _map_entry(spec: Field, data: bytes, where: str, skipped: list[str]) -> tuple[str, Any]:
    key = ""
    item: Any = None
    for number, wire, value in iter_fields(data):
        if number == 1:
            key = _text(value, wire, f"{where} key")
        elif number == 2:
            item = _value(spec, wire, value, f"{where}[{key}]", skipped)
    if item is None:
        item = {} if spec.is_message else "0" if spec.type == "q" else ""
    return key, item


def _packed(spec: Field, value: int | bytes, where: str) -> list[Any]:
    data = _bytes(value, LENGTH, where)
    numbers: list[Any] = []
    pos = 0
    while pos < len(data):
        number, pos = read_varint(data, pos)
        numbers.append(number != 0 if spec.type == "b" else _signed(number))
    return numbers


def _number(value: int | bytes, wire: int, where: str) -> int:
    if wire != VARINT or not isinstance(value, int):
        raise ProtobufError(f"{where}: {_WIRE_NAMES.get(wire, wire)} where a varint was expected")
    return value


def _bytes(value: int | bytes, wire: int, where: str) -> bytes:
    if wire != LENGTH or not isinstance(value, bytes):
        raise ProtobufError(f"{where}: {_WIRE_NAMES.get(wire, wire)} where length-delimited was expected")
    return value


def _text(value: int | bytes, wire: int, where: str) -> str:
    try:
        return _bytes(value, wire, where).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError(f"{where}: the string is not valid UTF-8") from None


def _signed(number: int) -> int:
    # int32 and int64 are written as 64-bit two's complement: -1 is ten bytes of varint.
    return number - (1 << 64) if number >= 1 << 63 else number


def _timestamp(data: bytes, where: str, *, micro: bool) -> str | None:
    seconds = nanos = 0
    for number, wire, value in iter_fields(data):
        if number == 1:
            seconds = _signed(_number(value, wire, f"{where}.seconds"))
        elif number == 2:
            nanos = _signed(_number(value, wire, f"{where}.nanos"))
    if (seconds == 0 or seconds == _GO_ZERO_SECONDS) and nanos == 0:
        return None  # Go writes a zero Time as null, and omits it
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise ProtobufError(f"{where}: time out of range") from None
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _single_string(data: bytes, where: str) -> str:
    # resource.Quantity is a message with one string, field 1.
    text = ""
    for number, wire, value in iter_fields(data):
        if number == 1:
            text = _text(value, wire, where)
    return text


def _int_or_string(data: bytes, where: str, *, keep_zero: bool) -> int | str | None:
    # intstr.IntOrString: 1 type (0 int, 1 string), 2 intVal, 3 strVal.
    kind = number = 0
    text = ""
    for field_number, wire, value in iter_fields(data):
        if field_number == 1:
            kind = _number(value, wire, f"{where}.type")
        elif field_number == 2:
            number = _signed(_number(value, wire, f"{where}.intVal"))
        elif field_number == 3:
            text = _text(value, wire, f"{where}.strVal")
    if kind == 1:
        return text
    if number == 0 and not keep_zero:
        return None  # an unset IntOrString is the int 0, which Kubernetes reads as unset
    return number


def _fields_v1(data: bytes, where: str) -> Any:
    # metav1.FieldsV1 carries its JSON in field 1.
    raw = b""
    for number, wire, value in iter_fields(data):
        if number == 1:
            raw = _bytes(value, wire, where)
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise ProtobufError(f"{where}: fieldsV1 is not JSON") from None
