"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on plain JSON values, for the API's patch verb.

Strategic merge patch lives in :mod:`shared.strategicpatch`; :func:`apply_patch` dispatches to all three.
Server-side apply (:data:`APPLY_PATCH`) needs the object's field owners as well, so it lives in
:mod:`shared.ssa` and is refused here.

Every function here is pure: it returns a new document and never changes, or shares structure with, the
document or patch it was given — a caller may mutate the result freely. A JSON patch is atomic because it
is applied to a private copy, which is thrown away when an operation fails.

``apply_patch`` is the API server's entry point: it dispatches on the request's content type, and its
:class:`PatchError` carries the HTTP code Kubernetes answers with — 400 for a patch that cannot be decoded,
413 for too many operations, 415 for a patch type not served, 422 for a patch that does not apply.
"""

from __future__ import annotations

import json
import re
from typing import TypeAlias

from shared.patchmeta import schema_for
from shared.strategicpatch import StrategicPatchError, strategic_merge

__all__ = [
    "APPLY_PATCH",
    "JSON",
    "JSON_PATCH",
    "MAX_JSON_PATCH_OPERATIONS",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "SUPPORTED_PATCH_TYPES",
    "PatchError",
    "apply_patch",
    "create_merge_patch",
    "decode_patch",
    "json_equal",
    "json_patch",
    "merge_patch",
    "parse_pointer",
]

JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# Server-side apply is not a patch of a document alone: it needs the field owners (shared.ssa.apply).
APPLY_PATCH = "application/apply-patch+yaml"
SUPPORTED_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)
# kube-apiserver's limit, which bounds the work one request can ask for.
MAX_JSON_PATCH_OPERATIONS = 10_000


class PatchError(ValueError):
    """A patch that could not be decoded or applied; ``code`` is the HTTP status to answer with.

    For a JSON patch operation, ``index`` (0-based), ``op`` and ``path`` name the operation that failed.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = 422,
        index: int | None = None,
        op: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.index = index
        self.op = op
        self.path = path


# --- shared helpers -----------------------------------------------------------------------------------------


