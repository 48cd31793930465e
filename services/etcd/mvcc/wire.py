"""How requests spell keys, ranges and fields on the wire, and the readers that check each field.

Every reader names the field in its error (a 400-class :mod:`errors` error), so a client learns which
field was wrong. Keys and values are strings UTF-8 can encode. A range is ``[key, range_end)``;
``prefix: true`` is turned into a ``range_end`` here by :func:`prefix_range_end`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.etcd.mvcc.errors import BadRequestError, KeyNotProvidedError
from services.etcd.mvcc.types import Wire

ALL_KEYS = "\0"
"""As a ``range_end``: no upper bound (every key >= ``key``). As key and range_end together: every key."""

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_range_end(prefix: str) -> str:
    """The smallest key greater than every key starting with ``prefix``: the ``range_end`` of a prefix.

    etcd adds one to the last byte that is not 0xff; keys here are strings compared by code point (the
    same order as their UTF-8 bytes), so this adds one to the last code point that is not the maximum,
    stepping over the surrogates UTF-8 cannot encode. No such code point (or an empty prefix) means no
    upper bound: :data:`ALL_KEYS`.
    """
    chars = list(prefix)
    while chars:
        point = ord(chars[-1])
        if point < _MAX_CODE_POINT:
            point += 1
            chars[-1] = chr(0xE000 if point in _SURROGATES else point)
            return "".join(chars)
        chars.pop()
    return ALL_KEYS


def read_body(body: object, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise BadRequestError(f"{what}: must be a JSON object, got {type(body).__name__}")
    return body


def read_utf8(name: str, value: str) -> str:
    """``value`` if UTF-8 can encode it (JSON's ``\\ud800`` escapes can make strings it cannot)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequestError(f"{name}: is not valid UTF-8 (lone surrogate)") from None
    return value


def read_str(body: Mapping[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequestError(f"{name}: must be a string, got {type(value).__name__}")
    return read_utf8(name, value)


def read_int(body: Mapping[str, Any], name: str, default: int = 0, minimum: int | None = None) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    # bool is an int in Python; true as a revision is a client bug, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequestError(f"{name}: must be an integer, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise BadRequestError(f"{name}: must be >= {minimum}, got {value}")
    return value


def read_bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequestError(f"{name}: must be a boolean, got {type(value).__name__}")
    return value


def read_key_and_end(body: Mapping[str, Any], with_range: bool = True) -> tuple[str, str | None]:
    key = read_str(body, "key")
    prefix = read_bool(body, "prefix") if with_range else False
    end = read_str(body, "range_end") if with_range else ""
    if prefix and end:
        raise BadRequestError("range_end: cannot be given together with prefix")
    if prefix:
        # An empty prefix is every key, as etcd's clients spell it.
        return (key, prefix_range_end(key)) if key else (ALL_KEYS, ALL_KEYS)
    if not key:
        raise KeyNotProvidedError()
    return key, end or None


def with_optional(wire: Wire, **optional: Any) -> Wire:
    """``wire`` plus every optional field that is not at its default, to keep commands small."""
    wire.update({k: v for k, v in optional.items() if v})
    return wire
