"""The API server's NATS front: ``api.<group>.<version>.<resource>.<verb>`` → registry calls.

For each request, in order: find the resource the subject names (404 otherwise), authenticate the
bearer token (401), authorize the user for the verb on that resource (403), then call the registry,
whose errors are already Kubernetes ``Status`` objects; watches stream from the replica's watch
caches (``watches.py``). Every replica serves in the queue group
``apiserver``. After each successful write the replica that made it publishes the change as a
``WatchEvent`` on ``watch.<group>.<version>.<resource>.<namespace>.<name>`` for observers.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client

from services.apiserver.auth import Attributes, Authorizer, TokenAuthenticator, UserInfo, node_name
from services.apiserver.objects import Object
from services.apiserver.registry import SYSTEM_NAMESPACES, Registry
from services.apiserver.subresources import bind, evict, get_scale, update_scale
from services.apiserver.watches import WatchStreams
from shared import subjects
from shared.apiprotocol import AUTHORIZATION_HEADER, SUBRESOURCE_VERBS, VERBS, ApiRequest
from shared.bus import MicroService, RequestContext
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import RESOURCES, ResourceType

log = get_logger(__name__)

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""Kubernetes' own request limit; etcd refuses any single object over 1.5 MiB anyway."""

_BY_SUBJECT = {(subjects.api_group_token(r.group), r.version, r.plural): r for r in RESOURCES}

# The pod a node's request is about: looked up before authorizing, read by the authorizer's callback.
_pod_node: contextvars.ContextVar[tuple[str, str, str | None] | None] = contextvars.ContextVar(
    "pod_node", default=None
)


@dataclass(frozen=True, slots=True)
class Route:
    rt: ResourceType
    verb: str
    """The subject's verb: one of VERBS or SUBRESOURCE_VERBS."""


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
    if verb not in VERBS and verb not in SUBRESOURCE_VERBS:
        raise ApiError(405, f'verb "{verb}" is not supported on {resource}', reason="MethodNotAllowed")
    return Route(rt, verb)


def authorization_attributes(user: UserInfo, r: Route, request: ApiRequest) -> Attributes:
    """What is being asked, in the authorizer's terms (Kubernetes' RequestInfo)."""
    verb, subresource = r.verb, ""
    if r.verb in SUBRESOURCE_VERBS:
        subresource = r.verb
        if r.verb in ("binding", "eviction"):
            verb = "create"
        elif request.patch is not None:
            verb = "patch"
        elif request.body is not None:
            verb = "update"
        else:
            verb = "get"
    name = request.name
    if r.verb == "create":
        name = (request.body or {}).get("metadata", {}).get("name", "") or ""
    namespace = ""
    if r.rt.namespaced:
        body_namespace = (request.body or {}).get("metadata", {}).get("namespace", "")
        namespace = (
            request.namespace or body_namespace or ("default" if r.verb not in ("list", "watch") else "")
        )
    return Attributes(user, verb, r.rt.group, r.rt.plural, subresource, namespace, name)


class ApiService:
    def __init__(
        self,
        nc: Client,
        registry: Registry,
        authenticator: TokenAuthenticator,
        *,
        replica: str = "",
    ) -> None:
        self.nc = nc
        self.registry = registry
        self.watches = WatchStreams(nc, registry.storage.kv)
        self.authenticator = authenticator
        self.authorizer = Authorizer(self._lookup_pod_node)
        self.micro = MicroService(
            nc,
            "apiserver",
            description="Kubernetes API over NATS",
            metadata={"replica": replica},
            queue_group=subjects.APISERVER_QUEUE,
            max_request_bytes=MAX_REQUEST_BYTES,
        )
        self.micro.add_endpoint("api", subjects.api_all(), ApiRequest, self.handle)
        registry.publish = self.publish

    async def start(self) -> None:
        await self.registry.ensure_namespaces(SYSTEM_NAMESPACES)
        await self.watches.start()
        await self.micro.start()

    async def stop(self) -> None:
        await self.micro.stop()
        await self.watches.stop()

    async def handle(self, request: ApiRequest, context: RequestContext) -> Object:
        r = route(context.subject)
        user = self.authenticator.authenticate(context.header(AUTHORIZATION_HEADER))
        attributes = authorization_attributes(user, r, request)
        await self._authorize(attributes)
        return await self.dispatch(r, request)

    async def _authorize(self, attributes: Attributes) -> None:
        pod = None
        if node_name(attributes.user) and attributes.resource == "pods" and attributes.name:
            # The node authorizer needs the pod's binding; fetch it for this request only.
            found = await self.registry.storage.get("pods", attributes.namespace, attributes.name)
            pod = (attributes.namespace, attributes.name, (found or {}).get("spec", {}).get("nodeName"))
        token = _pod_node.set(pod)
        try:
            self.authorizer.ensure_allowed(attributes)
        finally:
            _pod_node.reset(token)

    @staticmethod
    def _lookup_pod_node(namespace: str, name: str) -> str | None:
        pod = _pod_node.get()
        if pod is None or pod[:2] != (namespace, name):
            return None
        return pod[2]

    async def dispatch(self, r: Route, request: ApiRequest) -> Object:
        reg, rt, ns, name = self.registry, r.rt, request.namespace, request.name
        match r.verb:
            case "create":
                return await reg.create(rt, ns, request.body)
            case "get":
                return await reg.get(rt, ns, name)
            case "list":
                return await reg.list(
                    rt,
                    ns,
                    label_selector=request.label_selector,
                    field_selector=request.field_selector,
                    limit=request.limit,
                    continue_token=request.continue_,
                    resource_version=request.resource_version,
                    resource_version_match=request.resource_version_match or "",
                )
            case "update":
                return await reg.update(rt, ns, name, request.body)
            case "patch":
                return await reg.patch(rt, ns, name, request.patch, request.patch_type)
            case "delete":
                return await reg.delete(
                    rt, ns, name, request.grace_period_seconds, request.propagation_policy
                )
            case "watch":
                return self.watches.watch(rt, request)
            case "status":
                if request.patch is not None:
                    return await reg.patch(
                        rt, ns, name, request.patch, request.patch_type, subresource="status"
                    )
                if request.body is not None:
                    return await reg.update_status(rt, ns, name, request.body)
                return await reg.get(rt, ns, name)
            case "binding":
                return await bind(reg, rt, ns, name, request.body)
            case "eviction":
                return await evict(reg, rt, ns, name, request.body)
            case "scale":
                if request.patch is not None or request.body is not None:
                    return await update_scale(
                        reg, rt, ns, name, request.body, request.patch, request.patch_type
                    )
                return await get_scale(reg, rt, ns, name)
        raise ApiError(405, f'verb "{r.verb}" is not served yet on {rt.plural}', reason="MethodNotAllowed")

    async def publish(self, event: str, rt: ResourceType, obj: Object) -> None:
        meta: dict[str, Any] = obj.get("metadata", {})
        subject = subjects.watch_event(
            rt.group, rt.version, rt.plural, meta.get("namespace", ""), meta["name"]
        )
        try:
            await self.nc.publish(subject, json.dumps({"type": event, "object": obj}).encode())
        except Exception as error:  # observers are best effort; the write itself succeeded
            log.warning("watch event not published", subject=subject, error=repr(error))
