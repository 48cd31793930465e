"""Warnings for the client: what a request did that it probably did not mean, sent beside a successful reply.

kube-apiserver answers such requests as asked and adds one ``Warning: 299 - "<text>"`` header per problem,
which kubectl prints as ``Warning: <text>``. Any code serving a request calls :func:`add_warning`; the
front that received the request collects them with :func:`recording_warnings` and sends them its own way
(HTTP ``Warning`` headers; over NATS, one ``Warning`` reply header holding the same list). Outside a
recording nothing is kept. The header format is :mod:`shared.apiwarnings`, which clients parse too.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from shared.apiwarnings import WARNING_HEADER, header_list, header_value

__all__ = ["WARNING_HEADER", "add_warning", "header_list", "header_value", "recording_warnings"]

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