def json_equal(a: JSON, b: JSON) -> bool:
    """JSON equality as RFC 6902's ``test`` defines it.

    Numbers compare by value (``1`` equals ``1.0``), but a boolean is never a number — Python's
    ``True == 1`` does not hold here — and object member order does not matter.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) or isinstance(b, int | float):
        return isinstance(a, int | float) and isinstance(b, int | float) and a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b


def _copy(value: JSON) -> JSON:
    # A JSON-only deep copy: several times faster than copy.deepcopy, which a patch of a large object
    # would otherwise spend most of its time in.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def decode_patch(data: bytes | str) -> JSON:
    """Decode a patch body; PatchError 400 for invalid JSON, NaN/Infinity, or a member named twice.

    A repeated member is refused rather than letting the last one win: RFC 6902 §A.13's
    ``{"op": "add", ..., "op": "remove"}`` must not be guessed at.
    """
    try:
        decoded: JSON = json.loads(data, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except ValueError as err:
        raise PatchError(f"error decoding patch: {err}", code=400) from None
    except RecursionError:
        raise PatchError("error decoding patch: nested too deeply", code=400) from None
    return decoded


def _unique_members(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    members: dict[str, JSON] = {}
    for key, value in pairs:
        if key in members:
            raise ValueError(f"duplicate member {key!r} in a JSON object")
        members[key] = value
    return members


def _no_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not valid JSON")


# --- JSON merge patch (RFC 7386) ----------------------------------------------------------------------------


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """``target`` with the merge ``patch`` applied (RFC 7386 §2).

    An object patch merges member by member: ``null`` removes a member, an object recurses, anything else
    (arrays included) replaces. A patch that is not an object replaces the whole target.
    """
    if not isinstance(patch, dict):
        return _copy(patch)
    base = target if isinstance(target, dict) else {}
    result: dict[str, JSON] = {}
    for key, value in base.items():
        if key not in patch:
            result[key] = _copy(value)
        elif patch[key] is not None:
            result[key] = merge_patch(value, patch[key])
    for key, value in patch.items():
        if key not in base and value is not None:
            # Merging into nothing still drops the nulls nested in an object value (RFC 7386, last example).
            result[key] = merge_patch(None, value)
    return result


def create_merge_patch(original: JSON, modified: JSON) -> JSON:
    """The merge patch that turns ``original`` into ``modified``: ``merge_patch(original, p) == modified``.

    A merge patch cannot set an object member to ``null`` (``null`` means "remove"), so members of
    ``modified`` whose value is ``null`` come out absent; nulls inside arrays are kept.
    """
    if not (isinstance(original, dict) and isinstance(modified, dict)):
        return _copy(modified)
    patch: dict[str, JSON] = {key: None for key in original if key not in modified}
    for key, value in modified.items():
        if key not in original:
            patch[key] = _copy(value)
        elif not json_equal(original[key], value):
            patch[key] = create_merge_patch(original[key], value)
    return patch


# --- JSON patch (RFC 6902) ----------------------------------------------------------------------------------


_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


class _Failure(Exception):
    """One operation's failure, before the operation's index, op and path are attached."""


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer (RFC 6901): ``"/a~1b/~0c"`` is ``["a/b", "~c"]``.

    Raises ValueError for a pointer that does not start with ``/`` or holds a ``~`` not followed by 0 or 1.
    """
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"invalid JSON pointer {pointer!r}: must be empty or start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if re.search(r"~(?![01])", token):
            raise ValueError(f"invalid JSON pointer {pointer!r}: '~' must be followed by '0' or '1'")
    # "~1" before "~0", so "~01" becomes "~1" and not "/" (RFC 6901 §4).
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def json_patch(doc: JSON, operations: JSON) -> JSON:
    """``doc`` with the JSON patch ``operations`` applied in order, all or nothing.

    Raises :class:`PatchError`: code 400 if ``operations`` is not an array of objects, 422 naming the first
    operation that fails (``jsonpatch op 2 (replace /spec/replicas): path not found``). Members an
    operation does not use are ignored (RFC 6902 §4).
    """
    if not isinstance(operations, list):
        raise PatchError("error decoding patch: a JSON patch must be an array of operations", code=400)
    result = _copy(doc)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise PatchError(f"error decoding patch: operation {index} is not a JSON object", code=400)
        op, path = operation.get("op"), operation.get("path")
        shown = [part for part in (op, path) if isinstance(part, str)]
        try:
            result = _apply_operation(result, operation)
        except _Failure as failure:
            context = f" ({' '.join(shown)})" if shown else ""
            raise PatchError(
                f"jsonpatch op {index}{context}: {failure}",
                index=index,
                op=op if isinstance(op, str) else None,
                path=path if isinstance(path, str) else None,
            ) from None
    return result


def _apply_operation(doc: JSON, operation: dict[str, JSON]) -> JSON:
    """Apply one operation to ``doc``, which this module owns; returns the (possibly new) root."""
    op = _member(operation, "op")
    if op not in _OPERATIONS:
        raise _Failure(f"unknown operation {op!r}")
    path = _pointer(operation, "path")
    if op in ("add", "replace", "test") and "value" not in operation:
        raise _Failure("missing 'value'")
    if op == "add":
        return _add(doc, path, _copy(operation["value"]))
    if op == "remove":
        if not path:
            raise _Failure("cannot remove the whole document")
        _remove(doc, path)
        return doc
    if op == "replace":
        return _replace(doc, path, _copy(operation["value"]))
    if op == "test":
        if not json_equal(_get(doc, path), operation["value"]):
            raise _Failure("test failed")
        return doc
    source = _pointer(operation, "from")
    try:
        value = _get(doc, source)
    except _Failure:
        raise _Failure(f"'from' path {_member(operation, 'from')} not found") from None
    if op == "copy":
        return _add(doc, path, _copy(value))
    if source == path:
        return doc
    if path[: len(source)] == source:
        raise _Failure(f"cannot move {_member(operation, 'from')} into one of its own children")
    _remove(doc, source)
    return _add(doc, path, value)


