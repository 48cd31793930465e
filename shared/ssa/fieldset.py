"""The set of fields an object sets, and reading or removing one field of an object by its path.

Lists are walked as Kubernetes' patch metadata (:mod:`shared.patchmeta`) says: a list merged by a key
contributes one path per element (``k:{"name":"nginx"}``) and the element's own fields below it; a set
of primitives (finalizers) one path per value; any other list is atomic and is a single leaf, as is an
empty object. Server-owned metadata (name, uid, resourceVersion, managedFields, …) is nobody's field.
"""

from __future__ import annotations

import json
from typing import Any

from shared.patchmeta import FieldMeta, Schema
from shared.ssa.fieldpath import FieldSet, Path, field, keyed, valued

SERVER_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


def field_set(obj: dict[str, Any], schema: Schema | None, *, ignore_status: bool = False) -> FieldSet:
    """Every path ``obj`` sets, leaves and list elements; ``apiVersion`` and ``kind`` are not fields."""
    return frozenset(field_values(obj, schema, ignore_status=ignore_status))


def field_values(
    obj: dict[str, Any], schema: Schema | None, *, ignore_status: bool = False
) -> dict[Path, Any]:
    """The paths of :func:`field_set`, each with its value in ``obj`` (not a copy)."""
    paths: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and ignore_status):
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in SERVER_METADATA}
            if not value:
                continue
        _collect(value, (field(key),), schema.get(key) if schema else None, paths)
    return paths


def _collect(value: Any, path: Path, meta: FieldMeta | None, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        sub = meta.schema if meta else None
        for key, child in value.items():
            _collect(child, (*path, field(key)), sub.get(key) if sub else None, out)
        return
    if isinstance(value, list) and value and meta is not None and meta.merge:
        key_name = meta.merge_key
        if key_name is None:
            out.update({(*path, valued(element)): element for element in value})
            return
        if all(isinstance(element, dict) and key_name in element for element in value):
            for element in value:
                element_path = (*path, keyed(key_name, element[key_name]))
                out[element_path] = element
                for name, child in element.items():
                    child_meta = meta.schema.get(name) if meta.schema else None
                    _collect(child, (*element_path, field(name)), child_meta, out)
            return
    out[path] = value


def lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    """``(True, value)`` for the value at ``path`` in ``obj``; ``(False, None)`` if it is not there."""
    node = obj
    for token in path:
        index = _position(node, token)
        if index is None:
            return False, None
        node = node[index]
    return True, node


def remove(obj: Any, path: Path) -> None:
    """Remove the member or element at ``path`` from ``obj`` in place, if it is there."""
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    index = _position(parent, path[-1])
    if index is not None:
        del parent[index]


def _position(node: Any, token: str) -> Any:
    """The dict key or list index ``token`` names in ``node``, or None."""
    kind, _, rest = token.partition(":")
    if kind == "f":
        return rest if isinstance(node, dict) and rest in node else None
    if not isinstance(node, list):
        return None
    wanted = json.loads(rest)
    for index, element in enumerate(node):
        if kind == "v" and element == wanted:
            return index
        if kind == "k" and isinstance(element, dict) and all(element.get(k) == v for k, v in wanted.items()):
            return index
    return None
