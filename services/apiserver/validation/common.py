"""Building blocks of API validation: object metadata, immutability, selectors, ports and quantities.

Every check reads plain JSON (the API server's wire-form dicts) and returns ``FieldError``s worded as
``k8s.io/apimachinery`` words them. A value of the wrong JSON type is mostly skipped here rather than
reported: the schema check in ``__init__`` reports it, from the pydantic models, and drops what a check
here already said about the same field.
Go reads a missing number as 0 and a missing string as "", and so do these checks (``spec.replicas``
absent is ``0``), which keeps the messages identical to Kubernetes'.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from pydantic import ValidationError

from shared.models import (
    ErrorType,
    FieldError,
    LabelSelector,
    Quantity,
    QuantityError,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)
from shared.models.names import regex_error

Json = Mapping[str, Any]
NameCheck = Callable[[str, bool], list[str]]

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
MAX_INT32 = 2**31 - 1
ANNOTATIONS_MAX_BYTES = 256 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})

# --- reading JSON without trusting it -------------------------------------------------------------------


def mapping(value: Any) -> Json:
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_int(value: Any) -> TypeGuard[int]:
    # JSON true/false are bools, which Python also counts as ints; Kubernetes does not.
    return isinstance(value, int) and not isinstance(value, bool)


def integer(value: Any, default: int = 0) -> int:
    return value if is_int(value) else default


def string_map(value: Any) -> dict[str, str]:
    """The string entries of a JSON object (labels, selectors); other entries are the schema's to report."""
    return {k: v for k, v in mapping(value).items() if isinstance(k, str) and isinstance(v, str)}


def show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- error constructors ---------------------------------------------------------------------------------


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(field, ErrorType.REQUIRED, None, detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, ErrorType.INVALID, value, detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, ErrorType.FORBIDDEN, None, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, ErrorType.DUPLICATE, value)


def not_found(field: str, value: Any) -> FieldError:
    return FieldError(field, ErrorType.NOT_FOUND, value)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    listed = ", ".join(json.dumps(item) for item in supported)
    return FieldError(field, ErrorType.NOT_SUPPORTED, value, f"supported values: {listed}")


