"""Field ownership in the API server: who is writing, the ``managedFields`` every write records, and the
server-side apply verb.

The request handler names the writer (the request's ``fieldManager``, ``unknown`` when it gives none,
and the subresource written through) for the duration of one request with :func:`writing_as`; the
registry's create and update paths then call :func:`owned_on_write`, so every write through any front —
and any subresource — records an ``Update`` entry without each verb carrying the manager along. Writes
the API server makes on its own behalf (start-up namespaces) run outside a request and record nothing.
:func:`server_side_apply` is the patch verb for ``application/apply-patch+yaml``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.apiserver.objects import Object, metadata, now_rfc3339
from shared.errors import ApiError
from shared.models import ResourceType
from shared.patchmeta import schema_for
from shared.ssa.apply import ApplyConflict, Writer, apply, record_update

if TYPE_CHECKING:
    from services.apiserver.registry import Registry

DEFAULT_MANAGER = "unknown"
APPLY_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class _Request:
    manager: str
    subresource: str
    applying: bool = False


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("field_manager", default=None)


@contextmanager
def writing_as(manager: str, subresource: str = "", *, applying: bool = False) -> Iterator[None]:
    """Attribute the writes made inside the block to ``manager`` (through ``subresource``)."""
    token = _current.set(_Request(manager or DEFAULT_MANAGER, subresource, applying))
    try:
        yield
    finally:
        _current.reset(token)


def owned_on_write(rt: ResourceType, old: Object | None, new: Object, now: datetime) -> Object:
    """``new`` with the writer's ``Update`` ownership recorded (``old`` None for a create).

    Inside an apply the apply itself has set managedFields, and outside a request nobody is writing.
    """
    request = _current.get()
    if request is None or request.applying:
        return new
    writer = Writer(request.manager, rt.api_version, now_rfc3339(now), request.subresource)
    return record_update(old, new, writer, schema_for(rt.api_version, rt.kind))


async def server_side_apply(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    applied: Any,
    manager: str,
    *,
    force: bool = False,
) -> Object:
    """Create the object from ``applied`` if it does not exist, else merge ``applied`` into it."""
    if not manager:
        raise ApiError(400, "PATCH with Content-Type application/apply-patch+yaml requires a fieldManager")
    body = _checked(registry, rt, namespace, name, applied)
    schema = schema_for(rt.api_version, rt.kind)
    ignore_status = rt.plural in _status_kinds()
    with writing_as(manager, applying=True):
        for _ in range(APPLY_ATTEMPTS):
            try:
                return await registry.write(
                    rt, namespace, name, lambda current: _merged(registry, rt, current, body, manager, force)
                )
            except ApiError as error:
                if error.code != 404:
                    raise
            writer = Writer(manager, rt.api_version, now_rfc3339(registry.now()))
            created = apply({}, body, writer, schema, ignore_status=ignore_status)
            try:
                return await registry.create(rt, namespace, created)
            except ApiError as error:
                if error.reason != "AlreadyExists":
                    raise
    raise registry.conflict(rt, name)


async def _merged(
    registry: Registry, rt: ResourceType, current: Object, body: Object, manager: str, force: bool
) -> Object:
    writer = Writer(manager, rt.api_version, now_rfc3339(registry.now()))
    try:
        merged = apply(
            current,
            body,
            writer,
            schema_for(rt.api_version, rt.kind),
            force=force,
            ignore_status=rt.plural in _status_kinds(),  # status is the status subresource's to write
        )
    except ApplyConflict as conflict:
        raise ApiError(
            409, conflict.message, reason="Conflict", details={"causes": conflict.causes}
        ) from None
    if merged is current:
        return current
    return registry.prepare_update(rt, merged, current)


def _checked(registry: Registry, rt: ResourceType, namespace: str, name: str, applied: Any) -> Object:
    if not isinstance(applied, dict):
        raise ApiError(400, "error decoding apply patch: the applied configuration must be an object")
    for required in ("apiVersion", "kind"):
        if not applied.get(required):
            raise ApiError(400, f"{required} must be set in the applied configuration")
    body = registry.check_body(rt, namespace, applied)
    given = metadata(body).get("name")
    if given and given != name:
        raise ApiError(400, f"the name of the object ({given}) does not match the name on the URL ({name})")
    metadata(body)["name"] = name
    return body


def _status_kinds() -> frozenset[str]:
    # Imported here: the registry imports this module to record ownership on every write.
    from services.apiserver.registry import STATUS_SUBRESOURCE

    return STATUS_SUBRESOURCE
