"""Event (core/v1): a report that something happened to an object (``Scheduled``, ``Killing`` …)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.meta import KubeObject, ObjectReference
from shared.models.timestamps import MicroTime, Time

__all__ = ["Event", "EventSource"]


class EventSource(KubeModel):
    component: str = ""
    host: str = ""


class Event(KubeObject):
    """``type`` is ``Normal`` or ``Warning``; ``count`` and the timestamps describe repeats."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Event"] = "Event"
    involved_object: ObjectReference
    reason: str = ""
    message: str = ""
    source: EventSource = Field(default_factory=EventSource)
    first_timestamp: Time | None = None
    last_timestamp: Time | None = None
    count: int = 0
    type: str = ""
    event_time: MicroTime | None = None
    series: dict[str, Any] | None = None
    action: str = ""
    related: ObjectReference | None = None
    reporting_component: str = ""
    reporting_instance: str = ""