def inclusive_range(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def one_of(field: str, value: Any, supported: Sequence[str]) -> list[FieldError]:
    """Required when empty, Unsupported when not listed (Kubernetes' usual enum check)."""
    if value in (None, ""):
        return [required(field)]
    if value not in supported:
        return [not_supported(field, value, supported)]
    return []


def nonnegative(value: Any, field: str) -> list[FieldError]:
    return [invalid(field, value, NEGATIVE)] if is_int(value) and value < 0 else []


def immutable(new: Any, old: Any, field: str) -> list[FieldError]:
    return [] if new == old else [invalid(field, new, IMMUTABLE)]


def messages(field: str, value: Any, found: Iterable[str]) -> list[FieldError]:
    return [invalid(field, value, msg) for msg in found]


# --- names, labels, selectors ---------------------------------------------------------------------------


def dns_label(value: str, field: str) -> list[FieldError]:
    return messages(field, value, is_dns1123_label(value))


def dns_subdomain(value: str, field: str) -> list[FieldError]:
    return messages(field, value, is_dns1123_subdomain(value))


def qualified_name(value: str, field: str) -> list[FieldError]:
    return messages(field, value, is_qualified_name(value))


def labels(value: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key, val in string_map(value).items():
        errs += qualified_name(key, field)
        errs += messages(field, val, is_valid_label_value(val))
    return errs


def object_annotations(value: Any, field: str) -> list[FieldError]:
    found = mapping(value)
    # Annotation keys are qualified names in any case, so they are checked lower-cased.
    errs = [
        e
        for key in found
        if isinstance(key, str)
        for e in messages(field, key, is_qualified_name(key.lower()))
    ]
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in found.items())
    if size > ANNOTATIONS_MAX_BYTES:
        errs.append(
            FieldError(field, ErrorType.TOO_LONG, None, f"may not be more than {ANNOTATIONS_MAX_BYTES} bytes")
        )
    return errs


def label_selector(value: Any, field: str) -> list[FieldError]:
    """``metav1.ValidateLabelSelector``: matchLabels as labels, each expression's operator and values."""
    selector = mapping(value)
    errs = labels(selector.get("matchLabels"), f"{field}.matchLabels")
    for i, expression in enumerate(items(selector.get("matchExpressions"))):
        path = f"{field}.matchExpressions[{i}]"
        expr = mapping(expression)
        operator, values = expr.get("operator"), items(expr.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(
                    required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                errs.append(forbidden(f"{path}.values", detail))
        else:
            errs.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
        errs += qualified_name(text(expr.get("key")), f"{path}.key")
        for j, val in enumerate(values):
            if isinstance(val, str):
                errs += messages(f"{path}.values[{j}]", val, is_valid_label_value(val))
    return errs


def parse_selector(value: Any) -> LabelSelector | None:
    """The selector as a model that can match labels, or None when it cannot be read."""
    try:
        return LabelSelector.model_validate(value)
    except ValidationError:
        return None


# --- object metadata ------------------------------------------------------------------------------------


def object_meta(meta_value: Any, *, namespaced: bool, name_check: NameCheck) -> list[FieldError]:
    """``ValidateObjectMeta`` for a create: name, namespace, labels, annotations, owners, finalizers."""
    meta = mapping(meta_value)
    name, generate_name = text(meta.get("name")), text(meta.get("generateName"))
    errs: list[FieldError] = []
    if generate_name:
        errs += messages("metadata.generateName", generate_name, name_check(generate_name, True))
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        errs += messages("metadata.name", name, name_check(name, False))
    namespace = text(meta.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(required("metadata.namespace"))
        else:
            errs += dns_label(namespace, "metadata.namespace")
    elif namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    return errs + _meta_common(meta)


def _meta_common(meta: Json) -> list[FieldError]:
    errs = nonnegative(meta.get("generation"), "metadata.generation")
    errs += labels(meta.get("labels"), "metadata.labels")
    errs += object_annotations(meta.get("annotations"), "metadata.annotations")
    errs += owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    for i, finalizer in enumerate(items(meta.get("finalizers"))):
        if isinstance(finalizer, str):
            errs += finalizer_name(finalizer, "metadata.finalizers", f"metadata.finalizers[{i}]")
    return errs


def finalizer_name(name: str, field: str, indexed_field: str) -> list[FieldError]:
    """A qualified name, and either one of Kubernetes' own finalizers or prefixed (``example.com/x``)."""
    errs = qualified_name(name, field)
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(
            invalid(
                indexed_field, name, "name is neither a standard finalizer name nor is it fully qualified"
            )
        )
    return errs


def owner_references(value: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    controller = ""
    for i, ref_value in enumerate(items(value)):
        ref, path = mapping(ref_value), f"{field}[{i}]"
        api_version = text(ref.get("apiVersion"))
        if not api_version:
            errs.append(required(f"{path}.apiVersion", "must not be empty"))
        elif api_version.count("/") > 1 or api_version.endswith("/"):
            errs.append(invalid(f"{path}.apiVersion", api_version, "must be <group>/<version> or <version>"))
        for key in ("kind", "name", "uid"):
            if not text(ref.get(key)):
                errs.append(required(f"{path}.{key}", "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(invalid(path, dict(ref), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{text(ref.get('kind'))}/{text(ref.get('name'))}"
            if controller:
                detail = (
                    'Only one reference can have Controller set to true. Found "true" in references for '
                    f"{controller} and {current}"
                )
                errs.append(invalid(field, value, detail))
            else:
                controller = current
    return errs


def object_meta_update(new_value: Any, old_value: Any) -> list[FieldError]:
    """``ValidateObjectMetaUpdate``: identity fields stay, generation never goes back, no new finalizers
    once deletion began. (``resourceVersion`` is the store's compare-and-swap, not checked here.)"""
    new, old = mapping(new_value), mapping(old_value)
    errs: list[FieldError] = []
    if "deletionTimestamp" in old:
        added = sorted(set(items(new.get("finalizers"))) - set(items(old.get("finalizers"))), key=str)
        if added:
            detail = (
                "no new finalizers can be added if the object is being deleted, found new finalizers "
                f"[]string{{{', '.join(json.dumps(f) for f in added)}}}"
            )
            errs.append(forbidden("metadata.finalizers", detail))
    generation, old_generation = integer(new.get("generation")), integer(old.get("generation"))
    errs += nonnegative(new.get("generation"), "metadata.generation")
    if generation < old_generation:
        errs.append(invalid("metadata.generation", generation, "must not be decremented"))
    for key in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        empty: Any = (
            None if key in ("deletionTimestamp", "deletionGracePeriodSeconds", "creationTimestamp") else ""
        )
        errs += immutable(new.get(key, empty), old.get(key, empty), f"metadata.{key}")
    errs += labels(new.get("labels"), "metadata.labels")
    errs += object_annotations(new.get("annotations"), "metadata.annotations")
    errs += owner_references(new.get("ownerReferences"), "metadata.ownerReferences")
    return errs


# --- ports, addresses, quantities -----------------------------------------------------------------------

_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")
_PERCENT = re.compile(r"[0-9]+%")


def port_number(value: Any, field: str) -> list[FieldError]:
    number = integer(value)
    return [] if 1 <= number <= 65535 else [invalid(field, number, inclusive_range(1, 65535))]


def port_name(value: str) -> list[str]:
    """``IsValidPortName``: an IANA service name, at most 15 characters, with at least one letter."""
    found: list[str] = []
    if len(value) > 15:
        found.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.fullmatch(value):
        found.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        found.append("must contain at least one letter (a-z)")
    if "--" in value:
        found.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        found.append("must not begin or end with a hyphen")
    return found


def port_number_or_name(value: Any, field: str) -> list[FieldError]:
    if isinstance(value, str):
        return messages(field, value, port_name(value))
    return port_number(value, field)


def percent(value: str) -> list[str]:
    if _PERCENT.fullmatch(value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%",
            "1%",
            "93%",
        )
    ]


def ip_address(value: Any, field: str) -> list[FieldError]:
    try:
        ipaddress.ip_address(text(value))
    except ValueError:
        return [invalid(field, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def cidr(value: Any, field: str) -> list[FieldError]:
    try:
        ipaddress.ip_network(text(value), strict=False)
    except ValueError:
        return [invalid(field, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def quantity(value: Any, field: str) -> tuple[Quantity | None, list[FieldError]]:
    """Parse a quantity as the JSON decoder would: a string (outer spaces ignored) or a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, [invalid(field, value, "must be a string or a number")]
    try:
        return Quantity(value.strip() if isinstance(value, str) else value), []
    except QuantityError as error:
        return None, [invalid(field, value, error.detail)]
