"""What a REST request asks, decoded: query parameters, bodies and the response format it accepts.

Query parameters become the front-neutral :class:`~shared.apiprotocol.ApiRequest`; parameters that only
matter over HTTP (``timeoutSeconds``, ``includeObject``) come back beside it. ``fieldValidation`` goes both
ways: the shared handler checks unknown fields under it, the decoder here duplicate fields. Unknown
parameters are ignored, as kube-apiserver ignores them (kubectl sends ``timeout=32s`` on everything).
Bodies are JSON, YAML or Kubernetes' protobuf (what client-go's typed clients and kubectl's generator
commands send), which :mod:`~services.apiserver.rest.protobuf` turns into the same dict as JSON. Warnings
go into the request's :class:`~services.apiserver.warnings.WarningRecorder`, which bounds them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from services.apiserver.duplicatefields import duplicate_problems, loads_noting_duplicates
from services.apiserver.fieldvalidation import DEFAULT_DIRECTIVE, decoding_prefix, directive_of
from services.apiserver.rest.protobuf import decode_protobuf
from services.apiserver.warnings import WarningRecorder
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError, from_validation_error
from shared.logging import get_logger
from shared.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    decode_patch,
)

log = get_logger(__name__)

PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
PROTOBUF = "application/vnd.kubernetes.protobuf"
_REQUEST_PARAMS = {
    "labelSelector": "labelSelector",
    "fieldSelector": "fieldSelector",
    "resourceVersion": "resourceVersion",
    "limit": "limit",
    "continue": "continue",
    "gracePeriodSeconds": "gracePeriodSeconds",
    "propagationPolicy": "propagationPolicy",
    "fieldManager": "fieldManager",
}


@dataclass(slots=True)
class RestOptions:
    """The parts of a REST request that the shared handler does not see."""

    field_validation: str = DEFAULT_DIRECTIVE
    timeout_seconds: int | None = None
    include_object: str = "Metadata"
    warnings: WarningRecorder = field(default_factory=WarningRecorder)


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f'{name}: Invalid value: "{value}": must be an integer') from None


def read_query(query: Mapping[str, str], *, watch: bool) -> tuple[dict[str, Any], RestOptions]:
    """The ApiRequest fields the query sets, and the REST-only options; ApiError 400 for bad values."""
    fields: dict[str, Any] = {}
    if dry_run := query.get("dryRun"):
        fields["dryRun"] = [dry_run]  # checked by the handler, as over NATS
    for param, alias in _REQUEST_PARAMS.items():
        value = query.get(param)
        if value is None or value == "":
            continue
        fields[alias] = _int(param, value) if param in ("limit", "gracePeriodSeconds") else value
    options = RestOptions()
    # The shared handler checks unknown fields under this directive; the decoder here, duplicate fields.
    options.field_validation = directive_of(query.get("fieldValidation"))
    if query.get("fieldValidation"):
        fields["fieldValidation"] = options.field_validation
    if (timeout := query.get("timeoutSeconds")) not in (None, ""):
        options.timeout_seconds = _int("timeoutSeconds", str(timeout))
    options.include_object = query.get("includeObject") or "Metadata"
    if "force" in query:
        fields["force"] = truthy(query.get("force"))
    if not watch and query.get("resourceVersionMatch"):
        fields["resourceVersionMatch"] = query["resourceVersionMatch"]
    if watch:
        fields["allowWatchBookmarks"] = truthy(query.get("allowWatchBookmarks"))
        if "sendInitialEvents" in query:
            fields["sendInitialEvents"] = truthy(query.get("sendInitialEvents"))
        _check_watch_list(query, fields)
    return fields, options


def _check_watch_list(query: Mapping[str, str], fields: dict[str, Any]) -> None:
    # kube-apiserver's rules for a streaming list, so that clients falling back on them behave the same.
    match = query.get("resourceVersionMatch", "")
    if fields.get("sendInitialEvents"):
        if match != "NotOlderThan":
            raise ApiError(
                422,
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch "
                "to NotOlderThan",
                reason="Invalid",
            )
        if not fields.get("allowWatchBookmarks"):
            raise ApiError(
                422,
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires allowWatchBookmarks=true",
                reason="Invalid",
            )
    elif match:
        raise ApiError(
            422,
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless "
            "sendInitialEvents is provided",
            reason="Invalid",
        )


def default_field_manager(user_agent: str) -> str:
    """The field manager of a write that names none: its client's name (``kubectl`` for
    ``kubectl/v1.37.1 (linux/amd64) …``), as kube-apiserver derives it; '' without a user agent."""
    return user_agent.split("/", 1)[0].strip()[:128]


def build_request(fields: dict[str, Any]) -> ApiRequest:
    try:
        return ApiRequest.model_validate(fields)
    except ValidationError as error:
        raise from_validation_error(error) from None


def media_type(content_type: str | None) -> str:
    return (content_type or "application/json").split(";", 1)[0].strip().lower()


def decode_object(data: bytes, content_type: str | None, options: RestOptions) -> dict[str, Any]:
    """An object body (create, update, subresource writes); duplicates follow ``fieldValidation``."""
    kind = media_type(content_type)
    if kind in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            decoded = yaml.safe_load(data)
        except yaml.YAMLError as error:
            raise ApiError(400, f"error decoding YAML body: {error}") from None
    elif kind == "application/json" or kind == "*/*":
        try:
            decoded, repeated = loads_noting_duplicates(data or b"null")
        except ValueError as error:
            raise ApiError(400, f"error decoding JSON body: {error}") from None
        if repeated:
            _field_problems(duplicate_problems(repeated), options, decoded)
    elif kind == PROTOBUF:
        # Unknown field numbers are skipped without a warning whatever fieldValidation says, as
        # kube-apiserver's protobuf decoder (which has no strict mode) skips them.
        body = decode_protobuf(data)
        if body.skipped:
            log.debug("unknown protobuf fields skipped", count=len(body.skipped), first=body.skipped[0])
        decoded = body.object
    else:
        raise unsupported_media_type(kind, ("application/json", "application/yaml"))
    if not isinstance(decoded, dict):
        raise ApiError(400, "the request body must be an object")
    return decoded


def _field_problems(problems: list[str], options: RestOptions, decoded: Any) -> None:
    if options.field_validation == "Strict":
        prefix = ""
        if isinstance(decoded, dict) and isinstance(decoded.get("kind"), str) and decoded["kind"]:
            prefix = decoding_prefix(decoded, "", decoded["kind"])
        raise ApiError(400, f"{prefix}strict decoding error: " + ", ".join(problems))
    if options.field_validation == "Warn":
        for problem in problems:
            options.warnings.add(problem)


def decode_patch_body(data: bytes, content_type: str | None) -> tuple[Any, str]:
    kind = media_type(content_type)
    if kind == APPLY_PATCH:
        # An applied configuration is YAML (kubectl sends JSON, which YAML reads too).
        try:
            return yaml.safe_load(data), kind
        except yaml.YAMLError as error:
            raise ApiError(400, f"error decoding YAML body: {error}") from None
    if kind not in PATCH_TYPES:
        raise unsupported_media_type(kind, PATCH_TYPES)
    try:
        return decode_patch(data), kind
    except PatchError as error:
        raise ApiError(error.code, error.message) from None


def decode_delete_options(data: bytes, content_type: str | None) -> dict[str, Any]:
    """``DeleteOptions`` from a DELETE body (JSON or protobuf); an empty body means the defaults."""
    if data and media_type(content_type) == PROTOBUF:
        options: Any = decode_protobuf(data).object
    elif not data or media_type(content_type) != "application/json":
        return {}
    else:
        try:
            options = json.loads(data)
        except ValueError:
            raise ApiError(400, "error decoding DeleteOptions: the body is not JSON") from None
    if not isinstance(options, dict):
        raise ApiError(400, "error decoding DeleteOptions: the body must be an object")
    chosen: dict[str, Any] = {}
    for key in ("gracePeriodSeconds", "propagationPolicy", "dryRun"):
        if options.get(key) is not None:
            chosen[key] = options[key]
    return chosen


def unsupported_media_type(kind: str, accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)} (got {kind})",
        reason="UnsupportedMediaType",
    )


def accepts_table(accept: str) -> bool:
    """Whether the first acceptable media type the client lists is a ``meta.k8s.io`` Table."""
    for media in accept.split(","):
        parts = [part.strip() for part in media.split(";")]
        params = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
        if parts[0] not in ("application/json", "*/*", "application/vnd.kubernetes.protobuf"):
            continue
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v") in ("v1", "v1beta1")
        if parts[0] == "application/json" and "as" not in params:
            return False
    return False
