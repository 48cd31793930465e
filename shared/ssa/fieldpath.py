"""Field paths in Kubernetes' ``FieldsV1`` encoding, and their conversion to and from ``fieldsV1`` trees.

A path is a tuple of tokens, each a ``fieldsV1`` key: ``f:<name>`` for an object member,
``k:{"name":"nginx"}`` for the element of a keyed list, ``v:"value"`` for the element of a set of
primitives. Using the encoded keys as the path's tokens makes encoding a set of paths into the nested
``fieldsV1`` object (and back) a plain tree build. A path owned together with paths below it is marked
in the tree by a ``"."`` child, as Kubernetes marks list elements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeAlias

Path: TypeAlias = tuple[str, ...]
FieldSet: TypeAlias = frozenset[Path]

SELF = "."


def field(name: str) -> str:
    return f"f:{name}"


def keyed(key: str, value: Any) -> str:
    return "k:" + json.dumps({key: value}, separators=(",", ":"), sort_keys=True)


def valued(value: Any) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"), sort_keys=True)


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` tree of a set of paths."""
    members = set(paths)
    root: dict[str, Any] = {}
    for path in sorted(members):
        node = root
        for token in path:
            node = node.setdefault(token, {})
    return _marked(root, (), members)


def _marked(node: dict[str, Any], prefix: Path, members: set[Path]) -> dict[str, Any]:
    # Kubernetes lists the "." of a node first, then its children.
    marked: dict[str, Any] = {SELF: {}} if node and prefix in members else {}
    for token, child in node.items():
        marked[token] = _marked(child, (*prefix, token), members)
    return marked


def decode(tree: object) -> FieldSet:
    """The set of paths a ``fieldsV1`` tree holds; anything that is not a tree holds none."""
    paths: set[Path] = set()

    def walk(node: object, prefix: Path) -> None:
        if not isinstance(node, dict):
            return
        if prefix and (not node or SELF in node):
            paths.add(prefix)
        for token, child in node.items():
            if token != SELF and isinstance(token, str):
                walk(child, (*prefix, token))

    walk(tree, ())
    return frozenset(paths)


def to_string(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: ``.spec.containers[name="nginx"].image``."""
    parts: list[str] = []
    for token in path:
        kind, _, rest = token.partition(":")
        if kind == "f":
            parts.append(f".{rest}")
        elif kind == "k":
            key = json.loads(rest)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        else:
            parts.append(f"[={rest}]")
    return "".join(parts)


def with_descendants(paths: FieldSet, path: Path) -> bool:
    """Whether ``paths`` holds ``path`` or any path below it."""
    return any(p[: len(path)] == path for p in paths)
