"""Quantity: an exact resource amount, parsed and compared like Kubernetes' ``resource.Quantity``.

Grammar (k8s.io/apimachinery/pkg/api/resource)::

    <quantity> ::= <sign>? <number> <suffix>
    <number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei          (binary, powers of 1024)
                 | n | u | m | "" | k | M | G | T | P | E  (decimal SI)
                 | e<sign>?<digits> | E<sign>?<digits>  (decimal exponent)

Worked examples: ``"500m"`` is 1/2, ``"1.5"`` is 3/2 and canonically ``"1500m"``, ``"128Mi"`` is
134217728, ``"1E"`` is 10**18 (the exa suffix, not an exponent), ``"2e3"`` is 2000.

As in Kubernetes, a value finer than a nano is rounded away from zero to the next nano (``"0.1n"`` is 1n),
a binary-SI value is capped at 2**63-1 in magnitude, and ``value()``/``milli_value()`` round away from zero.
Unlike Kubernetes, a string without any digit (``"Mi"``, ``"."``, ``"+"``), which Kubernetes reads as zero,
is rejected, and decimal exponents are limited to ±``MAX_EXPONENT`` so parsing stays cheap.

A parsed quantity remembers the text it was given and serialises back to it; ``canonical()`` gives
Kubernetes' canonical spelling. Arithmetic results are written canonically.
"""

from __future__ import annotations

import enum
import math
import re
from fractions import Fraction
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["MAX_EXPONENT", "Quantity", "QuantityError", "QuantityFormat"]

MAX_EXPONENT = 1000
"""Largest decimal exponent accepted by the parser (Kubernetes takes any int32)."""

_MAX_INT64 = 2**63 - 1
_NANO = Fraction(1, 10**9)

# Kubernetes' own description of the accepted shape, quoted in its error message.
_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_FORMAT_WRONG = f"quantities must match the regular expression '{_SPLIT_RE}'"
_SUFFIX_WRONG = "unable to parse quantity's suffix"

_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*(?:[+-]?[0-9]+)?)")

_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exp: suffix for suffix, exp in _BINARY_SUFFIXES.items()}
_EXPONENT_RE = re.compile(r"[eE]([+-]?[0-9]+)")


class QuantityFormat(enum.StrEnum):
    """How a quantity is written, chosen by the suffix it was parsed with."""

    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi
    DECIMAL_SI = "DecimalSI"  # 12M


class QuantityError(ValueError):
    """A string that is not a quantity. ``detail`` is Kubernetes' reason, without the offending text."""

    def __init__(self, text: str, detail: str) -> None:
        super().__init__(f'invalid quantity "{text}": {detail}')
        self.text = text
        self.detail = detail


