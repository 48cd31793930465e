"""The value grammar of the ``sim.kubenats.io/…`` behaviour keys: durations, quantities, rates, codes.

Every parser takes the text of one annotation value and returns a number in the runtime's units
(seconds, bytes, millicores) or raises :class:`ValueError` with a message that says what was expected;
the caller adds the key's name.

Worked examples::

    parse_duration("250ms") == 0.25      parse_duration("1m30s") == 90.0    parse_duration("5") == 5.0
    parse_bytes("64Mi") == 67108864      parse_millicores("250m") == 250    parse_millicores("1.5") == 1500
    parse_byte_rate("10Mi/m") == 174762.66…  (bytes per second; a bare quantity is per second)
"""

from __future__ import annotations

import re
from typing import Final

from shared.models.quantity import Quantity, QuantityError

NEVER: Final = "never"
"""The word a duration key takes for "not at all" (``exit-after: never``, ``shutdown: never``)."""

_UNIT_SECONDS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_BARE_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_PER_UNIT: Final = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's duration syntax (``5s``, ``250ms``, ``2m``, ``1h30m``) or a bare number of seconds."""
    value = text.strip()
    if _BARE_NUMBER.fullmatch(value):
        return float(value)
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(value):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 5s, 250ms, 2m or 1m30s")
    return total


def parse_optional_duration(text: str) -> float | None:
    """A duration, or ``never`` → None."""
    return None if text.strip().lower() == NEVER else parse_duration(text)


def _quantity(text: str) -> Quantity:
    try:
        quantity = Quantity(text.strip())
    except QuantityError as error:
        raise ValueError(f"invalid quantity {text!r}: {error}") from None
    if quantity.sign() < 0:
        raise ValueError(f"invalid quantity {text!r}: must not be negative")
    return quantity


def parse_bytes(text: str) -> int:
    """A memory quantity (``64Mi``, ``1G``, ``500000``) in bytes."""
    return _quantity(text).value()


def parse_millicores(text: str) -> int:
    """A CPU quantity (``250m``, ``1``, ``1.5``) in millicores."""
    return _quantity(text).milli_value()


def parse_byte_rate(text: str) -> float:
    """Bytes per second from ``<quantity>[/s|/m|/h]`` (``10Mi``, ``10Mi/s``, ``600Mi/m``)."""
    amount, _, per = text.strip().partition("/")
    if per and per not in _PER_UNIT:
        raise ValueError(f"invalid rate {text!r}: expected <quantity>, <quantity>/s, /m or /h")
    return parse_bytes(amount) / _PER_UNIT[per or "s"]


def parse_exit_code(text: str) -> int:
    """A process exit status, 0–255."""
    try:
        code = int(text.strip())
    except ValueError:
        raise ValueError(f"invalid exit code {text!r}: expected an integer 0-255") from None
    if not 0 <= code <= 255:
        raise ValueError(f"invalid exit code {text!r}: expected an integer 0-255")
    return code
