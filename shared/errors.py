"""Errors as Kubernetes ``Status`` objects, the one error shape every kubenats reply uses.

A handler raises :class:`ApiError`; the bus turns it into a ``Status`` body plus the NATS micro error
headers (``Nats-Service-Error-Code`` carries the HTTP-style code), and a client turns that reply back into
the same :class:`ApiError`. Reasons and codes are Kubernetes' own (``metav1.StatusReason``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A failed request, carried as a Kubernetes ``Status``."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # An empty reason is Kubernetes' StatusReasonUnknown: kubectl then prints "Error from server: …".
        self.reason = REASONS.get(code, "Unknown") if reason is None else reason
        self.details = dict(details) if details else None

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del status["reason"]
        if self.details:
            status["details"] = self.details
        return status

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> ApiError:
        return cls(
            code=int(status.get("code", 500)),
            message=str(status.get("message", "")),
            # A Status without a reason is StatusReasonUnknown, not its code's usual reason.
            reason=str(status.get("reason") or ""),
            details=status.get("details"),
        )

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason}, {self.message!r})"


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str, **details: Any) -> ApiError:
    return ApiError(404, message, details=details or None)


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(409, message, details=details or None)


def too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, f"request entity too large: {size} bytes, limit is {limit} bytes")


def unavailable(message: str) -> ApiError:
    return ApiError(503, message)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('spec', 'containers', 0, 'name')`` → ``spec.containers[0].name``, Kubernetes' field path form."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "<root>"


def from_validation_error(error: ValidationError, code: int = 400) -> ApiError:
    """One message per failed field, each led by its path: ``spec.replicas: Input should be …``."""
    causes = [
        {"field": field_path(e["loc"]), "message": e["msg"], "reason": e["type"]} for e in error.errors()
    ]
    message = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
    return ApiError(code, message, details={"causes": causes})
