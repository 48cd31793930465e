"""Warnings for the client: what a request did that it probably did not mean, sent beside a successful reply.

kube-apiserver answers such requests as asked and adds one ``Warning: 299 - "<text>"`` header per problem,
which kubectl prints as ``Warning: <text>``. Any code serving a request calls :func:`add_warning`; the
front that received the request collects them with :func:`recording_warnings` and sends them its own way
(HTTP ``Warning`` headers; over NATS, one ``Warning`` reply header holding the same list). Outside a
recording nothing is kept. The header format is :mod:`shared.apiwarnings`, which clients parse too.

A request can cause any number of warnings (a 1 MiB body can name 100,000 unknown fields), so a
:class:`WarningRecorder` bounds what is sent by kube-apiserver's rule, the same for both fronts: each text
is sent once; while the texts total at most :data:`TOTAL_CHARACTERS` characters they go as they are;
past that every text is cut to :data:`ITEM_CHARACTERS` characters (those already recorded too), and
texts are taken until the cut ones reach the total — the rest are dropped.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from shared.apiwarnings import WARNING_HEADER, header_list, header_value
from shared.logging import get_logger

__all__ = [
    "ITEM_CHARACTERS",
    "TOTAL_CHARACTERS",
    "WARNING_HEADER",
    "WarningRecorder",
    "add_warning",
    "header_list",
    "header_value",
    "recording_warnings",
]

log = get_logger(__name__)

TOTAL_CHARACTERS: Final = 4 * 1024
"""The text one reply's warnings may total before they are cut (kube-apiserver counts runes, as here)."""
ITEM_CHARACTERS: Final = 256
"""What each text is cut to once the warnings of a reply are over :data:`TOTAL_CHARACTERS`."""


class WarningRecorder:
    """The warnings of one request, bounded as kube-apiserver bounds them; :attr:`texts` is what to send."""

    __slots__ = ("_seen", "_truncating", "_written", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        """The texts to send, in the order added, cut as the rule says (changed in place as it applies)."""
        self._seen: set[str] = set()
        self._written = 0  # characters of self.texts
        self._truncating = False

    def add(self, text: str) -> None:
        if not text or (self._truncating and self._written >= TOTAL_CHARACTERS) or text in self._seen:
            return
        self._seen.add(text)
        if self._truncating:
            self._append(text[:ITEM_CHARACTERS])
        elif self._written + len(text) <= TOTAL_CHARACTERS:
            self._append(text)
        else:
            log.warning("warnings over their size limit, truncating", limit=TOTAL_CHARACTERS)
            self._truncating = True
            self.texts[:] = [kept[:ITEM_CHARACTERS] for kept in self.texts]
            self._written = sum(map(len, self.texts))
            self._append(text[:ITEM_CHARACTERS])

    def _append(self, text: str) -> None:
        self.texts.append(text)
        self._written += len(text)

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


_recorder: contextvars.ContextVar[WarningRecorder | None] = contextvars.ContextVar("warnings", default=None)


@contextmanager
def recording_warnings(into: WarningRecorder | None = None) -> Iterator[list[str]]:
    """Collect the warnings added inside the block (into ``into`` when given); yields the texts to send,
    kept up to date as warnings are added."""
    recorder = into if into is not None else WarningRecorder()
    token = _recorder.set(recorder)
    try:
        yield recorder.texts
    finally:
        _recorder.reset(token)


def add_warning(text: str) -> None:
    """Warn the client of the request being served, if it is recorded (each text once, bounded)."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder.add(text)
