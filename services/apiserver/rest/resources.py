"""Requests on resources over REST: path and method → route, query and body → request, the reply as HTTP.

Every request goes through the same :class:`~services.apiserver.handler.RequestHandler` as the NATS front.
A watch is answered with a chunked stream of ``WatchEvent`` JSON objects, one per line, flushed as each
event comes; it ends after ``timeoutSeconds``, when the client goes away, or when the watch cache ends it.
"""

from __future__ import annotations

import asyncio
import json
import random
from contextlib import aclosing
from typing import Any

from aiohttp import web

from services.apiserver.handler import RequestHandler, Route
from services.apiserver.metrics import METRICS_RESOURCES
from services.apiserver.objects import Object
from services.apiserver.rest.logs import serve_log
from services.apiserver.rest.params import (
    RestOptions,
    accepts_table,
    build_request,
    decode_delete_options,
    decode_object,
    decode_patch_body,
    default_field_manager,
    read_query,
    truthy,
)
from services.apiserver.rest.paths import parse_path, route_for
from services.apiserver.rest.responses import JSON_CONTENT_TYPE, json_response, warning_header
from services.apiserver.rest.tables import as_table, event_as_table
from services.apiserver.warnings import recording_warnings
from shared.apiprotocol import AUTHORIZATION_HEADER, ApiRequest
from shared.errors import too_large
from shared.logging import get_logger
from shared.patch import APPLY_PATCH

log = get_logger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024
# kube-apiserver ends a watch that names no timeout after a random 30 to 60 minutes, so that clients
# re-watch and spread over the replicas.
MIN_WATCH_TIMEOUT = 1800.0


async def serve(handler: RequestHandler, request: web.Request) -> web.StreamResponse:
    # Who asks is settled before the body is read, as in kube-apiserver's filter chain: without a valid
    # token a client hears 401, whatever its body.
    handler.authenticate(request.headers.get(AUTHORIZATION_HEADER))
    where = parse_path(request.path)
    query = request.query
    watch = truthy(query.get("watch"))
    r = route_for(request.method, where, watch)
    if r.verb == "log":
        return await serve_log(handler, request, where)
    fields, options = read_query(query, watch=r.verb == "watch")
    fields.update(namespace=where.namespace, name=where.name)
    if r.verb in ("delete", "deletecollection"):
        # No Content-Type (the Python client sends none on DELETE) means JSON, as in kube-apiserver.
        fields.update(decode_delete_options(await _body(request), request.headers.get("Content-Type")))
    elif r.verb == "patch" or (request.method == "PATCH" and r.verb in ("status", "scale")):
        fields["patch"], fields["patchType"] = decode_patch_body(
            await _body(request), request.headers.get("Content-Type")
        )
    elif request.method in ("POST", "PUT"):
        fields["body"] = decode_object(await _body(request), request.headers.get("Content-Type"), options)
    if not fields.get("fieldManager") and fields.get("patchType") != APPLY_PATCH:
        # Kubernetes names a writer that gives no manager after its client; an apply must name one.
        fields["fieldManager"] = default_field_manager(request.headers.get("User-Agent", ""))
    authorization = request.headers.get(AUTHORIZATION_HEADER)
    table = accepts_table(request.headers.get("Accept", ""))
    if r.verb == "watch":
        if where.name:
            selector = f"metadata.name={where.name}"
            given = fields.get("fieldSelector")
            fields["fieldSelector"] = f"{given},{selector}" if given else selector
            fields["name"] = ""
        return await _watch(handler, r, build_request(fields), authorization, request, options, table)
    with recording_warnings(options.warnings):
        reply = await handler.handle(r, build_request(fields), authorization)
    if table and r.verb in ("get", "list") and r.rt not in METRICS_RESOURCES:
        reply = as_table(r.rt.plural, reply, handler.registry.now(), options.include_object)
    response = json_response(reply, _code(r, reply))
    for warning in options.warnings:
        response.headers.add("Warning", warning_header(warning))
    return response


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large(request.content_length, MAX_BODY_BYTES)
    return await request.read()


def _code(r: Route, reply: Object) -> int:
    if reply.get("kind") == "Status" and isinstance(reply.get("code"), int):
        return int(reply["code"])
    return 201 if r.verb == "create" else 200


async def _watch(
    handler: RequestHandler,
    r: Route,
    api_request: ApiRequest,
    authorization: str | None,
    request: web.Request,
    options: RestOptions,
    table: bool,
) -> web.StreamResponse:
    events = await handler.watch(r, api_request, authorization)
    timeout = options.timeout_seconds
    if timeout is None or timeout <= 0:
        timeout = int(MIN_WATCH_TIMEOUT * (1 + random.random()))
    response = web.StreamResponse(status=200, headers={"Content-Type": JSON_CONTENT_TYPE})
    response.enable_chunked_encoding()
    await response.prepare(request)
    first = True
    try:
        async with aclosing(events), asyncio.timeout(timeout):
            async for event in events:
                if table:
                    event = event_as_table(
                        r.rt.plural, event, handler.registry.now(), first, options.include_object
                    )
                first = False
                await response.write(_line(event))
    except TimeoutError:
        pass  # the watch's time is up: end the stream cleanly, the client watches again
    except (ConnectionResetError, asyncio.CancelledError):
        log.debug("watch client went away", resource=r.rt.plural)
        raise
    await response.write_eof()
    return response


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
