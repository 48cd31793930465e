"""Kubernetes objects in the etcd store: keys, encoding, and compare-and-swap on the mod revision.

An object lives at ``/registry/<resource>/<namespace>/<name>`` (``/registry/<resource>/<name>`` when
cluster-scoped) as its JSON wire form without ``metadata.resourceVersion``: the store's ``mod_revision``
*is* the resourceVersion, set on every object read back. Every write is a transaction that compares
that revision (or, for a create, that the key does not exist), so concurrent writers never lose an
update silently: the loser gets Kubernetes' 409.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.etcd.client.api import (
    CompactedError,
    Compare,
    DeleteOp,
    DeleteResult,
    KeyValue,
    KVClient,
    PutOp,
    RangeOp,
    RangeResult,
    prefix_range_end,
)
from shared.errors import ApiError

Object = dict[str, Any]

REGISTRY = "/registry"
MAX_UPDATE_ATTEMPTS = 16


def key_for(resource: str, namespace: str, name: str) -> str:
    return f"{REGISTRY}/{resource}/{namespace}/{name}" if namespace else f"{REGISTRY}/{resource}/{name}"


def prefix_for(resource: str, namespace: str = "") -> str:
    return f"{REGISTRY}/{resource}/{namespace}/" if namespace else f"{REGISTRY}/{resource}/"


def encode(obj: Object) -> str:
    """The stored form: the object without its resourceVersion (the store's revision is that)."""
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return json.dumps({**obj, "metadata": metadata}, separators=(",", ":"))


def decode(kv: KeyValue) -> Object:
    obj: Object = json.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


def parse_resource_version(value: str, what: str = "resourceVersion") -> int:
    if value == "":
        return 0
    if not value.isdigit():
        raise ApiError(400, f"{what}: Invalid value: {value!r}: must be a non-negative integer")
    return int(value)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Object]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


def encode_continue(revision: int, start_key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_key}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "continue key is not valid: could not decode the token") from None


class ObjectStorage:
    def __init__(self, kv: KVClient) -> None:
        self.kv = kv

    async def get(self, resource: str, namespace: str, name: str) -> Object | None:
        result = await self.kv.range(key_for(resource, namespace, name))
        return decode(result.kvs[0]) if result.kvs else None

    async def create(self, resource: str, namespace: str, name: str, obj: Object) -> Object:
        """Store a new object; ``None`` if the key already exists (the caller words the 409)."""
        key = key_for(resource, namespace, name)
        value = encode(obj)
        result = await self.kv.txn([Compare(key, "create_revision", "=", 0)], [PutOp(key, value)], [])
        if not result.succeeded:
            raise ApiError(409, "already exists", reason="AlreadyExists")
        return _with_version(obj, result.header.revision)

    async def update(self, resource: str, namespace: str, name: str, obj: Object, expected: int) -> Object:
        """Replace the object if its revision is still ``expected``; raises ``StaleError`` otherwise."""
        key = key_for(resource, namespace, name)
        result = await self.kv.txn(
            [Compare(key, "mod_revision", "=", expected)], [PutOp(key, encode(obj))], [RangeOp(key)]
        )
        if not result.succeeded:
            current = result.responses[0]
            assert isinstance(current, RangeResult)
            raise StaleError(decode(current.kvs[0]) if current.kvs else None)
        return _with_version(obj, result.header.revision)

    async def delete(self, resource: str, namespace: str, name: str, expected: int) -> Object:
        """Delete the object if its revision is still ``expected``; returns it as it was deleted."""
        key = key_for(resource, namespace, name)
        result = await self.kv.txn(
            [Compare(key, "mod_revision", "=", expected)], [DeleteOp(key, prev_kv=True)], [RangeOp(key)]
        )
        if not result.succeeded:
            current = result.responses[0]
            assert isinstance(current, RangeResult)
            raise StaleError(decode(current.kvs[0]) if current.kvs else None)
        deleted = result.responses[0]
        assert isinstance(deleted, DeleteResult)
        return _with_version(decode(deleted.prev_kvs[0]), result.header.revision)

    async def guaranteed_update(
        self,
        resource: str,
        namespace: str,
        name: str,
        mutate: Callable[[Object], Awaitable[Object | None]],
    ) -> Object:
        """Read, ``mutate``, write; again from a fresh read whenever another writer got in between.

        ``mutate`` gets the current object and returns the new one (or None: nothing to write). It
        raises to refuse; a 404 is raised here when the object does not exist.
        """
        for _ in range(MAX_UPDATE_ATTEMPTS):
            current = await self.get(resource, namespace, name)
            if current is None:
                raise NotFoundError()
            updated = await mutate(current)
            if updated is None:
                return current
            try:
                return await self.update(resource, namespace, name, updated, _version(current))
            except StaleError:
                continue
        raise ApiError(409, "the object is being modified too often; retry", reason="Conflict")

    async def list(
        self, resource: str, namespace: str, *, limit: int = 0, continue_token: str = "", revision: int = 0
    ) -> Page:
        prefix = prefix_for(resource, namespace)
        start = prefix
        if continue_token:
            revision, start = decode_continue(continue_token)
        try:
            result = await self.kv.range(start, prefix_range_end(prefix), limit=limit, revision=revision)
        except CompactedError:
            raise ApiError(
                410,
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter.",
                reason="Expired",
            ) from None
        revision = revision or result.header.revision
        items = [decode(kv) for kv in result.kvs]
        if result.more and items:
            last_key = result.kvs[-1].key
            token = encode_continue(revision, last_key + "\0")
            return Page(items, revision, token, remaining=result.count - len(items))
        return Page(items, revision)

    async def current_revision(self) -> int:
        result = await self.kv.range(REGISTRY, count_only=True)
        return result.header.revision

    async def reserve(self, key: str, owner: str) -> bool:
        """Create ``key`` if absent (an allocation such as a cluster IP); False if taken."""
        result = await self.kv.txn([Compare(key, "create_revision", "=", 0)], [PutOp(key, owner)], [])
        return result.succeeded

    async def release(self, key: str) -> None:
        await self.kv.delete(key)


class StaleError(Exception):
    """A compare-and-swap lost: ``current`` is the object now stored (None if it was deleted)."""

    def __init__(self, current: Object | None) -> None:
        super().__init__("object changed")
        self.current = current


class NotFoundError(Exception):
    """The object to update does not exist (the caller words the 404)."""


def _version(obj: Object) -> int:
    return int(obj["metadata"]["resourceVersion"])


def _with_version(obj: Object, revision: int) -> Object:
    return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(revision)}}
