"""``GET …/pods/{name}/log`` over REST: a container's log as ``text/plain``, or a stream of it (``follow``).

The query is Kubernetes' ``PodLogOptions`` (``container``, ``tailLines``, ``sinceSeconds``, ``sinceTime``,
``timestamps``, ``previous``, ``limitBytes``, ``follow``). Each read goes through the shared request
handler — authenticated, authorized as ``get pods/log``, forwarded to the pod's kubelet. A follow keeps the
chunked response open and polls the kubelet for lines after the last one sent, until the container ends,
the pod or container is gone, or the client goes away (aiohttp then cancels this handler).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from services.apiserver.handler import RequestHandler, Route
from services.apiserver.rest.params import truthy
from services.apiserver.rest.paths import ResourcePath
from shared.apiprotocol import AUTHORIZATION_HEADER, ApiRequest
from shared.errors import ApiError, from_validation_error
from shared.logging import get_logger
from shared.podlogs import LogFollower, PodLogOptions, PodLogs, render

log = get_logger(__name__)

FOLLOW_INTERVAL = 1.0
"""How often a follow asks the kubelet for new lines."""
_RETRIED = frozenset({503, 504})
"""Errors a follow outlasts (a kubelet busy or restarting); anything else ends the stream."""
_PARAMS = ("container", "tailLines", "sinceSeconds", "sinceTime", "limitBytes")
TEXT_PLAIN = "text/plain"


def log_options(query: Mapping[str, str]) -> tuple[PodLogOptions, bool]:
    """The options a query asks for, and whether it follows; 400 for values Kubernetes would refuse."""
    fields: dict[str, Any] = {name: query[name] for name in _PARAMS if query.get(name, "") != ""}
    fields.update(timestamps=truthy(query.get("timestamps")), previous=truthy(query.get("previous")))
    if "sinceSeconds" in fields and "sinceTime" in fields:
        raise ApiError(
            400, "at most one of `sinceTime` or `sinceSeconds` may be specified", reason="BadRequest"
        )
    try:
        options = PodLogOptions.model_validate(fields)
    except ValidationError as error:
        raise from_validation_error(error) from None
    return options, truthy(query.get("follow"))


class LogReader:
    """One REST log request's reads of the pod's log through the handler."""

    def __init__(self, handler: RequestHandler, where: ResourcePath, authorization: str | None) -> None:
        self.handler = handler
        self.route = Route(where.rt, "log")
        self.namespace = where.namespace
        self.name = where.name
        self.authorization = authorization

    async def read(self, options: PodLogOptions) -> PodLogs:
        request = ApiRequest.model_validate(
            {"namespace": self.namespace, "name": self.name, "logOptions": options}
        )
        return PodLogs.model_validate(await self.handler.handle(self.route, request, self.authorization))


async def serve_log(handler: RequestHandler, request: web.Request, where: ResourcePath) -> web.StreamResponse:
    options, follow = log_options(request.query)
    reader = LogReader(handler, where, request.headers.get(AUTHORIZATION_HEADER))
    first = await reader.read(options)
    if not follow:
        body = first.text(options.timestamps, options.limit_bytes)
        return web.Response(text=body, content_type=TEXT_PLAIN)
    response = web.StreamResponse(status=200, headers={"Content-Type": TEXT_PLAIN})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await follow_log(reader, options, first, response)
    await response.write_eof()
    return response


async def follow_log(
    reader: LogReader, options: PodLogOptions, logs: PodLogs, response: web.StreamResponse
) -> None:
    """Write new lines as they come until the container ends or cannot be read any more."""
    follower = LogFollower()
    left = options.limit_bytes
    while True:
        new = follower.new_entries(logs)
        if new:
            chunk = render(new, options.timestamps).encode()
            if left is not None:
                chunk, left = chunk[:left], left - len(chunk[:left])
            await response.write(chunk)
            if left == 0:
                return
        if not logs.running:
            return
        await asyncio.sleep(FOLLOW_INTERVAL)
        try:
            logs = await reader.read(follower.options(options))
        except ApiError as error:
            if error.code not in _RETRIED:
                log.debug("log follow ended", pod=reader.name, code=error.code, reason=error.message)
                return
            logs = logs.model_copy(update={"entries": []})
