"""Server-side apply and the ownership an ordinary write takes, on plain objects.

:func:`apply` merges an applied configuration into the live object for one manager: conflicts with other
managers' fields are refused (:class:`ApplyConflict`) unless forced, fields the manager applied before
and no longer applies are removed unless someone else owns them, and the manager's ``Apply`` entry
becomes exactly the applied fields. :func:`record_update` gives the writer of any other update (or
create) the fields it changed, taking them from the other managers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from shared.patch import json_equal
from shared.patchmeta import Schema
from shared.ssa.fieldpath import FieldSet, Path, to_string, with_descendants
from shared.ssa.fieldset import field_set, field_values, lookup, remove
from shared.ssa.managed import APPLY, UPDATE, Manager, read_managers, write_managers
from shared.ssa.merge import merge, without_nulls


@dataclass(frozen=True, slots=True)
class Conflict:
    manager: Manager
    path: Path


class ApplyConflict(Exception):
    """Applied fields whose live values differ and that other managers own; ``message`` and ``causes``
    are worded as kube-apiserver words its 409."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        self.message = conflict_message(conflicts)
        super().__init__(self.message)

    @property
    def causes(self) -> list[dict[str, str]]:
        return [
            {
                "type": "FieldManagerConflict",
                "message": f"conflict with {c.manager.describe()}",
                "field": to_string(c.path),
            }
            for c in self.conflicts
        ]


def conflict_message(conflicts: list[Conflict]) -> str:
    if len(conflicts) == 1:
        only = conflicts[0]
        return (
            f"Apply failed with 1 conflict: conflict with {only.manager.describe()}: {to_string(only.path)}"
        )
    by_manager: dict[str, list[Path]] = {}
    for c in conflicts:
        by_manager.setdefault(c.manager.describe(), []).append(c.path)
    lines: list[str] = []
    for described in sorted(by_manager):
        lines.append(f"conflicts with {described}:")
        lines.extend(f"- {to_string(path)}" for path in by_manager[described])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Writer:
    """Who writes: the field manager's name, the API version written, and when (RFC 3339)."""

    manager: str
    api_version: str
    time: str
    subresource: str = ""


def apply(
    live: dict[str, Any],
    applied: dict[str, Any],
    writer: Writer,
    schema: Schema | None,
    *,
    force: bool = False,
    ignore_status: bool = False,
) -> dict[str, Any]:
    """The object after ``writer.manager`` applies ``applied`` to ``live``; raises :class:`ApplyConflict`."""
    applied = without_nulls(applied)
    applied_set = field_set(applied, schema, ignore_status=ignore_status)
    managers = read_managers(live)
    me = (writer.manager, APPLY, writer.subresource)
    previous = next((m.fields for m in managers if m.identity == me), frozenset())
    others = [m for m in managers if m.identity != me]
    conflicts = find_conflicts(live, applied, applied_set, others)
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = frozenset(c.path for c in conflicts)
    others = [replace(m, fields=m.fields - taken) for m in others]
    owned_by_others = frozenset().union(*(m.fields for m in others))
    result = _without_abandoned(live, previous - applied_set, applied_set, owned_by_others)
    result = merge(result, applied, schema)
    if _same_object(result, live) and previous == applied_set:
        return live
    mine = Manager(writer.manager, APPLY, writer.api_version, applied_set, writer.time, writer.subresource)
    write_managers(result, _ordered(managers, [*others, mine]))
    return result


def find_conflicts(
    live: dict[str, Any], applied: dict[str, Any], applied_set: FieldSet, others: list[Manager]
) -> list[Conflict]:
    """The applied leaves another manager owns whose live value differs from the applied one."""
    conflicts: list[Conflict] = []
    parents = _parents(applied_set)
    for path in sorted(applied_set):
        if path in parents:
            continue  # a list element or object with fields below it: its leaves decide
        found, current = lookup(live, path)
        if not found:
            continue
        _, wanted = lookup(applied, path)
        if json_equal(current, wanted):
            continue
        conflicts.extend(Conflict(m, path) for m in others if path in m.fields)
    return conflicts


def _without_abandoned(
    live: dict[str, Any], abandoned: FieldSet, applied_set: FieldSet, owned_by_others: FieldSet
) -> dict[str, Any]:
    """A copy of ``live`` without the fields no manager holds on to any more."""
    result = merge(live, {}, None)
    for path in sorted(abandoned, key=len):
        if with_descendants(owned_by_others, path) or with_descendants(applied_set, path):
            continue
        remove(result, path)
        # An object or list emptied by the removal goes too, unless someone owns it as it is.
        parent = path[:-1]
        while parent and parent not in owned_by_others and parent not in applied_set:
            found, value = lookup(result, parent)
            if not found or value not in ({}, []):
                break
            remove(result, parent)
            parent = parent[:-1]
    return result


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    writer: Writer,
    schema: Schema | None,
) -> dict[str, Any]:
    """``new`` (a copy) with managedFields as after ``writer`` wrote it over ``old`` (None: a create).

    The entries ``old`` had are the starting point, unless the write itself changed ``managedFields``
    (kubectl does, to hand a client-side apply's fields over to its server-side apply manager): then the
    written entries are, as in Kubernetes.
    """
    managers = read_managers(_ownership_source(old, new))
    old_values = field_values(old, schema) if old is not None else {}
    new_values = field_values(new, schema)
    parents = _parents(frozenset(new_values))
    changed = frozenset(
        path
        for path, value in new_values.items()
        if path not in old_values or (path not in parents and not json_equal(old_values[path], value))
    )
    gone = frozenset(old_values.keys() - new_values.keys())
    me = (writer.manager, UPDATE, writer.subresource)
    updated = [
        replace(m, fields=m.fields - gone - (frozenset() if m.identity == me else changed)) for m in managers
    ]
    result = merge(new, {}, None)
    if changed:
        mine = next((m for m in updated if m.identity == me), None)
        fields = (mine.fields if mine else frozenset()) | changed
        entry = Manager(writer.manager, UPDATE, writer.api_version, fields, writer.time, writer.subresource)
        updated = [entry if m.identity == me else m for m in updated] if mine else [*updated, entry]
    write_managers(result, updated)
    return result


def _ownership_source(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    written = (new.get("metadata") or {}).get("managedFields")
    if old is None:
        return new
    if written is not None and written != (old.get("metadata") or {}).get("managedFields"):
        return new
    return old


def _parents(paths: FieldSet) -> set[Path]:
    """Every path that has another path of ``paths`` below it."""
    return {path[:end] for path in paths for end in range(1, len(path))}


def _same_object(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json_equal(_without_managed_fields(a), _without_managed_fields(b))


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _ordered(before: list[Manager], after: list[Manager]) -> list[Manager]:
    """``after`` in the order the entries had before, new ones last."""
    order = {m.identity: index for index, m in enumerate(before)}
    return sorted(after, key=lambda m: order.get(m.identity, len(order)))
