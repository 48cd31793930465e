"""Validation of API objects as kube-apiserver validates them, with Kubernetes' field paths and messages.

``validate_create(resource, obj)`` and ``validate_update(resource, new, old)`` take the wire-form dicts
(after defaulting) and return the ``FieldError``s, empty when the object is valid;
``to_status_error(kind, name, errors)`` turns them into the 422 ``StatusError`` to raise, e.g.
``Pod "web" is invalid: [spec.containers[0].name: Required value, spec.containers[0].image: Required
value]``.

Each resource has a create and an update validator (``pod``, ``apps``, ``service`` and ``cluster``
modules). An update also checks the metadata rules every kind shares (name, namespace, uid and
creationTimestamp never change). Then the object is read through its pydantic model, and whatever the
model cannot read (a string where a number belongs, a quantity that does not parse) is reported as well,
unless a validator already reported that field or one above it: Kubernetes' JSON decoder refuses such
objects before validation, and these errors stand in for its.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from services.apiserver.validation.apps import (
    validate_deployment,
    validate_deployment_update,
    validate_replica_set,
    validate_replica_set_update,
)
from services.apiserver.validation.cluster import (
    validate_endpoint_slice,
    validate_endpoint_slice_update,
    validate_event,
    validate_event_update,
    validate_lease,
    validate_lease_update,
    validate_namespace,
    validate_namespace_update,
    validate_node,
    validate_node_update,
)
from services.apiserver.validation.common import Json, object_meta_update
from services.apiserver.validation.pod import POD_UPDATE_FORBIDDEN, validate_pod, validate_pod_update
from services.apiserver.validation.service import validate_service, validate_service_update
from shared.models import RESOURCES, FieldError, StatusError, field_errors, new_invalid

__all__ = [
    "POD_UPDATE_FORBIDDEN",
    "schema_errors",
    "to_status_error",
    "validate_create",
    "validate_update",
]

Create = Callable[[Json], list[FieldError]]
Update = Callable[[Json, Json], list[FieldError]]

_VALIDATORS: dict[str, tuple[Create, Update]] = {
    "pods": (validate_pod, validate_pod_update),
    "nodes": (validate_node, validate_node_update),
    "namespaces": (validate_namespace, validate_namespace_update),
    "services": (validate_service, validate_service_update),
    "events": (validate_event, validate_event_update),
    "deployments": (validate_deployment, validate_deployment_update),
    "replicasets": (validate_replica_set, validate_replica_set_update),
    "leases": (validate_lease, validate_lease_update),
    "endpointslices": (validate_endpoint_slice, validate_endpoint_slice_update),
}
_BY_PLURAL = {resource.plural: resource for resource in RESOURCES}
_GROUP_OF_KIND = {resource.kind: resource.group for resource in RESOURCES}


def _validators(resource: str) -> tuple[Create, Update]:
    try:
        return _VALIDATORS[resource]
    except KeyError:
        raise ValueError(f"no validation for resource {resource!r}") from None


def validate_create(resource: str, obj: Json) -> list[FieldError]:
    """The errors that make ``obj`` (a defaulted ``resource`` such as ``"pods"``) invalid to create."""
    create, _ = _validators(resource)
    return _finish(resource, obj, create(obj))


def validate_update(resource: str, new: Json, old: Json) -> list[FieldError]:
    """The errors that make replacing ``old`` (as stored) by ``new`` (defaulted) invalid, including changes
    to immutable fields. Used for status writes too, where only ``status`` differs."""
    _, update = _validators(resource)
    errs = object_meta_update(new.get("metadata"), old.get("metadata")) + update(new, old)
    return _finish(resource, new, errs)


def _without_nulls(value: Any) -> Any:
    # JSON null means "not set" to Kubernetes' decoder (``creationTimestamp: null`` is what kubectl writes).
    if isinstance(value, Mapping):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def schema_errors(resource: str, obj: Json) -> list[FieldError]:
    """What the resource's pydantic model cannot read in ``obj``, as field errors."""
    model = _BY_PLURAL[resource].model
    try:
        model.model_validate(_without_nulls(obj))
    except ValidationError as error:
        return field_errors(error, model)
    return []


def _under(field: str, parents: set[str]) -> bool:
    return any(field.startswith((parent + ".", parent + "[")) for parent in parents)


def _finish(resource: str, obj: Json, errs: list[FieldError]) -> list[FieldError]:
    schema = schema_errors(resource, obj)
    # A part that is not even of the right type (``spec: []``) is reported once, not once per missing field.
    unreadable = {error.field for error in schema}
    own = [error for error in errs if not _under(error.field, unreadable)]
    reported = {error.field for error in own}
    extra = [error for error in schema if error.field not in reported and not _under(error.field, reported)]
    return _unique(own + extra)


def _unique(errs: Sequence[FieldError]) -> list[FieldError]:
    # Create checks run again inside update checks, as in Kubernetes, whose error aggregate drops
    # repeated messages; so does this.
    seen: set[str] = set()
    unique: list[FieldError] = []
    for error in errs:
        if str(error) not in seen:
            seen.add(str(error))
            unique.append(error)
    return unique


def to_status_error(
    kind: str, name: str, errors: Sequence[FieldError], group: str | None = None
) -> StatusError:
    """The 422 ``Invalid`` error for ``errors``. The kind is qualified by its API group as Kubernetes does
    (``Deployment.apps "web" is invalid: …``); ``group`` defaults to the served kind's own group."""
    if group is None:
        group = _GROUP_OF_KIND.get(kind, "")
    return StatusError(new_invalid(kind, name, _unique(errors), group))
