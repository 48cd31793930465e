"""A client for the cluster's supervisord: start it, ask it over its unix socket, and shut it down.

supervisord speaks XML-RPC over HTTP on ``supervisord.sock``, the same interface ``supervisorctl`` uses;
this client adds a timeout to every call so a hung supervisord cannot hang ``make status``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
import xmlrpc.client
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.cluster.paths import StatePaths, binary
from shared.logging import get_logger

log = get_logger(__name__)

RUNNING = "RUNNING"
STARTING = "STARTING"
BACKOFF = "BACKOFF"
FATAL = "FATAL"


class SupervisorUnavailable(Exception):
    """Nothing answers on the supervisord socket: the cluster is not running (or supervisord is hung)."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__()
        self._socket_path = socket_path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = _UnixHTTPConnection(self._socket_path, self._timeout)
        self.close()
        self._connection = (host, connection)
        return connection


@dataclass(frozen=True)
class ProcessInfo:
    """One program as supervisord reports it (``supervisorctl status`` has the same columns)."""

    name: str
    state: str
    pid: int
    description: str
    log: str

    @property
    def running(self) -> bool:
        return self.state == RUNNING


class Supervisor:
    """The supervisord of one state directory."""

    def __init__(self, paths: StatePaths, timeout: float = 5.0) -> None:
        self.paths = paths
        self.timeout = timeout

    def _call(self, method: str, *args: Any) -> Any:
        transport = _UnixTransport(str(self.paths.socket), self.timeout)
        try:
            with xmlrpc.client.ServerProxy("http://localhost", transport=transport) as proxy:
                return getattr(proxy.supervisor, method)(*args)
        except (OSError, http.client.HTTPException) as error:
            raise SupervisorUnavailable(f"no supervisord at {self.paths.socket}: {error}") from None

    def is_running(self) -> bool:
        try:
            state = self._call("getState")
        except SupervisorUnavailable:
            return False
        return isinstance(state, dict) and state.get("statename") == RUNNING

    def pid(self) -> int:
        return int(self._call("getPID"))

    def processes(self) -> list[ProcessInfo]:
        infos: list[dict[str, Any]] = self._call("getAllProcessInfo")
        return [
            ProcessInfo(
                name=str(info["name"]),
                state=str(info["statename"]),
                pid=int(info["pid"]),
                description=str(info["description"]),
                log=str(info["stdout_logfile"]),
            )
            for info in infos
        ]

    def shutdown(self) -> None:
        self._call("shutdown")


def start_supervisord(paths: StatePaths, timeout: float = 15.0) -> int:
    """Start supervisord (it daemonizes) and wait until it answers; returns its pid."""
    command = [str(binary("supervisord")), "-c", str(paths.supervisord_conf)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise RuntimeError(f"supervisord failed to start (exit {result.returncode}): {output}")
    supervisor = Supervisor(paths)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.is_running():
            pid = supervisor.pid()
            log.info("supervisord started", pid=pid, config=paths.supervisord_conf)
            return pid
        time.sleep(0.05)
    raise RuntimeError(f"supervisord did not answer on {paths.socket} within {timeout:g} s")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process; an exited one nobody has reaped yet (a zombie) is not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until none of ``pids`` is alive; returns those still alive after ``timeout``."""
    remaining = {pid for pid in pids if pid > 0}
    deadline = time.monotonic() + timeout
    while True:
        remaining = {pid for pid in remaining if pid_alive(pid)}
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(0.05)


def read_pidfile(paths: StatePaths) -> int | None:
    try:
        return int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def is_our_supervisord(pid: int, paths: StatePaths) -> bool:
    """Whether ``pid`` is the supervisord of this state dir (pids are reused, so check its command line)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"supervisord" in part for part in command) and str(paths.supervisord_conf).encode() in command


def kill(pids: Iterable[int], sig: signal.Signals = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
