"""Program logs: find one program's log file in the state dir, read its last lines, follow it as it grows.

Logs are plain files (supervisord writes each program's stdout and stderr to ``logs/<program>.log``), so
they can be read while the cluster runs and after ``make down`` alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from shared.cluster.paths import StatePaths

SUPERVISORD = "supervisord"

_CHUNK = 64 * 1024


def program_names(paths: StatePaths) -> list[str]:
    """Every program that has a log in ``paths`` (``supervisord`` included)."""
    if not paths.logs.is_dir():
        return []
    # Rotated backups are <program>.log.1, .2 …; only current logs name a program.
    return sorted(p.name.removesuffix(".log") for p in paths.logs.glob("*.log"))


def log_path(paths: StatePaths, program: str) -> Path:
    """The log of ``program``; ``LookupError`` listing the known programs if it has none."""
    path = paths.supervisord_log if program == SUPERVISORD else paths.program_log(program)
    if not path.is_file():
        known = ", ".join(program_names(paths)) or "none — has the cluster ever been started?"
        raise LookupError(f"no log for {program!r} in {paths.logs}; programs: {known}")
    return path


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (without newlines), reading only the end of a large file."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            position = handle.tell()
            data = b""
            while position > 0 and data.count(b"\n") <= count:
                step = min(_CHUNK, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-count:]


def follow(
    path: Path,
    lines: int = 20,
    poll_interval: float = 0.2,
    keep_going: Callable[[], bool] = lambda: True,
) -> Iterator[str]:
    """The last ``lines`` lines of ``path``, then every line appended to it, across log rotations."""
    yield from tail_lines(path, lines)
    handle = path.open("rb")
    try:
        handle.seek(0, os.SEEK_END)
        inode = os.fstat(handle.fileno()).st_ino
        partial = b""
        while keep_going():
            chunk = handle.read()
            if chunk:
                partial += chunk
                *complete, partial = partial.split(b"\n")
                for line in complete:
                    yield line.decode(errors="replace")
                continue
            try:
                current = path.stat()
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_ino != inode or current.st_size < handle.tell()):
                # Rotated (a new file) or truncated: start again from the top of the current file.
                handle.close()
                handle = path.open("rb")
                inode = os.fstat(handle.fileno()).st_ino
                continue
            time.sleep(poll_interval)
    finally:
        handle.close()
