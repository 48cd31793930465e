"""Kubernetes REST paths and methods → the route a request takes: resource, namespace, name, verb.

``/api/v1/namespaces/{namespace}/{resource}[/{name}[/{subresource}]]``, ``/api/v1/{resource}[/{name}…]``
for cluster-scoped resources and all-namespace lists, and the same under ``/apis/{group}/{version}``; the
deprecated ``/watch/`` segment after the version is read as ``?watch=true``. As in kube-apiserver,
``/api/v1/namespaces/{name}`` is the namespace itself and ``…/namespaces/{name}/status`` its status.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.apiserver.handler import Route
from services.apiserver.metrics import METRICS_RESOURCES
from services.apiserver.rest.discovery import SERVED, served_resource
from shared.errors import ApiError
from shared.models import ResourceType

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_SUBRESOURCES = {info.rt: frozenset(s.name for s in info.subresources) for info in SERVED}
_READABLE_SUBRESOURCES = frozenset({"status", "scale"})
_CREATED_SUBRESOURCES = frozenset({"binding", "eviction"})


def not_found() -> ApiError:
    return ApiError(404, "the server could not find the requested resource")


@dataclass(frozen=True, slots=True)
class ResourcePath:
    rt: ResourceType
    namespace: str
    name: str
    subresource: str
    watch: bool
    """The path had the deprecated ``/watch/`` segment."""


def parse_path(path: str) -> ResourcePath:
    """The resource a path names; ApiError 404 when it names none that is served."""
    parts = [part for part in path.split("/") if part]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise not_found()
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            namespace = ""
    if not rest or len(rest) > 3:
        raise not_found()
    rt = served_resource(group, version, rest[0])
    if rt is None or (namespace and not rt.namespaced):
        raise not_found()
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in _SUBRESOURCES.get(rt, ()):
        raise not_found()
    return ResourcePath(rt, namespace, name, subresource, watch)


def route_for(method: str, where: ResourcePath, watch: bool) -> Route:
    """The verb an HTTP method means on a path (``watch``: the query asked for a watch)."""
    rt, name, sub = where.rt, where.name, where.subresource
    method = method.upper()
    if rt in METRICS_RESOURCES and (method != "GET" or watch or where.watch):
        raise ApiError(405, f"{method} is not allowed on this path", reason="MethodNotAllowed")
    if method == "GET":
        if sub == "log":
            return Route(rt, "log")
        if watch or where.watch:
            if sub:
                raise not_found()
            return Route(rt, "watch")
        if not name:
            return Route(rt, "list")
        if not sub:
            return Route(rt, "get")
        if sub in _READABLE_SUBRESOURCES:
            return Route(rt, sub)
    elif method == "POST":
        if not name:
            return Route(rt, "create")
        if sub in _CREATED_SUBRESOURCES:
            return Route(rt, sub)
    elif method in ("PUT", "PATCH") and name:
        if not sub:
            return Route(rt, "update" if method == "PUT" else "patch")
        if sub in _READABLE_SUBRESOURCES:
            return Route(rt, sub)
    elif method == "DELETE" and name and not sub:
        return Route(rt, "delete")
    elif method == "DELETE" and not name and not where.watch:
        # Authorized first, then refused where kube-apiserver has no such route (the all-namespaces path
        # of a namespaced resource, namespaces): services.apiserver.collection decides, for both fronts.
        return Route(rt, "deletecollection")
    raise ApiError(405, f"{method} is not allowed on this path", reason="MethodNotAllowed")