class Quantity:
    """An exact, immutable resource amount. ``Quantity("500m") == Quantity("0.5")``."""

    __slots__ = ("_amount", "_format", "_text")

    _amount: Fraction
    _format: QuantityFormat
    _text: str

    def __init__(self, value: str | int | float | Quantity) -> None:
        if isinstance(value, Quantity):
            self._amount, self._format, self._text = value._amount, value._format, value._text
            return
        text = _number_text(value) if not isinstance(value, str) else value
        self._amount, self._format = _parse(text)
        self._text = text

    @classmethod
    def from_amount(cls, amount: Fraction | int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> Quantity:
        """A quantity of exactly ``amount`` (rounded away from zero to a nano), written canonically."""
        q = cls.__new__(cls)
        q._amount = _round_to_nano(Fraction(amount))
        q._format = fmt
        q._text = q.canonical()
        return q

    @classmethod
    def from_milli(cls, milli: int) -> Quantity:
        """``Quantity.from_milli(250)`` is ``250m``."""
        return cls.from_amount(Fraction(milli, 1000))

    # -- accessors -------------------------------------------------------------------------------------

    @property
    def amount(self) -> Fraction:
        """The exact value."""
        return self._amount

    @property
    def format(self) -> QuantityFormat:
        return self._format

    def value(self) -> int:
        """The value as an integer, rounded away from zero (Kubernetes' ``Value()``): ``1500m`` → 2."""
        return _round_away(self._amount)

    def milli_value(self) -> int:
        """The value in thousandths, rounded away from zero (Kubernetes' ``MilliValue()``): ``0.1m`` → 1."""
        return _round_away(self._amount * 1000)

    def scaled_value(self, scale: int) -> int:
        """The value in units of 10**scale, rounded away from zero (``scaled_value(-3) == milli_value()``)."""
        return _round_away(self._amount / Fraction(10) ** scale)

    def is_zero(self) -> bool:
        return self._amount == 0

    def sign(self) -> int:
        return (self._amount > 0) - (self._amount < 0)

    def __str__(self) -> str:
        """The text this quantity was parsed from, or its canonical form if it was computed."""
        return self._text

    def __repr__(self) -> str:
        return f"Quantity({self._text!r})"

    def canonical(self) -> str:
        """Kubernetes' canonical spelling: ``"1.5"`` → ``"1500m"``, ``"1.5Gi"`` → ``"1536Mi"``."""
        return _canonical(self._amount, self._format)

    # -- arithmetic and comparison ---------------------------------------------------------------------

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity.from_amount(self._amount + other._amount, self._result_format(other))

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity.from_amount(self._amount - other._amount, self._result_format(other))

    def __neg__(self) -> Quantity:
        return Quantity.from_amount(-self._amount, self._format)

    def _result_format(self, other: Quantity) -> QuantityFormat:
        # Kubernetes' Add/Sub keep the receiver's format, except that a zero takes the other's.
        return other._format if self.is_zero() else self._format

    def cmp(self, other: Quantity) -> int:
        """-1, 0 or 1 as in Kubernetes' ``Cmp``."""
        return (self._amount > other._amount) - (self._amount < other._amount)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._amount == other._amount

    def __hash__(self) -> int:
        return hash(self._amount)

    def __lt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._amount < other._amount

    def __le__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._amount <= other._amount

    def __gt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._amount > other._amount

    def __ge__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._amount >= other._amount

    # -- pydantic --------------------------------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string"}, {"type": "number"}], "title": "Quantity"}


def _validate(value: Any) -> Quantity:
    """Wire input: a quantity, a string (surrounding whitespace ignored, as Kubernetes' JSON decoder does)
    or a YAML/JSON number, which keeps its decimal text (``cpu: 0.5`` is written back as ``"0.5"``)."""
    if isinstance(value, Quantity):
        return value
    if isinstance(value, str):
        return Quantity(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Quantity(value)
    raise ValueError(f"a quantity must be a string or a number, not {type(value).__name__}")


def _number_text(value: int | float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a quantity must be a string or a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise QuantityError(repr(value), "a quantity must be a finite number")
    # repr() of a float is its shortest round-tripping decimal text, e.g. 0.5 -> "0.5", 1e20 -> "1e+20".
    return repr(value)


def _parse(text: str) -> tuple[Fraction, QuantityFormat]:
    match = _QUANTITY_RE.fullmatch(text) if text else None
    if match is None:
        raise QuantityError(text, _FORMAT_WRONG)
    sign, whole, frac, suffix = match.group(1), match.group(2), match.group(3) or "", match.group(4)
    # The suffix is judged first, as Kubernetes does, so "--1" is a bad suffix and "Mi" is digitless.
    base, exponent, fmt = _interpret_suffix(text, suffix)
    if not whole and not frac:
        raise QuantityError(text, "a quantity needs at least one digit")
    mantissa = Fraction(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac))
    if sign == "-":
        mantissa = -mantissa
    amount = _round_to_nano(mantissa * Fraction(base) ** exponent)
    if fmt is QuantityFormat.BINARY_SI and abs(amount) > _MAX_INT64:
        amount = Fraction(_MAX_INT64 if amount > 0 else -_MAX_INT64)
    return amount, fmt


def _interpret_suffix(text: str, suffix: str) -> tuple[int, int, QuantityFormat]:
    """(base, exponent, format) of a suffix: ``"Mi"`` → (2, 20, BinarySI), ``"e-3"`` → (10, -3, …)."""
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], QuantityFormat.BINARY_SI
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], QuantityFormat.DECIMAL_SI
    exponent_match = _EXPONENT_RE.fullmatch(suffix)
    if exponent_match is None:
        raise QuantityError(text, _SUFFIX_WRONG)
    exponent = int(exponent_match.group(1))
    if abs(exponent) > MAX_EXPONENT:
        raise QuantityError(text, f"the exponent must be between -{MAX_EXPONENT} and {MAX_EXPONENT}")
    return 10, exponent, QuantityFormat.DECIMAL_EXPONENT


def _round_to_nano(amount: Fraction) -> Fraction:
    """Round away from zero to a whole number of nanos: any request, however small, gets something."""
    nanos = amount / _NANO
    if nanos.denominator == 1:
        return amount
    return _round_away(nanos) * _NANO


def _round_away(amount: Fraction) -> int:
    return math.ceil(amount) if amount >= 0 else math.floor(amount)


def _canonical(amount: Fraction, fmt: QuantityFormat) -> str:
    if amount == 0:
        return "0"
    sign = "-" if amount < 0 else ""
    magnitude = abs(amount)
    if fmt is QuantityFormat.BINARY_SI:
        # Small or fractional binary values are written in decimal SI so no precision is lost.
        if magnitude >= 1024 and magnitude.denominator == 1:
            number, exponent = int(magnitude), 0
            while number % 1024 == 0 and exponent < 60:
                number //= 1024
                exponent += 10
            return f"{sign}{number}{_BINARY_BY_EXPONENT.get(exponent, '')}"
        fmt = QuantityFormat.DECIMAL_SI

    # The mantissa is an integer and the exponent the largest multiple of 3 that keeps it one.
    number, exponent = int(magnitude / _NANO), -9
    while number % 10 == 0:
        number //= 10
        exponent += 1
    shift = exponent % 3
    number *= 10**shift
    exponent -= shift
    if fmt is QuantityFormat.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return f"{sign}{number}{_DECIMAL_BY_EXPONENT[exponent]}"
    return f"{sign}{number}" if exponent == 0 else f"{sign}{number}e{exponent}"
