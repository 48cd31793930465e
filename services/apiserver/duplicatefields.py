"""Duplicate fields in an API request's object body, found and reported as kube-apiserver's decoder does.

A JSON object may name a field twice; decoders keep the last value, and so does the request model the
bus validates. kube-apiserver's strict decoder reports each repeat instead — under ``fieldValidation``
``Strict`` a 400 ``strict decoding error: duplicate field "metadata.name"``, under ``Warn`` one warning
each, under ``Ignore`` nothing; each repeated path once, and at most :data:`MAX_PROBLEMS` of them — as
both fronts do (the REST front decodes its bodies with :func:`loads_noting_duplicates`). The NATS front
sees the request's raw JSON here, after the bus parsed it and the request was authenticated and
authorized (an anonymous request is a 401 whatever its body), so this takes one more parse of the bytes
of an admitted write that carries a ``body`` (reads, patches and ``Ignore`` cost nothing):
``bench/duplicate_fields.py``. Warnings go through :func:`~services.apiserver.warnings.add_warning`,
which bounds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from services.apiserver.fieldvalidation import IGNORE, STRICT, decoding_prefix, directive_of
from services.apiserver.schemas.unknownfields import FieldPath, strict_path
from services.apiserver.warnings import add_warning
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError

BODY: Final = "body"
MAX_PROBLEMS: Final = 100
"""kube-apiserver's strict decoder keeps no more errors than this (a body can repeat any number of fields)."""


def check_duplicate_fields(request: ApiRequest, data: bytes) -> None:
    """Apply the request's directive to duplicate fields in the ``body`` of ``data``, its raw JSON."""
    if request.body is None:
        return
    directive = directive_of(request.field_validation)
    if directive == IGNORE:
        return
    problems = duplicate_problems(duplicate_fields(data, BODY))
    if not problems:
        return
    if directive == STRICT:
        kind = request.body.get("kind")
        prefix = decoding_prefix(request.body, "", kind) if isinstance(kind, str) and kind else ""
        raise ApiError(400, f"{prefix}strict decoding error: {', '.join(problems)}")
    for problem in problems:
        add_warning(problem)


def duplicate_problems(paths: Iterable[str]) -> list[str]:
    """The strict decoding errors for repeated fields at ``paths``: each once, in order, at most
    :data:`MAX_PROBLEMS` of them, as kube-apiserver's strict decoder keeps them."""
    problems: list[str] = []
    for path in dict.fromkeys(paths):
        if len(problems) == MAX_PROBLEMS:
            break
        problems.append(f'duplicate field "{path}"')
    return problems


def duplicate_fields(data: bytes, member: str) -> list[str]:
    """Where the object under the top-level ``member`` of JSON ``data`` repeats a field
    (``spec.containers[0].image``); ``[]`` for data that is not JSON, which the bus refuses anyway."""
    try:
        return loads_noting_duplicates(data, member)[1]
    except ValueError:
        return []


def loads_noting_duplicates(data: bytes, member: str | None = None) -> tuple[Any, list[str]]:
    """JSON ``data`` decoded (the last value of a repeated field wins, as everywhere), and where the document
    — or the object under its top-level ``member`` — repeats a field. ValueError for data that is not JSON."""
    repeats: list[tuple[dict[str, Any], str]] = []

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):  # the common case, no repeat, costs one length comparison
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    repeats.append((obj, key))
                seen.add(key)
        return obj

    decoded = json.loads(data, object_pairs_hook=members)
    if not repeats:
        return decoded, []
    if member is not None:
        if not isinstance(decoded, dict):
            return decoded, []
        places = _places(decoded.get(member))
    else:
        places = _places(decoded)
    # Repeats outside the object (a request's own fields) are not the object's, nor are repeats inside
    # a value a later repeat replaced: that value is not in the object.
    return decoded, [strict_path((*places[id(obj)], key)) for obj, key in repeats if id(obj) in places]


def _places(root: Any) -> dict[int, FieldPath]:
    """The path of every object in ``root``, by identity (an object learns its place only at the end)."""
    places: dict[int, FieldPath] = {}
    pending: list[tuple[Any, FieldPath]] = [(root, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, dict):
            places[id(value)] = path
            pending.extend((item, (*path, key)) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(value))
    return places
