"""The ``Warning`` header's format: API warnings as HTTP writes them, and back, for server and clients alike.

kube-apiserver sends each warning as ``Warning: 299 - "<text>"`` — code 299 (a persistent miscellaneous
warning), agent ``-``, the text as an HTTP quoted string — and kubectl prints ``Warning: <text>``. The
API server's NATS front puts every warning of a reply in one ``Warning`` header, as the comma-separated
list HTTP allows for a repeated header; :func:`parse_header_list` reads such a list back into the texts,
exactly, so a text with quotes, commas or backslashes reaches the client as the server wrote it. The
API server bounds the list as kube-apiserver does (about 4 KiB of text, see
``services/apiserver/warnings.py``), so one header stays a few KiB however many warnings a request earns.

A header cannot hold a line break, and the texts name user-given fields: control characters in a text
are sent as ``?`` (the only change a round trip makes), so no field name can break the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

WARNING_HEADER: Final = "Warning"
WARNING_CODE: Final = "299"
"""The code kube-apiserver gives every warning, and the only one clients show."""

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SPACES = " \t"


class WarningHeaderError(ValueError):
    """A ``Warning`` header value that is not a list of ``code agent "text" ["date"]`` entries."""


def header_value(text: str) -> str:
    """One warning as an HTTP ``Warning`` value: code 299, agent ``-``, the text as a quoted string."""
    quoted = _CONTROL.sub("?", text).replace("\\", "\\\\").replace('"', '\\"')
    return f'{WARNING_CODE} - "{quoted}"'


def header_list(texts: Iterable[str]) -> str:
    """Several warnings in one header value, comma-separated as HTTP allows."""
    return ", ".join(header_value(text) for text in texts)


def parse_header_list(value: str) -> list[str]:
    """The texts of the code-299 warnings in a ``Warning`` header value (one warning or a list of them).

    Warnings with another code are skipped, as client-go skips them. Raises :class:`WarningHeaderError`
    for a value that is not such a list.
    """
    texts: list[str] = []
    at = _skip(value, 0, _SPACES + ",")
    while at < len(value):
        code, at = _token(value, at)
        _agent, at = _token(value, at)
        text, at = _quoted(value, at)
        at = _skip(value, at, _SPACES)
        if at < len(value) and value[at] == '"':  # an optional warn-date
            _date, at = _quoted(value, at)
            at = _skip(value, at, _SPACES)
        if at < len(value) and value[at] != ",":
            raise WarningHeaderError(f"unexpected {value[at]!r} at {at} in a Warning header")
        if code == WARNING_CODE:
            texts.append(text)
        at = _skip(value, at, _SPACES + ",")
    return texts


def _skip(value: str, at: int, characters: str) -> int:
    while at < len(value) and value[at] in characters:
        at += 1
    return at


def _token(value: str, at: int) -> tuple[str, int]:
    """A space-free token (the code, the agent) and where the next item starts."""
    end = at
    while end < len(value) and value[end] not in _SPACES + ',"':
        end += 1
    if end == at:
        raise WarningHeaderError(f"a Warning header needs a code and an agent before {at}")
    return value[at:end], _skip(value, end, _SPACES)


def _quoted(value: str, at: int) -> tuple[str, int]:
    """An HTTP quoted string starting at ``at``: its text unescaped, and the index past its closing quote."""
    if at >= len(value) or value[at] != '"':
        raise WarningHeaderError(f"a Warning header's text must be quoted (at {at})")
    chars: list[str] = []
    at += 1
    while at < len(value):
        char = value[at]
        if char == '"':
            return "".join(chars), at + 1
        if char == "\\" and at + 1 < len(value):
            at += 1
            char = value[at]
        chars.append(char)
        at += 1
    raise WarningHeaderError("a Warning header's text has no closing quote")
