"""Validation of resource lists: names, quantities, and requests against limits.

Worked example, as Kubernetes reports it: ``requests: {cpu: "2"}, limits: {cpu: "1"}`` on the first
container gives ``spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal
to cpu limit of 1`` (the path names the whole ``requests`` map, not the key).
"""

from __future__ import annotations

from typing import Any

from services.apiserver.validation.common import (
    NEGATIVE,
    forbidden,
    invalid,
    mapping,
    messages,
    not_supported,
    quantity,
    required,
)
from shared.models import FieldError, Quantity, is_qualified_name

_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_STANDARD_RESOURCES = _CONTAINER_RESOURCES | {
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "services.nodeports",
    "services.loadbalancers",
}
_INTEGER_RESOURCES = frozenset(_STANDARD_RESOURCES - _CONTAINER_RESOURCES - {"storage"})
POD_LEVEL_RESOURCES = ("cpu", "memory")


def is_native(name: str) -> bool:
    """Kubernetes' own resources: unprefixed, or under ``kubernetes.io/``."""
    return "/" not in name or "kubernetes.io/" in name


def is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def is_extended(name: str) -> bool:
    """A device or vendor resource such as ``nvidia.com/gpu``: counted in whole units, never overcommitted."""
    return (
        not is_native(name) and not name.startswith("requests.") and not is_qualified_name("requests." + name)
    )


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def _container_resource_name(name: str, field: str) -> list[FieldError]:
    errs = messages(field, name, is_qualified_name(name))
    if errs:
        return errs
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not is_hugepages(name):
            errs.append(invalid(field, name, "must be a standard resource type or fully qualified"))
        if name not in _CONTAINER_RESOURCES and not is_hugepages(name):
            errs.append(invalid(field, name, "must be a standard resource for containers"))
    elif not is_native(name) and not is_extended(name):
        errs.append(invalid(field, name, "doesn't follow extended resource name standard"))
    return errs


def _pod_resource_name(name: str, field: str) -> list[FieldError]:
    if name in POD_LEVEL_RESOURCES or is_hugepages(name):
        return []
    return [not_supported(field, name, POD_LEVEL_RESOURCES)]


def _amount(name: str, amount: Quantity, field: str) -> list[FieldError]:
    """``ValidateResourceQuantityValue``: never negative, and whole units where the resource counts."""
    if amount.sign() < 0:
        return [invalid(field, amount.canonical(), NEGATIVE)]
    if (name in _INTEGER_RESOURCES or is_extended(name)) and amount.milli_value() % 1000:
        return [invalid(field, amount.canonical(), "must be an integer")]
    return []


def _resource_list(value: Any, field: str, pod_level: bool) -> tuple[dict[str, Quantity], list[FieldError]]:
    amounts: dict[str, Quantity] = {}
    errs: list[FieldError] = []
    for name, raw in mapping(value).items():
        path = f"{field}[{name}]"
        errs += _pod_resource_name(name, path) if pod_level else _container_resource_name(name, path)
        amount, found = quantity(raw, path)
        errs += found
        if amount is not None:
            errs += _amount(name, amount, path)
            amounts[name] = amount
    return amounts, errs


def resource_requirements(value: Any, field: str, *, pod_level: bool = False) -> list[FieldError]:
    """A container's (or, with ``pod_level``, a pod's) ``resources``: every quantity parses and is not
    negative, and no request exceeds its limit. Extended resources and hugepages cannot be overcommitted,
    so there the request must equal the limit."""
    resources = mapping(value)
    limits, errs = _resource_list(resources.get("limits"), f"{field}.limits", pod_level)
    requests, request_errs = _resource_list(resources.get("requests"), f"{field}.requests", pod_level)
    errs += request_errs
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is not None:
            if request != limit and not overcommit_allowed(name):
                detail = f"must be equal to {name} limit of {limit.canonical()}"
                errs.append(invalid(f"{field}.requests", request.canonical(), detail))
            elif request > limit:
                detail = f"must be less than or equal to {name} limit of {limit.canonical()}"
                errs.append(invalid(f"{field}.requests", request.canonical(), detail))
        elif not overcommit_allowed(name) and name not in mapping(resources.get("limits")):
            errs.append(required(f"{field}.limits", "Limit must be set for non overcommitable resources"))
    if pod_level and resources.get("claims"):
        errs.append(forbidden(f"{field}.claims", "claims cannot be set for Resources at pod-level"))
    return errs


def overhead(value: Any, field: str) -> list[FieldError]:
    """``spec.overhead`` is checked as limits of a container, as Kubernetes does."""
    return resource_requirements({"limits": value}, field)


def node_resources(value: Any, field: str) -> list[FieldError]:
    """A Node's ``status.capacity`` or ``status.allocatable``; paths are ``status.capacity.cpu``."""
    errs: list[FieldError] = []
    for name, raw in mapping(value).items():
        path = f"{field}.{name}"
        amount, found = quantity(raw, path)
        errs += found
        if amount is not None:
            errs += _amount(name, amount, path)
    return errs
