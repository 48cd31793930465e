"""The building blocks of kubectl's table columns: a column definition, a table spec, ages and cell helpers.

A ``Column`` is what a server-side ``meta.k8s.io/v1`` Table lists in ``columnDefinitions`` (priority 1 =
shown only with ``-o wide``); a ``TableSpec`` pairs a resource's columns with the function from an object
and ``now`` to its cells. Ages read as kubectl's ``HumanDuration`` (``5m10s``, ``3h``, ``2d4h``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Object = dict[str, Any]
Cells = list[Any]
NONE = "<none>"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    priority: int = 0
    description: str = ""
    format: str = ""

    def definition(self) -> Object:
        """The column as a Table's ``columnDefinitions`` entry (the description defaults to the name)."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description or self.name,
            "priority": self.priority,
        }


@dataclass(frozen=True, slots=True)
class TableSpec:
    columns: tuple[Column, ...]
    cells: Callable[[Object, datetime], Cells]


NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="The time since the object was created.")


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``: ``45s``, ``3m12s``, ``2h5m``, ``3d4h``, ``2y10d``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (UTC when it names no zone), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def since(value: Any, now: datetime) -> str:
    moment = parse_time(value)
    return "<unknown>" if moment is None else human_duration((now - moment).total_seconds())


def age(obj: Object, now: datetime) -> str:
    return since(dig(obj, "metadata", "creationTimestamp"), now)


def utcnow() -> datetime:
    return datetime.now(UTC)


def dig(obj: Object, *path: str) -> Any:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def name_of(obj: Object) -> str:
    return str(dig(obj, "metadata", "name") or "")


def or_none(value: Any) -> str:
    return str(value) if value not in (None, "", []) else NONE


def generic_cells(obj: Object, now: datetime) -> Cells:
    return [name_of(obj), age(obj, now)]
