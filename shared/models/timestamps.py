"""Timestamp field types: ``Time`` (RFC 3339, whole seconds) and ``MicroTime`` (microseconds), both UTC.

Kubernetes writes ``metav1.Time`` as ``2024-05-01T12:00:00Z`` and ``metav1.MicroTime`` (Lease renew times,
Event ``eventTime``) as ``2024-05-01T12:00:00.000000Z``. Values parse from any RFC 3339 string or a
``datetime`` (a naive one is taken as UTC) into an aware UTC ``datetime``, and are written back in
Kubernetes' form, so ``Time`` drops sub-second digits exactly as the API server does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["MicroTime", "Time", "format_micro_time", "format_time", "parse_time"]


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from an RFC 3339 string or a datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f'"{value}" is not an RFC 3339 time, e.g. "2006-01-02T15:04:05Z"') from None
    else:
        raise ValueError(f"a time must be an RFC 3339 string, not {type(value).__name__}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def format_time(value: datetime) -> str:
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(value: datetime) -> str:
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_SCHEMA = WithJsonSchema({"type": "string", "format": "date-time"})

Time = Annotated[
    datetime, BeforeValidator(parse_time), PlainSerializer(format_time, return_type=str), _SCHEMA
]
MicroTime = Annotated[
    datetime, BeforeValidator(parse_time), PlainSerializer(format_micro_time, return_type=str), _SCHEMA
]
