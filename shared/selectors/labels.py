"""Label selectors: ``kubectl -l`` strings and the API models' selectors, parsed and matched."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.models.meta import LabelSelector
from shared.models.names import is_qualified_name, is_valid_label_value
from shared.selectors.common import _BINARY_OPERATORS, _INT64, _OPERATOR_VALUES, Operator, SelectorError

# --- label selectors --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement: ``key``, ``operator`` and the values it compares against.

    The constructor trusts its arguments (like ``SelectorFromValidatedSet``); :meth:`create` validates
    them as ``labels.NewRequirement`` does.
    """

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def create(cls, key: str, operator: Operator | str, values: Iterable[str] = ()) -> Requirement:
        """A validated requirement; raises :class:`SelectorError` naming ``key``/``values[i]`` paths."""
        if operator not in _OPERATOR_VALUES:
            supported = ", ".join(f'"{value}"' for value in _OPERATOR_VALUES)
            raise SelectorError(
                f"operator: Unsupported value: {_go_quote(operator)}: supported values: {supported}"
            )
        op, vals = Operator(operator), tuple(values)
        errs = _requirement_errors(key, op, vals, key_path="key")
        if errs:
            raise SelectorError(_aggregate(errs))
        return cls(key, op, vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy it; a missing key satisfies only ``notin``, ``!=`` and ``!``."""
        op = self.operator
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return value is None or value not in self.values
        if value is None:
            return False
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return value in self.values
        # gt/lt: both sides must be 64-bit integers; a label that is not one never matches.
        have = _parse_int64(value)
        want = _parse_int64(self.values[0]) if len(self.values) == 1 else None
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, str(op))
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True, slots=True)
class LabelSelectorExpr:
    """A parsed label selector: requirements that must all hold, sorted by key.

    ``LabelSelectorExpr()`` selects everything; ``LabelSelectorExpr.nothing()`` selects nothing (it is what a
    nil ``LabelSelector`` converts to) and, as in Kubernetes, prints as ``""``.
    """

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = dataclasses.field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        # Sorting here makes every construction canonical; the sort is stable, so two requirements on the
        # same key keep the order they were written in.
        ordered = tuple(sorted(self.requirements, key=lambda r: r.key))
        object.__setattr__(self, "requirements", ordered)

    @classmethod
    def everything(cls) -> LabelSelectorExpr:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelectorExpr:
        return cls(selects_nothing=True)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.selects_nothing:
            return False
        return all(requirement.matches(labels) for requirement in self.requirements)

    def is_empty(self) -> bool:
        """Whether the selector leaves the selection unrestricted (``Selector.Empty``)."""
        return not self.selects_nothing and not self.requirements

    def requires_exact_match(self, key: str) -> str | None:
        """The one value the first requirement on ``key`` pins it to, if any (``RequiresExactMatch``)."""
        for requirement in self.requirements:
            if requirement.key == key:
                pins = requirement.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                return requirement.values[0] if pins and len(requirement.values) == 1 else None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def from_label_selector(selector: LabelSelector | Mapping[str, str] | None) -> LabelSelectorExpr:
    """The selector a ``LabelSelector`` model, or a plain map selector such as a Service's, stands for.

    As ``metav1.LabelSelectorAsSelector``: ``None`` selects nothing, an empty selector everything, and keys
    and values are validated. A plain map is taken as ``labels.SelectorFromSet`` takes it — unvalidated, and
    empty meaning everything — so a caller for which an empty Service selector means "no endpoints" must
    check for that itself.
    """
    if selector is None:
        return LabelSelectorExpr.nothing()
    if not isinstance(selector, LabelSelector):
        return LabelSelectorExpr(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in selector.items()))
    requirements = [Requirement.create(k, Operator.EQUALS, (v,)) for k, v in selector.match_labels.items()]
    for expression in selector.match_expressions:
        operator = _MODEL_OPERATORS.get(expression.operator)
        if operator is None:
            raise SelectorError(f"{_go_quote(expression.operator)} is not a valid label selector operator")
        requirements.append(Requirement.create(expression.key, operator, expression.values))
    return LabelSelectorExpr(tuple(requirements))


_MODEL_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def parse_label_selector(text: str) -> LabelSelectorExpr:
    """Parse a label selector string; ``""`` selects everything. Raises :class:`SelectorError`."""
    return LabelSelectorExpr(tuple(_Parser(text).parse()))


# The lexer. Whitespace separates tokens; "=", "!", "(", ")", ",", ">" and "<" are operator characters, and
# everything else runs together into identifiers (keys and values), validated afterwards rather than
# rejected by the lexer — so "a@b=c" is reported as an invalid key, not as a stray character.
_WHITESPACE = " \t\r\n"
_SYMBOLS = "=!(),<>"
_TWO_CHAR_SYMBOLS = ("==", "!=")


class _Tok(enum.Enum):
    END = "end of string"
    IDENT = "identifier"
    IN = "in"
    NOT_IN = "notin"
    OPEN = "("
    CLOSE = ")"
    COMMA = ","
    NOT = "!"
    EQ = "="
    DEQ = "=="
    NEQ = "!="
    GT = ">"
    LT = "<"


_SYMBOL_TOKENS = {t.value: t for t in (_Tok.OPEN, _Tok.CLOSE, _Tok.COMMA, _Tok.NOT, _Tok.EQ, _Tok.DEQ)}
_SYMBOL_TOKENS |= {t.value: t for t in (_Tok.NEQ, _Tok.GT, _Tok.LT)}
_EXACT_OPERATORS = {
    _Tok.EQ: Operator.EQUALS,
    _Tok.DEQ: Operator.DOUBLE_EQUALS,
    _Tok.NEQ: Operator.NOT_EQUALS,
    _Tok.GT: Operator.GREATER_THAN,
    _Tok.LT: Operator.LESS_THAN,
}


def _lex(text: str) -> list[tuple[_Tok, str]]:
    tokens: list[tuple[_Tok, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i == n:
            tokens.append((_Tok.END, ""))
            return tokens
        if text[i] in _SYMBOLS:
            # Longest match: "!=" and "==" are single tokens, "=!" is "=" then "!".
            width = 2 if text[i : i + 2] in _TWO_CHAR_SYMBOLS else 1
            literal = text[i : i + width]
            tokens.append((_SYMBOL_TOKENS[literal], literal))
            i += width
            continue
        start = i
        while i < n and text[i] not in _WHITESPACE and text[i] not in _SYMBOLS:
            i += 1
        literal = text[start:i]
        keyword = {"in": _Tok.IN, "notin": _Tok.NOT_IN}.get(literal, _Tok.IDENT)
        tokens.append((keyword, literal))


class _Parser:
    """Recursive descent over the token list, one method per rule of the grammar in ``labels.Parse``."""

    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._pos = 0

    def _peek(self, *, values: bool = True) -> tuple[_Tok, str]:
        return self._as_context(self._tokens[self._pos], values)

    def _next(self, *, values: bool = True) -> tuple[_Tok, str]:
        token = self._tokens[self._pos]
        self._pos += 1
        return self._as_context(token, values)

    @staticmethod
    def _as_context(token: tuple[_Tok, str], values: bool) -> tuple[_Tok, str]:
        # "in" and "notin" are keywords only where an operator is expected; anywhere else they are plain
        # identifiers, so "in=notin" and "x in (in)" are valid selectors.
        if values and token[0] in (_Tok.IN, _Tok.NOT_IN):
            return _Tok.IDENT, token[1]
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, literal = self._peek()
            if tok is _Tok.END:
                return requirements
            if tok not in (_Tok.IDENT, _Tok.NOT):
                raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            tok, literal = self._next()
            if tok is _Tok.END:
                return requirements
            if tok is not _Tok.COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            tok, literal = self._peek()
            if tok not in (_Tok.IDENT, _Tok.NOT):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        negated = self._peek()[0] is _Tok.NOT
        if negated:
            self._next()
        tok, key = self._next()
        if tok is not _Tok.IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        if key_errs := _key_errors(key, "<nil>"):
            raise SelectorError(key_errs[0])
        if negated or self._peek()[0] in (_Tok.END, _Tok.COMMA):
            # "!key" is complete even when an operator follows; the caller then rejects "!x=a" at the "=".
            return _validated(key, Operator.DOES_NOT_EXIST if negated else Operator.EXISTS, ())
        tok, literal = self._next(values=False)
        if tok in (_Tok.IN, _Tok.NOT_IN):
            operator = Operator.IN if tok is _Tok.IN else Operator.NOT_IN
            return _validated(key, operator, self._value_set())
        if tok not in _EXACT_OPERATORS:
            raise SelectorError(f"found '{literal}', expected: {', '.join(_BINARY_OPERATORS)}")
        return _validated(key, _EXACT_OPERATORS[tok], (self._exact_value(),))

    def _value_set(self) -> tuple[str, ...]:
        tok, literal = self._next()
        if tok is not _Tok.OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        tok, literal = self._peek()
        if tok is _Tok.CLOSE:
            # "()" is the set holding the empty string.
            self._next()
            return ("",)
        if tok not in (_Tok.IDENT, _Tok.COMMA):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:
            tok, literal = self._next()
            if tok is _Tok.IDENT:
                values.add(literal)
                following, following_literal = self._peek()
                if following is _Tok.CLOSE:
                    self._next()
                    return tuple(sorted(values))
                if following is not _Tok.COMMA:
                    raise SelectorError(f"found '{following_literal}', expected: ',' or ')'")
            elif tok is _Tok.COMMA:
                # An empty item — "(,a)", "(a,,b)", "(a,)" — is the empty string.
                following = self._peek()[0]
                if not values or following in (_Tok.CLOSE, _Tok.COMMA):
                    values.add("")
                if following is _Tok.CLOSE:
                    self._next()
                    return tuple(sorted(values))
            else:
                raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> str:
        if self._peek()[0] in (_Tok.END, _Tok.COMMA):
            return ""
        tok, literal = self._next()
        if tok is not _Tok.IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return literal


def _validated(key: str, operator: Operator, values: tuple[str, ...]) -> Requirement:
    errs = _requirement_errors(key, operator, values, key_path="key")
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, operator, values)


def _requirement_errors(key: str, op: Operator, values: tuple[str, ...], *, key_path: str) -> list[str]:
    """``labels.NewRequirement``'s checks, as ``field.Error`` strings."""
    errs = _key_errors(key, key_path)
    if op in (Operator.IN, Operator.NOT_IN) and not values:
        errs.append(_invalid("values", values, "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
        errs.append(_invalid("values", values, "exact-match compatibility requires one single value"))
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        errs.append(_invalid("values", values, "values set must be empty for exists and does not exist"))
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(values) != 1:
            errs.append(_invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required"))
        errs.extend(
            _invalid(f"values[{i}]", value, "for 'Gt', 'Lt' operators, the value must be an integer")
            for i, value in enumerate(values)
            if _parse_int64(value) is None
        )
    for i, value in enumerate(values):
        if msgs := is_valid_label_value(value):
            errs.append(_invalid(f"values[{i}][{key}]", value, "; ".join(msgs)))
    return errs


def _key_errors(key: str, path: str) -> list[str]:
    msgs = is_qualified_name(key)
    return [_invalid(path, key, "; ".join(msgs))] if msgs else []


def _invalid(path: str, value: str | Sequence[str], detail: str) -> str:
    """A ``field.Invalid`` error as Go prints it: strings %q-quoted, lists as JSON."""
    shown = _go_quote(value) if isinstance(value, str) else json.dumps(list(value), separators=(",", ":"))
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message alone, several bracketed, duplicates dropped."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote(value: str) -> str:
    """Go's ``%q`` of a string, so messages quote bad input the way Kubernetes does."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``: no spaces or underscores, within int64."""
    if not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None
