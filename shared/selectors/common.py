"""What label and field selectors share: the operators and the error type."""

from __future__ import annotations

import enum
import re


class SelectorError(ValueError):
    """A selector that cannot be parsed or built; the message is Kubernetes' own."""


class Operator(enum.StrEnum):
    """Selector operators; the values are ``k8s.io/apimachinery/pkg/selection``'s."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# The order Kubernetes lists them in "expected: ..." messages.
_BINARY_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt")
_OPERATOR_VALUES = (*_BINARY_OPERATORS, "exists", "!")
_INT64 = re.compile(r"[+-]?[0-9]+")
