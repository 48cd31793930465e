"""Cluster lifecycle: ``up``, ``down`` and ``status`` of the processes a topology describes.

``up`` makes sure the cluster has its NATS passwords and API tokens, renders the configs into the state
dir, starts supervisord, and returns once every program is ready — or raises ``ClusterError`` carrying
the failing program's last log lines. On a running cluster it changes nothing and says so. ``down`` shuts
supervisord down and waits until every process it ran has exited; data and logs stay. Both hold a lock on
the state dir so two commands never interleave.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import socket
import subprocess
import xmlrpc.client
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.cluster.logs import tail_lines
from shared.cluster.natsauth import ADMIN as NATS_ADMIN
from shared.cluster.natsauth import NatsCredentials, ensure_credentials
from shared.cluster.paths import MAX_SOCKET_PATH, StatePaths, binary
from shared.cluster.pki import ensure_pki, write_kubeconfig
from shared.cluster.readiness import NotReady, Progress, wait_ready
from shared.cluster.render import render_cluster, write_rendered
from shared.cluster.supervisor import (
    ProcessInfo,
    Supervisor,
    SupervisorUnavailable,
    is_our_supervisord,
    kill,
    read_pidfile,
    start_supervisord,
    wait_gone,
)
from shared.cluster.tokens import ADMIN, ensure_tokens
from shared.logging import get_logger
from shared.tokenfile import token_for_user
from shared.topology import Topology, TopologyError, validate_topology

log = get_logger(__name__)

LOG_TAIL_LINES = 30


class ClusterError(Exception):
    """A cluster command failed; ``log_tail`` holds the last lines of the failing program's log, if any."""

    def __init__(self, message: str, program: str | None = None, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.program = program
        self.log_tail = log_tail or []


@dataclass(frozen=True)
class UpResult:
    already_running: bool
    processes: list[ProcessInfo]
    topology: Topology
    config_changed: bool = False


@dataclass(frozen=True)
class DownResult:
    was_running: bool
    stopped: list[str] = field(default_factory=list)
    forced: list[int] = field(default_factory=list)


def _quiet(_: str) -> None:
    pass


@contextmanager
def state_lock(paths: StatePaths, progress: Progress) -> Iterator[None]:
    paths.root.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another kubenats cluster command on {paths.root}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def running_topology(paths: StatePaths) -> Topology | None:
    """The topology the cluster in ``paths`` was last started with, if it was."""
    try:
        return validate_topology_json(paths.topology_snapshot.read_text())
    except (OSError, TopologyError):
        return None


def validate_topology_json(text: str) -> Topology:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise TopologyError(f"topology snapshot is not JSON: {error}") from None
    return validate_topology(data, source="topology snapshot")


def _check_ports_free(topology: Topology) -> None:
    for replica in topology.replicas:
        for what, port in replica.ports().items():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                # As the server will: SO_REUSEADDR, so a port in TIME_WAIT counts as free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((str(topology.host), port))
                except OSError as error:
                    raise ClusterError(
                        f"port {port} ({replica.name} {what}) on {topology.host} is not available: "
                        f"{error.strerror}. Is another cluster or nats-server running? Change the ports in "
                        "the topology file or stop it."
                    ) from None


def _check_nats_configs(topology: Topology, paths: StatePaths) -> None:
    nats_server = str(binary("nats-server"))
    for conf in (paths.nats_conf(replica.name) for replica in topology.replicas):
        result = subprocess.run(
            [nats_server, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise ClusterError(f"nats-server rejects {conf}: {(result.stdout + result.stderr).strip()}")


def _failure(paths: StatePaths, error: NotReady) -> ClusterError:
    tail = tail_lines(paths.program_log(error.program), LOG_TAIL_LINES) if error.program else []
    hint = f"; see `kubenats cluster logs {error.program}`" if error.program else ""
    return ClusterError(f"{error}{hint}; `make down` stops what did start", error.program, tail)


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_text() != text
    except OSError:
        return True


def up(topology: Topology, paths: StatePaths, timeout: float = 30.0, progress: Progress = _quiet) -> UpResult:
    """Start the cluster ``topology`` describes, or do nothing if the one in ``paths`` is running."""
    if len(str(paths.socket)) > MAX_SOCKET_PATH:
        raise ClusterError(f"state dir {paths.root} is too long for a unix socket path; choose a shorter one")
    with state_lock(paths, progress):
        credentials = ensure_credentials(topology, paths)
        rendered = render_cluster(topology, paths, credentials)
        supervisor = Supervisor(paths)
        if supervisor.is_running():
            changed = any(_differs(path, text) for path, text in rendered.files.items())
            current = running_topology(paths) or topology
            return UpResult(True, supervisor.processes(), current, config_changed=changed)

        _check_ports_free(topology)
        write_rendered(rendered, paths)
        ensure_tokens(topology, paths)
        _ensure_kubeconfig(topology, paths)
        _check_nats_configs(topology, paths)
        progress(f"rendered {len(rendered.programs)} programs into {paths.supervisord_conf}")
        try:
            pid = start_supervisord(paths)
        except RuntimeError as error:
            tail = tail_lines(paths.supervisord_log, LOG_TAIL_LINES)
            raise ClusterError(str(error), "supervisord", tail) from None
        progress(f"supervisord started (pid {pid})")
        try:
            token = token_for_user(paths.token_file, ADMIN)
            login = _admin_login(credentials)
            asyncio.run(wait_ready(topology, rendered.programs, supervisor, timeout, progress, token, login))
        except NotReady as error:
            raise _failure(paths, error) from None
        except SupervisorUnavailable as error:
            tail = tail_lines(paths.supervisord_log, LOG_TAIL_LINES)
            raise ClusterError(f"supervisord stopped answering: {error}", "supervisord", tail) from None
        log.info("cluster up", state_dir=paths.root, programs=len(rendered.programs))
        return UpResult(False, supervisor.processes(), topology)


def _admin_login(credentials: NatsCredentials) -> Callable[[Sequence[str]], list[str]]:
    def login(urls: Sequence[str]) -> list[str]:
        return credentials.urls(urls, NATS_ADMIN)

    return login


def kubectl_server(topology: Topology) -> str | None:
    """The HTTPS address kubectl reaches the first API server replica at, if one is configured."""
    port = topology.replicas[0].https_port
    return f"https://{topology.host}:{port}" if port else None


def _ensure_kubeconfig(topology: Topology, paths: StatePaths) -> None:
    """The CA and serving certificate every API server replica presents, and the admin's kubeconfig."""
    pki = ensure_pki(paths.pki, extra_hosts=[str(topology.host)])
    server = kubectl_server(topology)
    if server is not None:
        write_kubeconfig(paths.kubeconfig, server, pki.ca_cert, token_for_user(paths.token_file, ADMIN))


def status(paths: StatePaths) -> list[ProcessInfo] | None:
    """Every program and its state, or ``None`` when no supervisord runs for ``paths``."""
    try:
        return Supervisor(paths).processes()
    except SupervisorUnavailable:
        return None


def down(paths: StatePaths, timeout: float = 60.0, progress: Progress = _quiet) -> DownResult:
    """Stop every process of the cluster in ``paths`` and wait until they have exited; keep the data."""
    with state_lock(paths, progress):
        supervisor = Supervisor(paths)
        try:
            supervisord_pid = supervisor.pid()
            processes = supervisor.processes()
        except SupervisorUnavailable:
            return _down_unreachable(paths, timeout)
        pids = {p.pid for p in processes if p.pid > 0} | {supervisord_pid}
        progress(f"stopping {len(processes)} programs and supervisord (pid {supervisord_pid})")
        try:
            supervisor.shutdown()
        except (SupervisorUnavailable, xmlrpc.client.Fault) as error:
            # Already shutting down, or it went away between the two calls: waiting below is enough.
            log.info("supervisord shutdown call failed", error=error)
        left = wait_gone(pids, timeout)
        if left:
            # A program that ignores SIGTERM and SIGKILL from supervisord: not ours to leave behind.
            log.warning("processes outlived shutdown, killing them", pids=sorted(left))
            kill(left, signal.SIGKILL)
            wait_gone(left, 5.0)
        return DownResult(True, [p.name for p in processes], sorted(left))


def _down_unreachable(paths: StatePaths, timeout: float) -> DownResult:
    """No answer on the socket: stop a supervisord of ours that the pidfile still names, if any."""
    pid = read_pidfile(paths)
    if pid is None or not is_our_supervisord(pid, paths):
        return DownResult(False)
    os.kill(pid, signal.SIGTERM)
    left = wait_gone([pid], timeout)
    if left:
        kill(left, signal.SIGKILL)
    return DownResult(True, ["supervisord"], sorted(left))
