"""Service processes started by tests and benchmarks: real OS processes, killed for real.

``ServiceProcess`` runs ``python -m <module> <args>``, sends its output to a log file, waits for the
service's ready line, and can SIGKILL, SIGSTOP/SIGCONT, SIGTERM and restart it — the same faults the
resilience experiments inject through supervisord.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class ServiceProcess:
    def __init__(
        self,
        name: str,
        module: str,
        args: Sequence[str],
        log_dir: Path,
        *,
        ready_line: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.module = module
        self.args = list(args)
        self.log_path = Path(log_dir) / f"{name}.log"
        self.ready_line = ready_line
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 20.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})},
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_line in self.output():
                return
            if not self.alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not become ready; last output:\n{self.output()[-3000:]}")

    def output(self) -> str:
        """What the process printed since its last start."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.process is None:
            return None
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
