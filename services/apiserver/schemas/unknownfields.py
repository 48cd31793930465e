"""Unknown-field detection: which fields of an object its kind's schema does not declare.

kube-apiserver finds unknown fields while decoding JSON into its Go types: a key that names no field of the
struct being filled is unknown, a map's keys are data, and a raw field (``FieldsV1``, ``RawExtension``)
takes anything. :class:`FieldChecker` does the same on a decoded object, with the schema compiled once into
a tree of field-name tables, so a check is one walk over the object that only descends where the schema
has structure. Paths come out as segments (field names and list indexes), written the way Kubernetes
writes them: :func:`strict_path` as its strict JSON decoder does (``spec.containers[0].imagePullPolicyy``),
:meth:`FieldChecker.typed_path` as server-side apply's typed conversion does
(``.spec.containers[name="web"].imagePullPolicyy``).
"""

from __future__ import annotations

import functools
import json
from typing import Any, cast

from services.apiserver.schemas.catalog import component_schemas, schema_name

FieldPath = tuple[str | int, ...]
MAX_UNKNOWN = 100
"""Kubernetes' strict decoder stops recording problems after this many."""

_REF = "#/components/schemas/"


class _Struct:
    """An object with declared fields; a field's node is None where anything goes below it."""

    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: dict[str, _Node | None] = {}


class _Map:
    """A map whose keys are data and whose values have structure."""

    __slots__ = ("values",)

    def __init__(self, values: _Node) -> None:
        self.values = values


class _List:
    """A list whose items have structure; ``keys`` name an associative list's item (``[name="web"]``)."""

    __slots__ = ("items", "keys")

    def __init__(self, items: _Node, keys: tuple[str, ...]) -> None:
        self.items = items
        self.keys = keys


_Node = _Struct | _Map | _List


class _Compiler:
    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas
        self.named: dict[str, _Node | None] = {}

    def named_node(self, name: str) -> _Node | None:
        if name in self.named:
            return self.named[name]
        schema = self.schemas[name]
        if "properties" in schema:
            node = _Struct()
            self.named[name] = node  # before its fields: a type may contain itself
            node.fields = {key: self.node(prop) for key, prop in schema["properties"].items()}
            return node
        self.named[name] = self.node(schema)
        return self.named[name]

    def node(self, schema: Any) -> _Node | None:
        if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
            return None
        if isinstance(schema.get("$ref"), str):
            return self.named_node(schema["$ref"].removeprefix(_REF))
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            return self.node(all_of[0])
        if isinstance(schema.get("properties"), dict):
            struct = _Struct()
            struct.fields = {key: self.node(prop) for key, prop in schema["properties"].items()}
            return struct
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            value_node = self.node(values)
            return _Map(value_node) if value_node is not None else None
        if "items" in schema:
            item_node = self.node(schema["items"])
            keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
            return _List(item_node, keys) if item_node is not None else None
        return None  # a scalar, or an object that takes any fields


def _walk(node: _Node, value: Any, path: FieldPath, found: list[FieldPath]) -> None:
    # The hot loop: exact type checks, and no descent where the schema has nothing to say.
    if node.__class__ is _Struct:
        if value.__class__ is not dict:
            return
        fields = node.fields
        for key, item in value.items():
            if key in fields:
                child = fields[key]
                if child is not None and item.__class__ in (dict, list):
                    _walk(child, item, (*path, key), found)
            elif len(found) < MAX_UNKNOWN:
                found.append((*path, key))
    elif node.__class__ is _List:
        if value.__class__ is not list:
            return
        items = node.items
        for index, item in enumerate(value):
            if item.__class__ in (dict, list):
                _walk(items, item, (*path, index), found)
    elif value.__class__ is dict:
        values = cast(_Map, node).values
        for key, item in value.items():
            if item.__class__ in (dict, list):
                _walk(values, item, (*path, key), found)


class FieldChecker:
    """The unknown fields of objects of one kind."""

    def __init__(self, root: _Node) -> None:
        self._root = root

    def unknown(self, obj: Any) -> list[FieldPath]:
        """The paths of the fields ``obj`` has and the schema does not declare, in document order."""
        found: list[FieldPath] = []
        _walk(self._root, obj, (), found)
        return found

    def typed_path(self, obj: Any, path: FieldPath) -> str:
        """``path`` as server-side apply writes it: associative list items by their keys."""
        out: list[str] = []
        node: _Node | None = self._root
        value = obj
        for segment in path:
            if isinstance(segment, int):
                keys = node.keys if isinstance(node, _List) else ()
                value = value[segment]
                out.append(_item_name(segment, value, keys))
            else:
                out.append("." + segment)
                value = value[segment]
            node = _child(node, segment)
        return "".join(out)


def _child(node: _Node | None, segment: str | int) -> _Node | None:
    if isinstance(node, _Struct):
        return node.fields.get(str(segment))
    if isinstance(node, _Map):
        return node.values
    if isinstance(node, _List):
        return node.items
    return None


def _item_name(index: int, item: Any, keys: tuple[str, ...]) -> str:
    if keys and isinstance(item, dict) and all(key in item for key in keys):
        return "[" + ",".join(f"{key}={json.dumps(item[key])}" for key in keys) + "]"
    return f"[{index}]"


def strict_path(path: FieldPath) -> str:
    """``path`` as Kubernetes' strict JSON decoder writes it: ``spec.containers[0].imagePullPolicyy``."""
    out: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        else:
            out.append(f".{segment}" if out else segment)
    return "".join(out)


def prune(obj: Any, paths: list[FieldPath]) -> None:
    """Remove the fields at ``paths`` (as found in ``obj`` by :meth:`FieldChecker.unknown`)."""
    for path in paths:
        parent = obj
        for segment in path[:-1]:
            parent = parent[segment]
        parent.pop(path[-1], None)


@functools.cache
def checker_for(group: str, version: str, kind: str) -> FieldChecker | None:
    """The checker of a kind, None for a kind without a schema."""
    name = schema_name(group, version, kind)
    root = _compiler().named_node(name) if name in component_schemas() else None
    return FieldChecker(root) if root is not None else None


@functools.cache
def _compiler() -> _Compiler:
    # One compiler for every kind, so the types they share (ObjectMeta, PodSpec) are compiled once.
    return _Compiler(component_schemas())
