"""The apply merge: an applied configuration laid over a live object, as server-side apply merges it.

Objects merge member by member; a list merged by a key (containers by ``name``, ports by
``containerPort``) merges element by element, new elements appended in the applied order; a set of
primitives gains the applied values; any other list, and every scalar, is replaced by the applied value.
``null`` in an applied configuration sets nothing, so nulls are dropped before merging.
"""

from __future__ import annotations

from typing import Any

from shared.patchmeta import FieldMeta, Schema


def without_nulls(value: Any) -> Any:
    """``value`` with every ``null`` object member dropped, recursively (a new value)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def merge(live: dict[str, Any], applied: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    """A new object: ``live`` with ``applied`` merged in."""
    merged = _merge(live, applied, FieldMeta(schema=schema))
    assert isinstance(merged, dict)
    return merged


def _merge(live: Any, applied: Any, meta: FieldMeta | None) -> Any:
    if isinstance(applied, dict) and isinstance(live, dict):
        sub = meta.schema if meta else None
        result = _copy(live)
        for key, value in applied.items():
            child_meta = sub.get(key) if sub else None
            result[key] = _merge(live[key], value, child_meta) if key in live else _copy(value)
        return result
    if isinstance(applied, list) and isinstance(live, list) and meta is not None and meta.merge:
        if meta.merge_key is None:
            return _copy(live) + [_copy(v) for v in applied if v not in live]
        if _keyed(live, meta.merge_key) and _keyed(applied, meta.merge_key):
            return _merge_keyed(live, applied, meta)
    return _copy(applied)


def _keyed(elements: list[Any], key: str) -> bool:
    return all(isinstance(element, dict) and key in element for element in elements)


def _merge_keyed(live: list[Any], applied: list[Any], meta: FieldMeta) -> list[Any]:
    key = meta.merge_key
    result = [_copy(element) for element in live]
    positions = {element[key]: index for index, element in enumerate(live)}
    element_meta = FieldMeta(schema=meta.schema)
    for element in applied:
        index = positions.get(element[key])
        if index is None:
            positions[element[key]] = len(result)
            result.append(_copy(element))
        else:
            result[index] = _merge(result[index], element, element_meta)
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
