"""What the watch cache stores and hands out: entries, change events, per-watcher filters, event shapes.

A change is recorded once, as an :class:`Event` holding the object before and after it; each watcher's
:class:`Filter` then decides what that watcher sees of it, as Kubernetes' ``cacheWatcher`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.errors import ApiError
from shared.selectors import FieldSelectorExpr, LabelSelectorExpr

Obj = dict[str, Any]
WatchEventDict = dict[str, Any]
"""``{"type": "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR", "object": {...}}``."""
FieldsOf = Callable[[Obj], dict[str, str]]
ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
EVERYTHING = LabelSelectorExpr()
ANY_FIELDS = FieldSelectorExpr()


def selectable_fields(resource: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The fields a field selector can test on ``obj``: ``metadata.name`` and ``metadata.namespace`` for
    every resource, and for pods also ``spec.nodeName`` and ``status.phase``; a missing field reads ``""``."""
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": meta.get("name") or "", "metadata.namespace": meta.get("namespace") or ""}
    if resource == "pods":
        fields["spec.nodeName"] = (obj.get("spec") or {}).get("nodeName") or ""
        fields["status.phase"] = (obj.get("status") or {}).get("phase") or ""
    return fields


class TooLargeResourceVersionError(ApiError, TimeoutError):
    """The cache did not reach a resourceVersion in time: Kubernetes' 504 with the cause
    ``ResourceVersionTooLarge``, which clients retry after ``retryAfterSeconds``."""

    def __init__(self, *, wanted: int, current: int) -> None:
        cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
        message = f"Timeout: Too large resource version: {wanted}, current: {current}"
        super().__init__(504, message, "Timeout", {"causes": [cause], "retryAfterSeconds": 1})


def expired_event(from_rv: int, oldest: int) -> WatchEventDict:
    """The ERROR event for a watch from a resourceVersion the cache no longer covers (Kubernetes' words)."""
    status = ApiError(410, f"too old resource version: {from_rv} ({oldest})").to_status()
    return {"type": "ERROR", "object": status}


def bookmark_event(
    kind: str, api_version: str, rv: int, *, initial_events_end: bool = False
) -> WatchEventDict:
    """A BOOKMARK: kind, apiVersion and a resourceVersion that every event before it is at or below."""
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_events_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": metadata}}


def with_rv(obj: Obj, rv: int) -> Obj:
    """A shallow copy of ``obj`` at another resourceVersion (the original is shared, never changed)."""
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "resourceVersion": str(rv)}}


@dataclass(frozen=True, slots=True)
class Entry:
    """An object as the cache holds it, with its selectable fields computed once."""

    obj: Obj
    fields: dict[str, str]
    rv: int

    @property
    def labels(self) -> Mapping[str, str]:
        labels: Mapping[str, str] = (self.obj.get("metadata") or {}).get("labels") or {}
        return labels


@dataclass(frozen=True, slots=True)
class Event:
    """One change at revision ``rv``. ``cur`` is the object after it — for DELETED, the last version at
    the delete's revision; ``prev`` the version it replaced (None for ADDED)."""

    type: ChangeType
    key: str
    namespace: str
    rv: int
    cur: Entry
    prev: Entry | None


@dataclass(frozen=True, slots=True)
class Filter:
    """One watcher's or list's selection. ``namespace`` None: all namespaces."""

    namespace: str | None
    labels: LabelSelectorExpr
    fields: FieldSelectorExpr
    fields_of: FieldsOf | None  # None: the resource's selectable_fields, precomputed in each Entry

    def matches(self, entry: Entry) -> bool:
        """Labels and fields; the namespace is the caller's to check (it comes from the key)."""
        if not self.labels.matches(entry.labels):
            return False
        if self.fields.is_empty():
            return True
        return self.fields.matches(entry.fields if self.fields_of is None else self.fields_of(entry.obj))

    def convert(self, event: Event) -> WatchEventDict | None:
        """What this selection sees of ``event``: an object that enters it is ADDED, one that leaves it is
        DELETED (its last version, at the event's resourceVersion), and changes outside it nothing."""
        if self.namespace is not None and event.namespace != self.namespace:
            return None
        now = event.type != "DELETED" and self.matches(event.cur)
        before = event.prev is not None and self.matches(event.prev)
        if now:
            return {"type": "MODIFIED" if before else "ADDED", "object": event.cur.obj}
        if not before or event.prev is None:
            return None
        gone = event.cur.obj if event.type == "DELETED" else with_rv(event.prev.obj, event.rv)
        return {"type": "DELETED", "object": gone}
