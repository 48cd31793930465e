"""Field errors: one problem at one field path, worded as Kubernetes words them.

``FieldError("spec.containers[0].name", ErrorType.REQUIRED)`` prints as
``spec.containers[0].name: Required value``, and ``field_errors(exc, Pod)`` turns a pydantic
``ValidationError`` into such errors, naming fields by their JSON names and map keys in brackets
(``spec.containers[0].resources.requests[cpu]``), as ``k8s.io/apimachinery/pkg/util/validation/field`` does.
"""

from __future__ import annotations

import enum
import json
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["ErrorType", "FieldError", "field_errors", "field_path"]


class ErrorType(enum.StrEnum):
    """Kubernetes' field error types; the value is the ``reason`` of a ``StatusCause``."""

    NOT_FOUND = "FieldValueNotFound"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    INTERNAL = "InternalError"
    TYPE_INVALID = "FieldValueTypeInvalid"

    @property
    def text(self) -> str:
        """The human wording: ``Required value``, ``Invalid value`` …"""
        return _TYPE_TEXT[self]


_TYPE_TEXT = {
    ErrorType.NOT_FOUND: "Not found",
    ErrorType.REQUIRED: "Required value",
    ErrorType.DUPLICATE: "Duplicate value",
    ErrorType.INVALID: "Invalid value",
    ErrorType.NOT_SUPPORTED: "Unsupported value",
    ErrorType.FORBIDDEN: "Forbidden",
    ErrorType.TOO_LONG: "Too long",
    ErrorType.TOO_MANY: "Too many",
    ErrorType.INTERNAL: "Internal error",
    ErrorType.TYPE_INVALID: "Invalid value",
}

# Types whose wording carries no bad value, as in Kubernetes' ErrorBody.
_NO_VALUE = {ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL}


@dataclass(frozen=True)
class FieldError:
    """One validation problem: where (``field``), what kind (``type``), the offending value and why."""

    field: str
    type: ErrorType
    bad_value: Any = None
    detail: str = ""

    def body(self) -> str:
        """The message without the field path: ``Invalid value: "x": must be …``."""
        text = self.type.text if self.type in _NO_VALUE else f"{self.type.text}: {_show(self.bad_value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    try:
        return json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def field_errors(exc: ValidationError, model: type[BaseModel] | None = None) -> list[FieldError]:
    """The errors of a pydantic validation failure, with Kubernetes-style paths relative to ``model``."""
    result: list[FieldError] = []
    for error in exc.errors(include_url=False):
        path = field_path(error["loc"], model)
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "missing":
            result.append(FieldError(path, ErrorType.REQUIRED))
        elif kind in ("literal_error", "enum"):
            expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            supported = ", ".join(json.dumps(item) for item in expected)
            detail = f"supported values: {supported}" if supported else error["msg"]
            result.append(FieldError(path, ErrorType.NOT_SUPPORTED, error["input"], detail))
        elif kind == "value_error" and isinstance(ctx.get("error"), Exception):
            cause = ctx["error"]
            detail = getattr(cause, "detail", None) or str(cause)
            result.append(FieldError(path, ErrorType.INVALID, error["input"], detail))
        else:
            result.append(FieldError(path, ErrorType.INVALID, error["input"], error["msg"]))
    return result


def field_path(loc: Sequence[int | str], model: type[BaseModel] | None = None) -> str:
    """Render a pydantic location as a Kubernetes field path.

    With the root ``model`` known, segments are checked against its fields: ``("spec", "containers", 0,
    "resources", "requests", "cpu")`` becomes ``spec.containers[0].resources.requests[cpu]``.
    """
    out = ""
    current: Any = model
    for segment in loc:
        current = _unwrap(current)
        if isinstance(segment, int):
            out += f"[{segment}]"
            current = _item_type(current)
        elif isinstance(current, type) and issubclass(current, BaseModel):
            name, current = _lookup_field(current, segment)
            out += f".{name}" if out else name
        elif get_origin(current) is dict:
            out += f"[{segment}]"
            current = get_args(current)[1]
        else:
            out += f".{segment}" if out else segment
            current = None
    return out


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` so the walk sees the structural type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            members = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _item_type(tp: Any) -> Any:
    if get_origin(tp) in (list, tuple) and get_args(tp):
        return get_args(tp)[0]
    return None


def _lookup_field(model: type[BaseModel], segment: str) -> tuple[str, Any]:
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if segment in (alias, name):
            return alias, info.annotation
    return segment, None
