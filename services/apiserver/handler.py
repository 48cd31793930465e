"""Request handling every front of the API server shares: authenticate, authorize, dispatch to the registry.

A front (NATS subjects in ``service.py``, Kubernetes REST paths in ``rest/``) only decodes its transport
into a :class:`Route` and an :class:`~shared.apiprotocol.ApiRequest`, calls :meth:`RequestHandler.handle`
(or :meth:`RequestHandler.watch` for a stream of events), and encodes what comes back. So authentication,
authorization and every object semantic exist once, whichever way a request arrived. In order:

1. authenticate the bearer token (401);
2. authorize the user for the verb on the resource (403) — a node's request about a pod first reads the
   pod's binding, since the node authorizer allows only its own pods;
3. call the registry (or a subresource, or the watch caches), whose errors are Kubernetes ``Status``es;
   a pod's ``log`` and the ``metrics.k8s.io`` resources are answered from the kubelets instead.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from services.apiserver.auth import Attributes, Authorizer, TokenAuthenticator, UserInfo, node_name
from services.apiserver.collection import delete_collection, list_requested
from services.apiserver.dryrun import check_dry_run, dry_running
from services.apiserver.fieldmanager import server_side_apply, writing_as
from services.apiserver.fieldvalidation import check_request, compile_checkers, validating_fields
from services.apiserver.kubelets import KubeletClient
from services.apiserver.logs import read_log
from services.apiserver.metrics import METRICS_RESOURCES, MetricsSource
from services.apiserver.objects import Object
from services.apiserver.registry import Registry
from services.apiserver.subresources import bind, evict, get_scale, update_scale
from services.apiserver.watch_cache import WatchEventDict
from services.apiserver.watches import WatchCaches
from shared.apiprotocol import SUBRESOURCE_VERBS, ApiRequest
from shared.errors import ApiError
from shared.models import RESOURCES, ResourceType
from shared.patch import APPLY_PATCH

# The pod a node's request is about: looked up before authorizing, read by the authorizer's callback.
_pod_node: contextvars.ContextVar[tuple[str, str, str | None] | None] = contextvars.ContextVar(
    "pod_node", default=None
)


@dataclass(frozen=True, slots=True)
class Route:
    """What a request is about, whatever front it came through: a resource and a verb."""

    rt: ResourceType
    verb: str
    """One of ``shared.apiprotocol.VERBS`` or ``SUBRESOURCE_VERBS``."""


# Verbs on a whole collection, where an empty namespace means every namespace rather than ``default``.
_COLLECTION_VERBS = ("list", "watch", "deletecollection")


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
            request.namespace or body_namespace or ("default" if r.verb not in _COLLECTION_VERBS else "")
        )
    return Attributes(user, verb, r.rt.group, r.rt.plural, subresource, namespace, name)


def _eviction_dry_run(r: Route, request: ApiRequest) -> list[str]:
    """An Eviction carries its dry run in its own ``deleteOptions`` (``kubectl drain --dry-run=server``)."""
    if r.verb != "eviction":
        return []
    values = ((request.body or {}).get("deleteOptions") or {}).get("dryRun") or []
    return [str(value) for value in values] if isinstance(values, list) else [str(values)]


class RequestHandler:
    """Authenticates, authorizes and serves one request; shared by every front of one replica."""

    def __init__(
        self,
        registry: Registry,
        authenticator: TokenAuthenticator,
        caches: WatchCaches,
        kubelets: KubeletClient | None = None,
    ) -> None:
        self.registry = registry
        self.authenticator = authenticator
        self.caches = caches
        self.authorizer = Authorizer(self._lookup_pod_node)
        # Logs and metrics come from the kubelets; without a client they answer 503.
        self.kubelets = kubelets
        self.metrics = MetricsSource(registry, kubelets)
        compile_checkers(RESOURCES)  # Kubernetes' schemas, loaded before the first write needs them

    def authenticate(self, authorization: str | None) -> UserInfo:
        """The user an ``Authorization`` header value names; ApiError 401 otherwise."""
        return self.authenticator.authenticate(authorization)

    async def handle(self, r: Route, request: ApiRequest, authorization: str | None) -> Object:
        """Serve any verb but ``watch`` (whose events each front streams its own way)."""
        await self.admit(r, request, authorization)
        return await self.dispatch(r, request)

    async def watch(
        self, r: Route, request: ApiRequest, authorization: str | None
    ) -> AsyncGenerator[WatchEventDict]:
        """Authorize a watch and open it: the events, ending as :meth:`WatchCaches.events` says."""
        await self.admit(r, request, authorization)
        return self.caches.events(r.rt, request)

    async def admit(self, r: Route, request: ApiRequest, authorization: str | None) -> UserInfo:
        user = self.authenticate(authorization)
        await self._authorize(authorization_attributes(user, r, request))
        return user

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
        # Writes record the request's field manager in managedFields (services.apiserver.fieldmanager);
        # a dry run goes through all of it but persists nothing (services.apiserver.dryrun).
        dry_run = check_dry_run(request.dry_run or _eviction_dry_run(r, request))
        check_request(r.rt, r.verb, request)  # unknown fields in what is written (fieldValidation)
        with (
            writing_as(request.field_manager, r.verb if r.verb in ("status", "scale") else ""),
            dry_running(dry_run),
            validating_fields(request),
        ):
            return await self._dispatch(r, request)

    async def _dispatch(self, r: Route, request: ApiRequest) -> Object:
        reg, rt, ns, name = self.registry, r.rt, request.namespace, request.name
        if rt in METRICS_RESOURCES:
            return await self.metrics.serve(rt, r.verb, ns, name, request.label_selector)
        match r.verb:
            case "create":
                return await reg.create(rt, ns, request.body)
            case "get":
                return await reg.get(rt, ns, name)
            case "list":
                return await list_requested(reg, rt, request)
            case "update":
                return await reg.update(rt, ns, name, request.body)
            case "patch" if request.patch_type == APPLY_PATCH:
                return await server_side_apply(
                    reg, rt, ns, name, request.patch, request.field_manager, force=request.force
                )
            case "patch":
                return await reg.patch(rt, ns, name, request.patch, request.patch_type)
            case "delete":
                return await reg.delete(
                    rt, ns, name, request.grace_period_seconds, request.propagation_policy
                )
            case "deletecollection":
                return await delete_collection(reg, rt, request)
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
            case "finalize":
                return await reg.finalize(rt, name, request.body)
            case "log":
                logs = await read_log(reg, self.kubelets, rt, ns, name, request.log_options)
                return logs.model_dump(mode="json", by_alias=True)
            case "scale":
                if request.patch is not None or request.body is not None:
                    return await update_scale(
                        reg, rt, ns, name, request.body, request.patch, request.patch_type
                    )
                return await get_scale(reg, rt, ns, name)
        raise ApiError(405, f'verb "{r.verb}" is not served yet on {rt.plural}', reason="MethodNotAllowed")
