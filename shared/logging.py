"""Logging in one shape: a constant message plus ``key=value`` fields, one line per event.

``log.info("member ready", member="cp-1", term=3)`` prints
``2026-11-27T04:40:01.123Z INFO  etcd member ready member=cp-1 term=3``; the message stays constant so
lines can be grepped and counted, the fields carry what varies.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

_FORMAT = "%(asctime)s %(levelname)-5s %(name)s %(message)s"


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() for c in text) or '"' in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def format_fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={_format_value(value)}" for key, value in fields.items())


class KVLogger:
    """A thin wrapper over a stdlib logger that takes fields as keyword arguments."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _log(self, level: int, message: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            line = f"{message} {format_fields(fields)}" if fields else message
            self._logger.log(level, line, exc_info=exc_info, stacklevel=3)

    def debug(self, message: str, **fields: Any) -> None:
        self._log(logging.DEBUG, message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log(logging.WARNING, message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log(logging.ERROR, message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        self._log(logging.ERROR, message, fields, exc_info=True)


def get_logger(name: str) -> KVLogger:
    return KVLogger(logging.getLogger(name))


def configure(level: str = "INFO") -> None:
    """Send every log line to stderr (supervisord captures it per process)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter(_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # nats-py logs every reconnect attempt at ERROR; our own callbacks report those once, in our shape.
    logging.getLogger("nats").setLevel(logging.CRITICAL)
