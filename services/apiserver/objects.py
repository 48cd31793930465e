"""Helpers on Kubernetes objects as JSON dicts: metadata access, timestamps, names, list envelopes.

The API server keeps objects as plain dicts in their wire form, so that fields no model knows survive
every read-modify-write untouched.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.models import ResourceType

Object = dict[str, Any]

# Kubernetes' generateName alphabet: no vowels (no accidental words) and no look-alike characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_SUFFIX_LENGTH = 5


def metadata(obj: Object) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def deep(obj: Object) -> Object:
    return copy.deepcopy(obj)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339(now: datetime, plus_seconds: int = 0) -> str:
    return rfc3339(now + timedelta(seconds=plus_seconds))


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_NAME_SUFFIX_LENGTH))


def qualified(rt: ResourceType) -> str:
    """``pods``, ``deployments.apps``: how Kubernetes names a resource in messages."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


def list_object(rt: ResourceType, items: list[Object], resource_version: int, **meta: Any) -> Object:
    list_meta: dict[str, Any] = {"resourceVersion": str(resource_version)}
    list_meta.update({key: value for key, value in meta.items() if value})
    return {"apiVersion": rt.api_version, "kind": f"{rt.kind}List", "metadata": list_meta, "items": items}


def success_status(code: int = 200, **details: Any) -> Object:
    status: Object = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    if details:
        status["details"] = details
    return status


def spec_of(obj: Object) -> Any:
    """What a generation counts changes of: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
