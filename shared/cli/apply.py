"""Client-side apply as kubectl does it: a three-way merge of last-applied, desired and live objects.

The manifest a user applies is recorded in the annotation
``kubectl.kubernetes.io/last-applied-configuration``. Applying again sends a JSON merge patch that sets
what the manifest says and removes what an earlier manifest set but this one no longer does; fields other
writers set (status, defaults, a controller's labels) are left alone. A list is replaced whole, as a JSON
merge patch does, when it differs from the live one in more than the fields the server filled in.
"""

from __future__ import annotations

import json
from typing import Any

Object = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def with_last_applied(desired: Object) -> Object:
    """``desired`` carrying itself (without the annotation) as its last-applied configuration."""
    clean = json.loads(json.dumps(desired))
    annotations = clean.get("metadata", {}).get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    record = json.dumps(clean, sort_keys=True, separators=(",", ":"))
    out: Object = json.loads(json.dumps(clean))
    out.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = record
    return out


def last_applied(live: Object) -> Object | None:
    text = (live.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def three_way_patch(last: Object | None, desired: Object, live: Object) -> Object:
    """The merge patch that takes ``live`` to ``desired``, deleting only what ``last`` had set."""
    patch: Object = {}
    for key, want in desired.items():
        have = live.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            was = (last or {}).get(key)
            inner = three_way_patch(was if isinstance(was, dict) else None, want, have)
            if inner:
                patch[key] = inner
        elif not contains(have, want):
            patch[key] = want
    for key in last or {}:
        if key not in desired and key in live:
            patch[key] = None
    return patch


def contains(live: Any, wanted: Any) -> bool:
    """Whether ``live`` says everything ``wanted`` says: the server may only have added defaults.

    Lists match element by element, so a container list whose items gained ``imagePullPolicy`` and
    ``terminationMessagePath`` from the server still counts as what the manifest asked for.
    """
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(live, list)
            and len(live) == len(wanted)
            and all(contains(h, w) for h, w in zip(live, wanted, strict=True))
        )
    return bool(live == wanted)
