"""The scheme: which ``(apiVersion, kind)`` pairs kubenats serves, their resource names, and parsing.

``parse_object(doc)`` turns a decoded manifest into its model, and refuses a kind it does not know with
Kubernetes' own wording: ``no kind "StatefulSet" is registered for version "apps/v1"``. ``XList`` kinds of
registered kinds parse into ``ObjectList[X]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.models.apps import Deployment, ReplicaSet
from shared.models.coordination import Lease
from shared.models.discovery import EndpointSlice
from shared.models.envelopes import ObjectList, WatchEvent
from shared.models.event import Event
from shared.models.meta import KubeObject
from shared.models.namespace import Namespace
from shared.models.node import Node
from shared.models.pod import Binding, Pod
from shared.models.service import Service
from shared.models.status import Status

__all__ = [
    "KINDS",
    "RESOURCES",
    "ResourceType",
    "UnsupportedKindError",
    "model_for",
    "parse_object",
    "parse_watch_event",
    "resource_for_kind",
    "resource_for_plural",
]


@dataclass(frozen=True)
class ResourceType:
    """A served resource: ``ResourceType("apps", "v1", "Deployment", "deployments", True, Deployment)``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    model: type[KubeObject]

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Pod", "pods", True, Pod),
    ResourceType("", "v1", "Node", "nodes", False, Node),
    ResourceType("", "v1", "Namespace", "namespaces", False, Namespace),
    ResourceType("", "v1", "Service", "services", True, Service),
    ResourceType("", "v1", "Event", "events", True, Event),
    ResourceType("apps", "v1", "Deployment", "deployments", True, Deployment),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, ReplicaSet),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True, Lease),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, EndpointSlice),
)

KINDS: dict[tuple[str, str], type[KubeObject] | type[Status]] = {
    **{(r.api_version, r.kind): r.model for r in RESOURCES},
    ("v1", "Binding"): Binding,
    ("v1", "Status"): Status,
}
"""Every ``(apiVersion, kind)`` that ``parse_object`` accepts (besides ``XList`` of the resources)."""

_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
_BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}


class UnsupportedKindError(ValueError):
    """A document whose ``apiVersion``/``kind`` is missing or not served here."""

    def __init__(self, message: str, api_version: str = "", kind: str = "") -> None:
        super().__init__(message)
        self.api_version = api_version
        self.kind = kind


def resource_for_kind(api_version: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((api_version, kind))


def resource_for_plural(group: str, version: str, plural: str) -> ResourceType | None:
    """Look a resource up the way a subject names it; ``group`` is ``""`` (not ``core``) for core."""
    return _BY_PLURAL.get((group, version, plural))


def model_for(api_version: str, kind: str) -> type[KubeObject] | type[Status]:
    """The model of a kind, or ``UnsupportedKindError`` naming it."""
    model = KINDS.get((api_version, kind))
    if model is None:
        raise UnsupportedKindError(
            f'no kind "{kind}" is registered for version "{api_version}"', api_version, kind
        )
    return model


def parse_object(doc: Mapping[str, Any]) -> KubeObject | Status | ObjectList[Any]:
    """Validate a decoded document into its model. Raises ``UnsupportedKindError`` for a missing or unknown
    kind, and pydantic's ``ValidationError`` (turn it into field errors with ``field_errors``) otherwise."""
    if not isinstance(doc, Mapping):
        raise UnsupportedKindError(f"an object must be a mapping, not {type(doc).__name__}")
    kind = doc.get("kind")
    api_version = doc.get("apiVersion")
    if not isinstance(kind, str) or not kind:
        raise UnsupportedKindError("Object 'Kind' is missing in the document")
    if not isinstance(api_version, str) or not api_version:
        raise UnsupportedKindError(f"Object 'apiVersion' is missing in the {kind} document", kind=kind)
    if kind.endswith("List") and (api_version, kind[: -len("List")]) in _BY_KIND:
        item_model = _BY_KIND[(api_version, kind[: -len("List")])].model
        return ObjectList[item_model].model_validate(doc)  # type: ignore[valid-type]
    return model_for(api_version, kind).model_validate(doc)


def parse_watch_event(doc: Mapping[str, Any]) -> WatchEvent[KubeObject]:
    """A watch event whose object is parsed into its own model (a ``Status`` for ``ERROR``)."""
    obj = doc.get("object")
    parsed = parse_object(obj) if isinstance(obj, Mapping) else obj
    if isinstance(parsed, ObjectList):
        raise UnsupportedKindError("a watch event carries one object, not a list")
    return WatchEvent[KubeObject].model_validate({"type": doc.get("type"), "object": parsed})
