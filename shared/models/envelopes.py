"""Envelopes around objects: a list (``{apiVersion, kind: PodList, metadata, items}``) and a watch event.

``ObjectList[Pod]`` and ``WatchEvent[Pod]`` are typed; an ``ERROR`` watch event carries a ``Status``
instead of an object, so ``WatchEvent.object`` admits one too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Literal, TypeVar

from pydantic import Field, SerializeAsAny

from shared.models.base import KubeModel
from shared.models.meta import KubeObject, ListMeta
from shared.models.status import Status

__all__ = [
    "WATCH_ADDED",
    "WATCH_BOOKMARK",
    "WATCH_DELETED",
    "WATCH_ERROR",
    "WATCH_MODIFIED",
    "ObjectList",
    "WatchEvent",
    "WatchEventType",
    "make_list",
]

ObjT = TypeVar("ObjT", bound=KubeObject)

WatchEventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
WATCH_ADDED: WatchEventType = "ADDED"
WATCH_MODIFIED: WatchEventType = "MODIFIED"
WATCH_DELETED: WatchEventType = "DELETED"
WATCH_BOOKMARK: WatchEventType = "BOOKMARK"
WATCH_ERROR: WatchEventType = "ERROR"


class ObjectList(KubeModel, Generic[ObjT]):
    """A page of objects read at ``metadata.resourceVersion``; ``metadata.continue`` fetches the next one."""

    api_version: str
    kind: str
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[SerializeAsAny[ObjT]] = Field(default_factory=list)


def make_list(
    model: type[ObjT], items: Iterable[ObjT], resource_version: str = "", continue_token: str = ""
) -> ObjectList[ObjT]:
    """``make_list(Pod, pods, "42")`` is a ``v1 PodList`` at revision 42, with ``items`` always written."""
    api_version = model.model_fields["api_version"].get_default()
    kind = model.model_fields["kind"].get_default()
    metadata = ListMeta(resource_version=resource_version)
    if continue_token:
        metadata.continue_ = continue_token
    return ObjectList[ObjT](api_version=api_version, kind=f"{kind}List", metadata=metadata, items=list(items))


class WatchEvent(KubeModel, Generic[ObjT]):
    """One change seen by a watch: the object after it (before it, for ``DELETED``), or a ``Status``."""

    type: WatchEventType
    object: SerializeAsAny[ObjT] | Status
