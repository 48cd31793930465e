"""Which fields each etcd request may carry: an unknown field is refused with 400, never ignored.

A field we do not know is a client's mistake or a feature we lack (``sort_order``, ``physical``); doing
the request without it would answer a different question than the one asked. The store's own readers
check each known field's type and value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.etcd.mvcc import ALL_KEYS
from shared.errors import bad_request

_RANGE = frozenset({"key", "range_end", "prefix", "limit", "revision", "keys_only", "count_only"})
_PUT = frozenset({"key", "value", "lease", "prev_kv"})
_DELETE = frozenset({"key", "range_end", "prefix", "prev_kv"})
_OPS = {"range": _RANGE, "put": _PUT, "delete": _DELETE}
_COMPARE = frozenset({"key", "target", "result", "value"})

ALLOWED: dict[str, frozenset[str]] = {
    "range": _RANGE | {"serializable"},
    "put": _PUT,
    "delete": _DELETE,
    "txn": frozenset({"compare", "success", "failure"}),
    "compact": frozenset({"revision"}),
    "lease.grant": frozenset({"ttl", "id"}),
    "lease.revoke": frozenset({"id"}),
    "lease.keepalive": frozenset({"id"}),
    "lease.ttl": frozenset({"id", "keys"}),
    "watch.create": frozenset({"key", "range_end", "prefix", "start_revision", "prev_kv", "deliver"}),
    "watch.cancel": frozenset({"watch_id"}),
    "cluster.status": frozenset(),
}


def check_fields(request: str, body: Mapping[str, Any]) -> None:
    """Refuse fields ``request`` does not take, and txn compares and ops with unknown fields."""
    _only(body, ALLOWED[request], "")
    if request == "txn":
        for n, compare in enumerate(_list(body, "compare")):
            _only(compare, _COMPARE, f"compare[{n}].")
        for branch in ("success", "failure"):
            for n, op in enumerate(_list(body, branch)):
                if isinstance(op, Mapping) and len(op) == 1:
                    kind, inner = next(iter(op.items()))
                    if kind in _OPS:
                        _only(inner, _OPS[kind], f"{branch}[{n}].{kind}.")


def check_range_order(key: str, range_end: str | None) -> None:
    """``[key, range_end)`` with ``range_end`` before ``key`` is empty in etcd; here it is an error.

    On purpose: such a range is always a client bug (an off-by-one in a prefix computation), and an
    empty answer hides it.
    """
    if range_end is not None and range_end != ALL_KEYS and range_end < key:
        raise bad_request(f"range_end: {range_end!r} is before key {key!r}")


def _only(body: object, allowed: frozenset[str], path: str) -> None:
    if not isinstance(body, Mapping):
        return  # the store's reader reports the wrong type, naming the field
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(f'{path}{unknown[0]}: unknown field "{unknown[0]}"')


def _list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    return value if isinstance(value, list) else []
