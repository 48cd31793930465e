"""HTTP responses of the REST front: JSON bodies, Kubernetes ``Status`` errors, and warnings."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from services.apiserver.warnings import header_value
from shared.errors import ApiError
from shared.models import StatusError, to_dict

JSON_CONTENT_TYPE = "application/json"


def json_response(body: Any, status: int = 200, *, content_type: str = JSON_CONTENT_TYPE) -> web.Response:
    # The content type goes in as a header: aiohttp's content_type argument cannot carry parameters, and
    # aggregated discovery is recognised by its parameters.
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": content_type},
    )


def as_api_error(error: Exception) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, StatusError):
        return ApiError.from_status(to_dict(error.status))
    return ApiError(500, f"internal error: {error!r}")


def error_response(error: ApiError) -> web.Response:
    response = json_response(error.to_status(), error.code)
    if error.code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kubenats"'
    return response


def warning_header(message: str) -> str:
    """A ``Warning`` header value as kube-apiserver sends it (code 299, agent ``-``), which kubectl prints."""
    return header_value(message)
