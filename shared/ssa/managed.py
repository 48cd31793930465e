"""``metadata.managedFields``: who owns which fields, read from and written back to an object.

A manager is identified by its name, its operation (``Apply`` for server-side apply, ``Update`` for
every other write) and the subresource it wrote through; each owns a set of field paths, stored as a
``FieldsV1`` tree. Entries that own nothing are dropped, as Kubernetes drops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.ssa.fieldpath import FieldSet, decode, encode

APPLY = "Apply"
UPDATE = "Update"


@dataclass(frozen=True, slots=True)
class Manager:
    """One ``managedFields`` entry."""

    name: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str = ""
    subresource: str = ""

    @property
    def identity(self) -> tuple[str, str, str]:
        return self.name, self.operation, self.subresource

    def describe(self) -> str:
        """The manager as a conflict message names it: ``"kubectl-client-side-apply" using apps/v1``."""
        shown = f'"{self.name}"'
        if self.subresource:
            shown += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            shown += f" using {self.api_version}"
        return shown


def read_managers(obj: dict[str, Any]) -> list[Manager]:
    """The entries of ``obj``'s ``managedFields``; malformed entries are skipped."""
    entries = (obj.get("metadata") or {}).get("managedFields")
    managers: list[Manager] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("manager"), str):
            continue
        managers.append(
            Manager(
                name=entry["manager"],
                operation=str(entry.get("operation") or UPDATE),
                api_version=str(entry.get("apiVersion") or ""),
                fields=decode(entry.get("fieldsV1")),
                time=str(entry.get("time") or ""),
                subresource=str(entry.get("subresource") or ""),
            )
        )
    return managers


def write_managers(obj: dict[str, Any], managers: list[Manager]) -> None:
    """Set ``obj``'s ``managedFields`` (in place) to the entries that own something."""
    entries: list[dict[str, Any]] = []
    for manager in managers:
        if not manager.fields:
            continue
        entry: dict[str, Any] = {
            "manager": manager.name,
            "operation": manager.operation,
            "apiVersion": manager.api_version,
            "time": manager.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(manager.fields),
        }
        if manager.subresource:
            entry["subresource"] = manager.subresource
        entries.append(entry)
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
