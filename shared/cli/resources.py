"""Resource names as users type them: ``pods``, ``pod``, ``po``, ``deploy``, ``deployments.apps``, ``svc``."""

from __future__ import annotations

from shared.models import RESOURCES, ResourceType

SHORT_NAMES: dict[str, tuple[str, ...]] = {
    "pods": ("po",),
    "nodes": ("no",),
    "namespaces": ("ns",),
    "services": ("svc",),
    "deployments": ("deploy",),
    "replicasets": ("rs",),
    "events": ("ev",),
}
"""kubectl's short names for the resources kubenats serves."""


def _names(rt: ResourceType) -> set[str]:
    plural, kind = rt.plural, rt.kind.lower()
    names = {plural, kind, *SHORT_NAMES.get(plural, ())}
    if rt.group:
        names |= {f"{plural}.{rt.group}", f"{kind}.{rt.group}", f"{plural}.{rt.version}.{rt.group}"}
    return names


_BY_NAME = {name: rt for rt in RESOURCES for name in _names(rt)}


class UnknownResourceError(LookupError):
    pass


def resolve_resource(name: str) -> ResourceType:
    """The resource a typed name means; ``UnknownResourceError`` in kubectl's words otherwise."""
    found = _BY_NAME.get(name.lower())
    if found is None:
        raise UnknownResourceError(f'the server doesn\'t have a resource type "{name}"')
    return found


def split_type_and_name(arguments: list[str]) -> list[tuple[ResourceType, str]]:
    """``["pod", "web"]``, ``["pod/web", "svc/db"]`` or ``["pods"]`` → (resource, name or '') pairs."""
    if not arguments:
        raise UnknownResourceError("You must specify the type of resource to get")
    if all("/" in a for a in arguments):
        pairs = [a.split("/", 1) for a in arguments]
        return [(resolve_resource(kind), name) for kind, name in pairs]
    rt = resolve_resource(arguments[0])
    names = arguments[1:]
    return [(rt, name) for name in names] if names else [(rt, "")]
