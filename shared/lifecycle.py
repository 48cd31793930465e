"""How a service process lives: start, log one ready line, run until SIGTERM or SIGINT, stop cleanly.

Every ``services/<name>/__main__.py`` ends in :func:`run_service`, so the supervisor, the tests and a
person at a shell see the same behaviour: a bad flag exits 2 before anything starts, SIGTERM drains the
NATS connection (in-flight requests finish, nothing is half-written) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress

from shared.logging import get_logger

log = get_logger(__name__)

Main = Callable[[asyncio.Event], Awaitable[None]]
"""A service's body: set up, then return once ``stop`` is set, having shut down cleanly."""


async def _run(main: Main) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await main(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(Exception):
                loop.remove_signal_handler(sig)


def run_service(main: Main) -> None:
    """Run ``main`` in a fresh event loop until it returns (after SIGTERM/SIGINT)."""
    asyncio.run(_run(main))
