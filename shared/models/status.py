"""Status: Kubernetes' error object, plus constructors worded as ``k8s.io/apimachinery/pkg/api/errors``.

Shape: ``{kind: Status, apiVersion: v1, status: Failure, code, reason, message, details}``. Raise a
``StatusError`` to carry one through Python code; map it to a reply at the service's edge.

Example: ``new_not_found("pods", "web-0").message == 'pods "web-0" not found'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.fielderrors import FieldError
from shared.models.meta import ListMeta

__all__ = [
    "STATUS_FAILURE",
    "STATUS_SUCCESS",
    "Status",
    "StatusCause",
    "StatusDetails",
    "StatusError",
    "new_already_exists",
    "new_bad_request",
    "new_conflict",
    "new_forbidden",
    "new_internal_error",
    "new_invalid",
    "new_method_not_supported",
    "new_not_found",
    "new_resource_expired",
    "new_service_unavailable",
    "new_unauthorized",
]

STATUS_SUCCESS = "Success"
STATUS_FAILURE = "Failure"


class StatusCause(KubeModel):
    reason: str = ""
    message: str = ""
    field: str = ""


class StatusDetails(KubeModel):
    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: list[StatusCause] = Field(default_factory=list)
    retry_after_seconds: int = 0


class Status(KubeModel):
    _always_set: ClassVar[tuple[str, ...]] = ("api_version", "kind")

    api_version: Literal["v1"] = "v1"
    kind: Literal["Status"] = "Status"
    metadata: ListMeta = Field(default_factory=ListMeta)
    status: str = ""
    message: str = ""
    reason: str = ""
    details: StatusDetails | None = None
    code: int = 0


class StatusError(Exception):
    """An API failure carrying its ``Status``; ``str(err)`` is the status message."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message)
        self.status = status

    @property
    def code(self) -> int:
        return self.status.code

    @property
    def reason(self) -> str:
        return self.status.reason


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(
    name: str = "", group: str = "", kind: str = "", causes: Sequence[StatusCause] = ()
) -> StatusDetails:
    """Details with only the non-empty fields set, as Kubernetes' ``omitempty`` writes them."""
    given = {"name": name, "group": group, "kind": kind, "causes": list(causes)}
    return StatusDetails.model_validate({key: value for key, value in given.items() if value})


def _failure(code: int, reason: str, message: str, details: StatusDetails | None = None) -> Status:
    status = Status(status=STATUS_FAILURE, code=code, reason=reason, message=message)
    if details is not None:
        status.details = details
    return status


def new_not_found(resource: str, name: str, group: str = "") -> Status:
    """404: ``pods "web-0" not found``."""
    return _failure(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(name=name, group=group, kind=resource),
    )


def new_already_exists(resource: str, name: str, group: str = "") -> Status:
    """409: ``pods "web-0" already exists``."""
    return _failure(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(name=name, group=group, kind=resource),
    )


_CONFLICT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def new_conflict(resource: str, name: str, reason: str = _CONFLICT_MODIFIED, group: str = "") -> Status:
    """409 on a failed compare-and-swap: ``Operation cannot be fulfilled on pods "web-0": …``."""
    return _failure(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {reason}',
        _details(name=name, group=group, kind=resource),
    )


def new_invalid(kind: str, name: str, errors: Sequence[FieldError], group: str = "") -> Status:
    """422: ``Pod "web-0" is invalid: spec.containers[0].name: Required value`` (several errors in [])."""
    qualified = _qualified(kind, group)
    if not errors:
        message = f'{qualified} "{name}" is invalid'
    elif len(errors) == 1:
        message = f'{qualified} "{name}" is invalid: {errors[0]}'
    else:
        message = f'{qualified} "{name}" is invalid: [{", ".join(str(e) for e in errors)}]'
    causes = [StatusCause(reason=e.type.value, message=e.body(), field=e.field) for e in errors]
    return _failure(422, "Invalid", message, _details(name=name, group=group, kind=kind, causes=causes))


def new_bad_request(message: str) -> Status:
    return _failure(400, "BadRequest", message)


def new_unauthorized(message: str = "Unauthorized") -> Status:
    """401: no or unknown credentials."""
    return _failure(401, "Unauthorized", message)


def new_forbidden(resource: str, name: str, reason: str, group: str = "") -> Status:
    """403: ``pods "web-0" is forbidden: User "bob" cannot delete resource "pods" …``."""
    if not resource:
        message = f"forbidden: {reason}"
    elif not name:
        message = f"{_qualified(resource, group)} is forbidden: {reason}"
    else:
        message = f'{_qualified(resource, group)} "{name}" is forbidden: {reason}'
    return _failure(403, "Forbidden", message, _details(name=name, group=group, kind=resource))


def new_method_not_supported(resource: str, action: str, group: str = "") -> Status:
    return _failure(
        405,
        "MethodNotAllowed",
        f'{action} is not supported on resources of kind "{_qualified(resource, group)}"',
        _details(group=group, kind=resource),
    )


def new_resource_expired(message: str) -> Status:
    """410 for a watch or list from a revision that was compacted: ``too old resource version: 5 (90)``."""
    return _failure(410, "Expired", message)


def new_internal_error(error: str) -> Status:
    return _failure(
        500,
        "InternalError",
        f"Internal error occurred: {error}",
        _details(causes=[StatusCause(message=error)]),
    )


def new_service_unavailable(message: str) -> Status:
    """503, e.g. while the store has no leader."""
    return _failure(503, "ServiceUnavailable", message)
