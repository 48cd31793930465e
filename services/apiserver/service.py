"""The API server's NATS front: ``api.<group>.<version>.<resource>.<verb>`` → the shared request handler.

For each request, in order: find the resource the subject names (404 otherwise), then let the
:class:`~services.apiserver.handler.RequestHandler` authenticate the bearer token (401), authorize the
user (403), check the body for duplicate fields (``duplicatefields.py``, which needs the raw JSON only this
front has) and call the registry, whose errors are already Kubernetes ``Status`` objects; watches stream
from the replica's watch caches to the request's ``deliver`` subject (``watches.py``). Every replica
serves in the queue group ``apiserver`` and, for requests addressed to it alone (a component reaching only
its side of a network partition), on ``api.replica.<replica>.…``; while partitioned it drops requests
from replicas it cannot reach (``shared.reachability``). After each successful write — through any
front — the replica that made it publishes the change as a ``WatchEvent`` on
``watch.<group>.<version>.<resource>.<namespace>.<name>`` for observers.
"""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client

from services.apiserver.duplicatefields import check_duplicate_fields
from services.apiserver.handler import RequestHandler, Route
from services.apiserver.metrics import METRICS_RESOURCES, METRICS_VERBS
from services.apiserver.objects import Object
from services.apiserver.warnings import WARNING_HEADER, header_list, recording_warnings
from services.apiserver.watches import WatchStreams
from shared import subjects
from shared.apiprotocol import AUTHORIZATION_HEADER, SUBRESOURCE_VERBS, VERBS, ApiRequest
from shared.bus import MicroService, RequestContext
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import RESOURCES, ResourceType
from shared.reachability import Reachability

log = get_logger(__name__)

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""Kubernetes' own request limit; etcd refuses any single object over 1.5 MiB anyway."""

_BY_SUBJECT = {
    (subjects.api_group_token(r.group), r.version, r.plural): r for r in (*RESOURCES, *METRICS_RESOURCES)
}


def route(subject: str) -> Route:
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != "api":
        raise ApiError(404, f"the server could not find the requested resource ({subject})")
    _, group, version, resource, verb = parts
    rt = _BY_SUBJECT.get((group, version, resource))
    if rt is None:
        raise ApiError(
            404,
            f'the server could not find the requested resource: no resource "{resource}" in '
            f'"{group}/{version}"',
        )
    served = METRICS_VERBS if rt in METRICS_RESOURCES else (*VERBS, *SUBRESOURCE_VERBS)
    if verb not in served:
        raise ApiError(405, f'verb "{verb}" is not supported on {resource}', reason="MethodNotAllowed")
    return Route(rt, verb)


class ApiService:
    def __init__(
        self,
        nc: Client,
        handler: RequestHandler,
        *,
        replica: str = "",
        reachability: Reachability | None = None,
    ) -> None:
        self.nc = nc
        self.handler = handler
        self.watches = WatchStreams(nc, handler.caches)
        self.micro = MicroService(
            nc,
            "apiserver",
            description="Kubernetes API over NATS",
            metadata={"replica": replica},
            queue_group=subjects.APISERVER_QUEUE,
            max_request_bytes=MAX_REQUEST_BYTES,
            admit=reachability.admits if reachability else None,
        )
        self.micro.add_endpoint("api", subjects.api_requests(), ApiRequest, self.handle)
        if replica:
            self.micro.add_endpoint(
                "api-replica",
                subjects.api_replica_all(replica),
                ApiRequest,
                self.handle,
                queue_group=f"{subjects.APISERVER_QUEUE}-{replica}",
            )

    async def start(self) -> None:
        await self.micro.start()

    async def stop(self) -> None:
        await self.micro.stop()
        await self.watches.stop()

    async def handle(self, request: ApiRequest, context: RequestContext) -> Object:
        r = route(subjects.api_unaddressed(context.subject))
        authorization = context.header(AUTHORIZATION_HEADER)
        if r.verb == "watch":
            await self.handler.admit(r, request, authorization)
            return self.watches.watch(r.rt, request)
        with recording_warnings() as warnings:
            await self.handler.admit(r, request, authorization)
            # Only once the user is known: an anonymous request gets its 401, and costs no second parse.
            check_duplicate_fields(request, context.data)
            reply = await self.handler.dispatch(r, request)
        if warnings:  # over NATS too, one header holds the list (HTTP's comma-separated form)
            context.reply_headers[WARNING_HEADER] = header_list(warnings)
        return reply

    async def publish(self, event: str, rt: ResourceType, obj: Object) -> None:
        meta: dict[str, Any] = obj.get("metadata", {})
        subject = subjects.watch_event(
            rt.group, rt.version, rt.plural, meta.get("namespace", ""), meta["name"]
        )
        try:
            await self.nc.publish(subject, json.dumps({"type": event, "object": obj}).encode())
        except Exception as error:  # observers are best effort; the write itself succeeded
            log.warning("watch event not published", subject=subject, error=repr(error))
