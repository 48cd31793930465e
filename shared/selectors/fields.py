"""Field selectors: the API's ``fieldSelector`` strings (``=``, ``==``, ``!=`` terms), parsed and matched."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from shared.selectors.common import Operator, SelectorError

# --- field selectors --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One field selector term; ``==`` is stored as ``=``, the two being the same test."""

    field: str
    operator: Operator
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return not equal if self.operator is Operator.NOT_EQUALS else equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelectorExpr:
    """A parsed field selector: terms that must all hold. The empty selector selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether ``fields`` (``{"spec.nodeName": "worker-1", ...}``) satisfy every term."""
        return all(requirement.matches(fields) for requirement in self.requirements)

    def is_empty(self) -> bool:
        return not self.requirements

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to, if any: lets a server use an index for it."""
        for requirement in self.requirements:
            if requirement.field == field and requirement.operator is Operator.EQUALS:
                return requirement.value
        return None

    def check_supported(self, supported: Collection[str]) -> None:
        """Raise :class:`SelectorError` (Kubernetes' message) if a term uses a field not in ``supported``."""
        for requirement in self.requirements:
            if requirement.field not in supported:
                raise SelectorError(f"field label not supported: {requirement.field}")

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so a literal value can stand in a field selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def parse_field_selector(text: str) -> FieldSelectorExpr:
    """Parse a field selector string; ``""`` selects everything. Raises :class:`SelectorError`.

    Terms are kept in sorted order, as ``fields.ParseSelector`` sorts them. No whitespace is trimmed:
    ``"status.phase = Running"`` names the field ``"status.phase "``, as it does in Kubernetes.
    """
    requirements: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, operator, rhs = split
        value = _unescape_field_value(rhs)
        # Kubernetes drops a term that names no field and no value ("=" alone) rather than rejecting it.
        if lhs or value:
            requirements.append(FieldRequirement(lhs, operator, value))
    return FieldSelectorExpr(tuple(requirements))


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped; escapes stay in the terms, to be undone per value."""
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


_FIELD_OPERATORS = (("!=", Operator.NOT_EQUALS), ("==", Operator.EQUALS), ("=", Operator.EQUALS))


def _split_term(term: str) -> tuple[str, Operator, str] | None:
    # Field names cannot hold escapes, so the first operator in the term splits it; "!=" and "==" are
    # tried before "=" at each position so that "a==b" does not leave "=b" as the value.
    for i in range(len(term)):
        for symbol, operator in _FIELD_OPERATORS:
            if term.startswith(symbol, i):
                return term[:i], operator, term[i + len(symbol) :]
    return None


def _unescape_field_value(raw: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in raw:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Go prints the rune with %v, i.e. as its code point: "=" is reported as 61.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)