def _member(operation: dict[str, JSON], name: str) -> str:
    value = operation.get(name)
    if value is None:
        raise _Failure(f"missing '{name}'")
    if not isinstance(value, str):
        raise _Failure(f"'{name}' must be a string")
    return value


def _pointer(operation: dict[str, JSON], name: str) -> list[str]:
    try:
        return parse_pointer(_member(operation, name))
    except ValueError as err:
        raise _Failure(str(err)) from None


def _index(token: str, array: list[JSON], *, end_allowed: bool) -> int:
    """The array position ``token`` names; ``-`` (past the last element) only where an add may append."""
    if token == "-" and end_allowed:
        return len(array)
    if not _ARRAY_INDEX.fullmatch(token):
        if token == "-":
            raise _Failure("path not found")
        raise _Failure(f"invalid array index {token!r}")
    # A token longer than any real index is out of range; int() of thousands of digits would raise.
    index = int(token) if len(token) <= 18 else len(array) + 1
    if index > len(array) or (index == len(array) and not end_allowed):
        if end_allowed:
            raise _Failure(f"array index {index} is past the end of the array (length {len(array)})")
        raise _Failure("path not found")
    return index


def _get(doc: JSON, tokens: list[str]) -> JSON:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise _Failure("path not found")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, node, end_allowed=False)]
        else:
            raise _Failure("path not found")
    return node


def _add(doc: JSON, tokens: list[str], value: JSON) -> JSON:
    if not tokens:
        return value
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, parent, end_allowed=True), value)
    else:
        raise _Failure("path not found")
    return doc


def _replace(doc: JSON, tokens: list[str], value: JSON) -> JSON:
    # In place rather than remove-then-add, so a replaced member keeps its position in its object.
    if not tokens:
        return value
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        parent[last] = value
    elif isinstance(parent, list):
        parent[_index(last, parent, end_allowed=False)] = value
    else:
        raise _Failure("path not found")
    return doc


def _remove(doc: JSON, tokens: list[str]) -> JSON:
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _Failure("path not found")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(last, parent, end_allowed=False))
    raise _Failure("path not found")


# --- the API server's entry point ---------------------------------------------------------------------------


def apply_patch(doc: JSON, patch: JSON | bytes, content_type: str) -> JSON:
    """Apply a patch the way kube-apiserver's patch verb does, choosing the kind by ``content_type``.

    ``patch`` is the decoded body, or the raw body as bytes (decoded with :func:`decode_patch`). Parameters
    after ``;`` in the content type are ignored. A merge patch must be a JSON object, since the document is
    an API object and a non-object patch would replace it wholesale. A strategic merge patch merges lists
    as the document's kind declares (:mod:`shared.patchmeta`); any other type is refused with 415.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == APPLY_PATCH:
        raise PatchError("apply patches are served on the object itself, not on this subresource", code=415)
    if media_type not in SUPPORTED_PATCH_TYPES:
        raise PatchError(
            f"unsupported patch type {media_type!r}: the body of the request was in an unknown format - "
            f"accepted media types include: {', '.join(SUPPORTED_PATCH_TYPES)}",
            code=415,
        )
    if isinstance(patch, bytes):
        patch = decode_patch(patch)
    if media_type == JSON_PATCH:
        if isinstance(patch, list) and len(patch) > MAX_JSON_PATCH_OPERATIONS:
            raise PatchError(
                f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                f"got {len(patch)}",
                code=413,
            )
        return json_patch(doc, patch)
    if media_type == STRATEGIC_MERGE_PATCH:
        schema = schema_for(doc.get("apiVersion"), doc.get("kind")) if isinstance(doc, dict) else None
        try:
            merged: JSON = strategic_merge(doc, patch, schema)
        except StrategicPatchError as err:
            raise PatchError(str(err)) from None
        return merged
    if not isinstance(patch, dict):
        raise PatchError(f"a merge patch must be a JSON object, not {json.dumps(patch)[:40]}", code=400)
    return merge_patch(doc, patch)
