"""Warnings for the client: what a request did that it probably did not mean, sent beside a successful reply.

kube-apiserver answers such requests as asked and adds one ``Warning: 299 - "<text>"`` header per problem,
which kubectl prints as ``Warning: <text>``. Any code serving a request calls :func:`add_warning`; the
front that received the request collects them with :func:`recording_warnings` and sends them its own way
(HTTP ``Warning`` headers; over NATS, one ``Warning`` reply header holding the same list). Outside a
recording nothing is kept.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final

WARNING_HEADER: Final = "Warning"

_recorded: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("warnings", default=None)


@contextmanager
def recording_warnings(into: list[str] | None = None) -> Iterator[list[str]]:
    """Collect the warnings added inside the block (into ``into`` when given), in the order added."""
    warnings = into if into is not None else []
    token = _recorded.set(warnings)
    try:
        yield warnings
    finally:
        _recorded.reset(token)


def add_warning(text: str) -> None:
    warnings = _recorded.get()
    if warnings is not None and text not in warnings:  # kube-apiserver sends each text once
        warnings.append(text)


def header_value(text: str) -> str:
    """One warning as an HTTP ``Warning`` value: code 299, agent ``-``, the text as a quoted string."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


def header_list(texts: Iterable[str]) -> str:
    """Several warnings in one header value, comma-separated as HTTP allows."""
    return ", ".join(header_value(text) for text in texts)
