"""What the benchmark scripts share: percentiles, CPU accounting, table printing, py-spy, stopping.

Not a benchmark itself (``make bench`` skips files starting with ``_``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (their threads included, live or exited)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / _CLOCK_TICKS


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def render_table(rows: Sequence[Sequence[str]], left: str) -> str:
    """Rows of cells (the first is the header) as aligned text. ``left`` gives the alignment of the leading
    columns, ``l`` or ``r`` each (``"rl"``); the remaining columns are numbers, right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            text.ljust(width) if i < len(left) and left[i] == "l" else text.rjust(width)
            for i, (text, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


class Interrupted(Exception):
    """SIGINT or SIGTERM: stop at the next checkpoint, leaving clusters through their context managers."""


class StopFlag:
    """Set by a signal, checked between calls. Cancelling the main task is not enough on its own:
    nats-py swallows a ``CancelledError`` that lands in some of its awaits, and the run goes on."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        self.requested = True

    def checkpoint(self) -> None:
        if self.requested:
            raise Interrupted()


@contextlib.asynccontextmanager
async def py_spy(pids: dict[str, int], directory: Path, prefix: str) -> AsyncIterator[list[Path]]:
    """Record each process with py-spy (``--gil``: samples of the thread holding the GIL, close to CPU
    time) while the block runs; yields the output files, written when the block ends."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    outputs = [directory / f"{prefix}-{who}.txt" for who in pids]
    spies = [
        await asyncio.create_subprocess_exec(
            str(spy),
            *("record", "-p", str(pid), "-f", "raw", "-r", "200", "--nonblocking", "--gil"),
            *("-o", str(output)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for pid, output in zip(pids.values(), outputs, strict=True)
    ]
    await asyncio.sleep(0.5)  # py-spy attaches
    try:
        yield outputs
    finally:
        for process in spies:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for process in spies:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
