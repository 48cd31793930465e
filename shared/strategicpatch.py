"""Strategic merge patch, as kube-apiserver applies it: JSON merge patch that knows Kubernetes' lists.

Maps merge key by key and ``null`` deletes a key, as in a JSON merge patch. Lists merge only where the
kind's patch metadata (:mod:`shared.patchmeta`) says so — by a merge key for lists of objects, as a set for
lists of primitives — and are replaced otherwise. Directives in the patch:

- ``{"$patch": "replace"}`` in a map replaces it whole; as a list element, replaces the list with the
  patch's other elements. ``{"$patch": "delete"}`` in a map deletes it; as a list element beside its merge
  key, deletes that element.
- ``"$setElementOrder/<list>": [...]`` orders the merged list (elements the patch does not name keep their
  places relative to their neighbours).
- ``"$retainKeys": [...]`` in a map drops every key not listed once merged (a union field switched kind).
- ``"$deleteFromPrimitiveList/<list>": [...]`` removes those values from a primitive list.

Pure: the inputs are never changed; errors are :class:`~shared.patch.PatchError` 422.
"""

from __future__ import annotations

from typing import Any

from shared.patchmeta import FieldMeta, Schema

JSON = Any
_DELETE = object()  # a map's "$patch: delete": the caller removes the field
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


class StrategicPatchError(ValueError):
    """A patch that cannot be applied (HTTP 422)."""


def _copy(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _strip(value: JSON) -> JSON:
    """A patch value taken as it is, without the directives inside it."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def strategic_merge(original: JSON, patch: JSON, schema: Schema | None) -> JSON:
    """``original`` with the strategic merge ``patch`` applied; ``schema`` is the kind's patch metadata."""
    if not isinstance(patch, dict):
        raise StrategicPatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(original if isinstance(original, dict) else {}, patch, schema)
    if merged is _DELETE:
        raise StrategicPatchError("a patch cannot delete the whole object")
    return merged


def _merge_map(original: dict[str, JSON], patch: dict[str, JSON], schema: Schema | None) -> JSON:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise StrategicPatchError(f"unknown patch directive {directive!r}")
    result = {k: _copy(v) for k, v in original.items()}
    orders: dict[str, list[JSON]] = {}
    for key, value in patch.items():
        if key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value if isinstance(value, list) else []
        elif key.startswith(_DELETE_FROM):
            field = key[len(_DELETE_FROM) :]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
        elif key.startswith("$"):
            continue
        else:
            _merge_field(result, key, value, (schema or {}).get(key))
    for field, order in orders.items():
        meta = (schema or {}).get(field)
        if isinstance(result.get(field), list):
            result[field] = _ordered(result[field], order, meta.merge_key if meta else None)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_field(result: dict[str, JSON], key: str, value: JSON, meta: FieldMeta | None) -> None:
    if value is None:
        result.pop(key, None)
        return
    child = meta.schema if meta else None
    if isinstance(value, dict):
        current = result.get(key)
        merged = _merge_map(current if isinstance(current, dict) else {}, value, child)
        if merged is _DELETE:
            result.pop(key, None)
        else:
            result[key] = merged
    elif isinstance(value, list) and meta is not None and meta.merge:
        current = result.get(key)
        result[key] = _merge_list(current if isinstance(current, list) else [], value, meta)
    else:
        result[key] = _strip(value)


def _merge_list(original: list[JSON], patch: list[JSON], meta: FieldMeta) -> list[JSON]:
    if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        return [_strip(e) for e in patch if not (isinstance(e, dict) and "$patch" in e)]
    key = meta.merge_key
    if key is None:
        merged = [_copy(v) for v in original]
        merged.extend(v for v in patch if v not in merged and not isinstance(v, dict))
        return merged
    result = [_copy(v) for v in original]
    for element in patch:
        if not isinstance(element, dict):
            raise StrategicPatchError(f"a list merged by {key!r} takes objects, not {element!r}")
        if key not in element:
            raise StrategicPatchError(f"map: {element} does not contain declared merge key: {key}")
        where = next(
            (i for i, v in enumerate(result) if isinstance(v, dict) and v.get(key) == element[key]), None
        )
        if element.get("$patch") == "delete":
            result = [v for v in result if not (isinstance(v, dict) and v.get(key) == element[key])]
        elif where is None:
            result.append(_strip(element))
        else:
            merged = _merge_map(result[where], element, meta.schema)
            if merged is _DELETE:
                del result[where]
            else:
                result[where] = merged
    return result


def _identity(element: JSON, key: str | None) -> JSON:
    return element.get(key) if key is not None and isinstance(element, dict) else element


def _ordered(items: list[JSON], order: list[JSON], key: str | None) -> list[JSON]:
    """``items`` in the ``$setElementOrder`` order; unnamed items follow the item they followed before."""
    wanted = [_identity(entry, key) for entry in order]
    named = sorted(
        (item for item in items if _identity(item, key) in wanted),
        key=lambda i: wanted.index(_identity(i, key)),
    )
    result = list(named)
    previous: JSON = None
    for item in items:
        if _identity(item, key) in wanted:
            previous = item
            continue
        at = next((i + 1 for i, placed in enumerate(result) if placed is previous), 0)
        result.insert(at, item)
        previous = item
    return result
