"""A real etcd cluster of child processes (Debian's ``etcd-server``), for the contract tests and benchmarks.

``with EtcdCluster() as cluster:`` starts three members on free ports of 127.0.0.1 (a client and a peer
port each) with their data in a temporary directory, waits until they have a leader that can serve a
quorum read, and on exit stops every member (SIGTERM, then SIGKILL) and removes the directory. Single
members can be killed, paused and restarted (``cluster.members[i].kill()`` … ``.start()``) for fault
experiments; a restarted member rejoins from its own data directory.

The binary is ``$KUBENATS_ETCD_BINARY`` when set, else ``etcd`` on ``PATH``, else ``/usr/bin/etcd``; when
there is none, :class:`EtcdNotInstalledError` says how to install it. Nothing here is a fake of etcd.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

ETCD_BINARY_ENV = "KUBENATS_ETCD_BINARY"
INSTALL_HINT = "apt-get install etcd-server"


class EtcdNotInstalledError(FileNotFoundError):
    """There is no etcd binary to run."""


def etcd_binary() -> str:
    """The etcd server binary to run; raises :class:`EtcdNotInstalledError` when there is none."""
    override = os.environ.get(ETCD_BINARY_ENV)
    if override:
        if os.access(override, os.X_OK):
            return override
        raise EtcdNotInstalledError(f"${ETCD_BINARY_ENV}={override} is not an executable etcd binary")
    found = shutil.which("etcd")
    if found is not None:
        return found
    if os.access("/usr/bin/etcd", os.X_OK):
        return "/usr/bin/etcd"
    raise EtcdNotInstalledError(
        f"etcd is not installed (no `etcd` on PATH nor /usr/bin/etcd): `{INSTALL_HINT}`"
    )


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 a moment ago (bound all at once, then released)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)
        ]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _die_with_parent() -> list[str]:
    """A command prefix that makes the kernel SIGKILL the child when this process dies, so a crashed test or
    benchmark leaves no etcd behind: util-linux's ``setpriv --pdeathsig`` (on every Debian), nothing where
    it is missing. Linux ties the signal to the thread that started the child, so start clusters from a
    long-lived thread, as pytest and the benchmarks do. (Not ``preexec_fn``: that runs Python in a forked
    child of a process with gRPC threads, which can deadlock.)"""
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


class EtcdMember:
    """One etcd process of a cluster; it can be stopped and started again on the same ports and data."""

    def __init__(self, name: str, client_port: int, peer_port: int, root: Path) -> None:
        self.name = name
        self.client_port = client_port
        self.peer_port = peer_port
        self.data_dir = root / f"{name}.etcd"
        self.log_path = root / f"{name}.log"
        self.args: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def endpoint(self) -> str:
        """``host:port`` of the client port, as gRPC clients want it."""
        return f"127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def start(self) -> EtcdMember:
        """Start the process (again); it rejoins the cluster from its data directory. Does not wait."""
        if self.alive():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*_die_with_parent(), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the member dies without a chance to say goodbye."""
        if self.process is not None and self.alive():
            self.process.kill()
            self.process.wait()

    def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait; SIGKILL when it does not exit in ``timeout`` seconds."""
        if self.process is None or not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)  # a paused member cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the member stops answering but keeps its sockets open (a hung peer)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def output(self) -> str:
        """What the process logged since its last start."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def status(self, timeout: float = 1.0) -> dict[str, Any] | None:
        """The member's ``Maintenance.Status`` through etcd's JSON gateway, or None when it does not answer.
        The gateway writes 64-bit numbers as strings: ``int(status["leader"])``."""
        return self._post("/v3/maintenance/status", timeout)

    def healthy(self, timeout: float = 1.0) -> bool:
        """etcd's ``/health``: the member has a leader and a quorum read through it succeeded."""
        try:
            with urllib.request.urlopen(f"{self.client_url}/health", timeout=timeout) as reply:
                return bool(json.loads(reply.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def _post(self, path: str, timeout: float) -> dict[str, Any] | None:
        if not self.alive():
            return None
        request = urllib.request.Request(f"{self.client_url}{path}", data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                body: dict[str, Any] = json.loads(reply.read())
                return body
        except (OSError, ValueError):
            return None


class EtcdCluster:
    """A cluster of real etcd members on free ports of 127.0.0.1, with its data in a temporary directory.

    ``heartbeat_ms`` and ``election_ms`` are etcd's own defaults; they also set etcd's minimum lease TTL
    (1.5 election timeouts, rounded up to whole seconds: 2 s by default). ``progress_notify_interval``
    is how often etcd sends a progress notice to an idle watch that asked for them — 1 s here, as our
    wire protocol promises, instead of etcd's default of 10 minutes.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        data_dir: Path | None = None,
        heartbeat_ms: int = 100,
        election_ms: int = 1000,
        progress_notify_interval: str = "1s",
        extra_args: Sequence[str] = (),
    ) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one member, not {size}")
        self.binary = etcd_binary()
        self.size = size
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.progress_notify_interval = progress_notify_interval
        self.extra_args = list(extra_args)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="kubenats-etcd-")
            data_dir = Path(self._tempdir.name)
        self.root = Path(data_dir)
        self.members: list[EtcdMember] = []

    @property
    def endpoints(self) -> list[str]:
        """``host:port`` of every member's client port."""
        return [member.endpoint for member in self.members]

    @property
    def client_urls(self) -> list[str]:
        return [member.client_url for member in self.members]

    def start(self, timeout: float = 30.0, attempts: int = 3) -> EtcdCluster:
        """Start every member and wait for a leader. A member that dies at once (most likely because
        another process took one of its ports in the meantime) makes a fresh attempt on new ports."""
        for attempt in range(1, attempts + 1):
            self._create_members()
            for member in self.members:
                member.start()
            try:
                self.wait_for_leader(timeout)
                if not all(m.alive() for m in self.members):
                    raise RuntimeError("etcd member exited during start-up")
                return self
            except RuntimeError:
                self.stop()
                if attempt == attempts or not any(
                    "address already in use" in m.output() for m in self.members
                ):
                    raise
        raise AssertionError("unreachable")

    def _create_members(self) -> None:
        ports = free_ports(2 * self.size)
        self.members = [
            EtcdMember(f"etcd-{i}", ports[2 * i], ports[2 * i + 1], self.root) for i in range(self.size)
        ]
        for member in self.members:
            shutil.rmtree(member.data_dir, ignore_errors=True)
        initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        token = f"kubenats-{uuid.uuid4().hex}"  # peers of another cluster on this machine are refused
        for member in self.members:
            member.args = [
                self.binary,
                f"--name={member.name}",
                f"--data-dir={member.data_dir}",
                f"--listen-client-urls={member.client_url}",
                f"--advertise-client-urls={member.client_url}",
                f"--listen-peer-urls={member.peer_url}",
                f"--initial-advertise-peer-urls={member.peer_url}",
                f"--initial-cluster={initial_cluster}",
                f"--initial-cluster-token={token}",
                "--initial-cluster-state=new",
                f"--heartbeat-interval={self.heartbeat_ms}",
                f"--election-timeout={self.election_ms}",
                f"--experimental-watch-progress-notify-interval={self.progress_notify_interval}",
                "--logger=zap",
                "--log-outputs=stderr",
                *self.extra_args,
            ]

    def leader(self) -> EtcdMember | None:
        """The member that every answering member names as leader, or None while they disagree, have no
        leader, or fewer than a majority answer. A paused member does not answer and is not asked."""
        return self._leader_of(self._answering())

    def _answering(self) -> dict[EtcdMember, dict[str, Any]]:
        statuses = {m: m.status() for m in self.members if m.alive()}
        return {m: status for m, status in statuses.items() if status is not None}

    def _leader_of(self, statuses: dict[EtcdMember, dict[str, Any]]) -> EtcdMember | None:
        if len(statuses) <= self.size // 2:
            return None
        ids = {int(status["header"]["member_id"]): m for m, status in statuses.items()}
        leaders = {int(status.get("leader", 0)) for status in statuses.values()}
        return ids.get(leaders.pop()) if len(leaders) == 1 else None

    def wait_for_leader(self, timeout: float = 30.0) -> EtcdMember:
        """Wait until a majority answers, agrees on a leader, and each answering member serves a quorum
        read; returns the leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [m for m in self.members if m.process is not None and not m.alive()]
            if len(dead) > self.size // 2:
                break
            statuses = self._answering()
            leader = self._leader_of(statuses)
            if leader is not None and all(m.healthy() for m in statuses):
                return leader
            time.sleep(0.05)
        logs = "\n".join(f"--- {m.name}:\n{m.output()[-2000:]}" for m in self.members)
        raise RuntimeError(f"etcd cluster has no leader after {timeout:.0f}s:\n{logs}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every member: SIGTERM, then SIGKILL whatever still runs after ``timeout`` seconds.

        One member after another: SIGTERM to all at once takes etcd 3.4 about 7 s, because a stopping
        leader first tries to hand leadership to a follower that is itself stopping."""
        for member in self.members:
            member.terminate(timeout)

    def close(self) -> None:
        """Stop every member and remove the temporary directory (a ``data_dir`` given by the caller stays)."""
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> EtcdCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
