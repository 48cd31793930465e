"""Process faults through the cluster's supervisord: signal, kill (and hold down), stop, start a program.

Every program runs with ``autorestart=true``, so a SIGKILL is a crash the supervisor heals at once, as a
kubelet or systemd would. A crash that must stay down (killing two of three etcd members) freezes the
process group with SIGSTOP, tells supervisord to stop the program (so it will not restart it; the SIGTERM
it sends stays pending in the frozen process), then SIGKILLs the group: the process never runs another
instruction, so it cannot release a Lease or flush anything on the way out — as abrupt as a plain kill.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import xmlrpc.client

from shared.cluster.paths import StatePaths
from shared.cluster.supervisor import RUNNING, ProcessInfo, Supervisor

# supervisord's XML-RPC fault codes (supervisor.xmlrpc.Faults).
BAD_NAME = 10
NOT_RUNNING = 70
ALREADY_STARTED = 60

STOPPED_STATES = frozenset({"STOPPED", "EXITED", "FATAL"})


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``pid`` leads (supervisord makes each program a group leader), or at least
    the process itself."""
    if pid <= 0:
        return
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class ProcessControlError(Exception):
    """supervisord refused an action (unknown program, or it would not start)."""


class ProcessControl(Supervisor):
    """The supervisord XML-RPC calls an experiment needs beyond those ``make status`` uses."""

    def __init__(self, paths: StatePaths, timeout: float = 30.0) -> None:
        # Stopping waits for the program's stopwaitsecs (10 s) at most, so calls may take that long.
        super().__init__(paths, timeout)

    def info(self, program: str) -> ProcessInfo:
        found = next((p for p in self.processes() if p.name == program), None)
        if found is None:
            raise ProcessControlError(f"no program {program!r} in this cluster")
        return found

    def send(self, program: str, signame: str) -> None:
        """Send ``signame`` (``KILL``, ``STOP``, ``CONT``) to the program's process."""
        try:
            self._call("signalProcess", program, signame)
        except xmlrpc.client.Fault as fault:
            raise ProcessControlError(
                f"cannot signal {program} with SIG{signame}: {fault.faultString}"
            ) from None

    def kill_and_hold(self, program: str) -> None:
        """SIGKILL the program and keep it down until :meth:`start`."""
        pid = self.info(program).pid
        _signal_group(pid, signal.SIGSTOP)
        try:
            self._call("stopProcess", program, False)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != NOT_RUNNING:
                _signal_group(pid, signal.SIGCONT)
                raise ProcessControlError(f"cannot stop {program}: {fault.faultString}") from None
        _signal_group(pid, signal.SIGKILL)
        self.wait_state(program, STOPPED_STATES, timeout=15.0)

    def stop(self, program: str) -> None:
        try:
            self._call("stopProcess", program, True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != NOT_RUNNING:
                raise ProcessControlError(f"cannot stop {program}: {fault.faultString}") from None

    def start(self, program: str) -> None:
        """Start a stopped program and wait until supervisord calls it RUNNING; a running one is left."""
        try:
            self._call("startProcess", program, True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != ALREADY_STARTED:
                raise ProcessControlError(f"cannot start {program}: {fault.faultString}") from None

    def wait_state(self, program: str, states: frozenset[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            state = self.info(program).state
            if state in states or time.monotonic() >= deadline:
                return state
            time.sleep(0.05)

    def wait_running(self, program: str, timeout: float = 15.0) -> bool:
        return self.wait_state(program, frozenset({RUNNING}), timeout) == RUNNING
