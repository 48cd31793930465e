"""Clusters for tests, started exactly as `make up` starts one: a topology on free ports in a temporary
state dir, so they run beside a `make up` cluster; on exit nothing they ran is left running.

Such a cluster's NATS servers refuse anonymous clients. While its ``cluster_dir`` is open, the test process
has the cluster's ``admin`` NATS login in its environment, so ``shared.bus.connect`` (and every client
built on it) logs in as admin, as a person would after ``export KUBENATS_NATS_USER=admin …``; a test that
is about another identity names it (``Cluster.nats_urls``)."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.bus import NATS_PASSWORD_ENV, NATS_USER_ENV
from shared.cluster import StatePaths, down, status
from shared.cluster.natsauth import ADMIN, ensure_credentials, load_credentials
from shared.cluster.supervisor import kill, read_pidfile, wait_gone
from shared.topology import DEFAULT_TOPOLOGY, Topology, validate_topology

KUBENATS = Path(sys.executable).parent / "kubenats"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports the kernel just handed out (held together, so no two are the same)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port_topology(workers: int | None = None, **components_enabled: bool) -> Topology:
    """The default topology on free ports, with no monitor port and a cluster name of its own."""
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(DEFAULT_TOPOLOGY.read_text()))
    if workers is not None:
        data["workers"]["count"] = workers
    ports = free_ports(3 * len(data["replicas"]))
    data["cluster_name"] = "kubenats-test"
    for index, replica in enumerate(data["replicas"]):
        nats, route, https = ports[3 * index : 3 * index + 3]
        replica.update(nats_port=nats, route_port=route, https_port=https)
        replica.pop("monitor_port", None)
    for name, enabled in components_enabled.items():
        data["components"][name]["enabled"] = enabled
    return validate_topology(data)


@dataclass
class Cluster:
    topology: Topology
    paths: StatePaths
    topology_file: Path
    seen_pids: set[int] = field(default_factory=set)

    def nats_urls(self, identity: str = ADMIN) -> list[str]:
        """The servers' URLs logged in as ``identity`` (``admin``, ``user`` or a program's name)."""
        credentials = load_credentials(self.paths)
        assert credentials is not None, f"no NATS credentials in {self.paths.root}"
        return credentials.urls(self.topology.nats_urls(), identity)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        # As from a person's shell: the state dir on the command line, no login in the environment.
        unset = {"KUBENATS_STATE_DIR", "WORKERS", NATS_USER_ENV, NATS_PASSWORD_ENV}
        env = {k: v for k, v in os.environ.items() if k not in unset}
        command = [str(KUBENATS), "cluster", *args, "--state-dir", str(self.paths.root)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)

    def remember_pids(self) -> dict[str, int] | None:
        """Program name → pid now (``None`` when not running); every pid seen is checked at the end."""
        supervisord = read_pidfile(self.paths)
        if supervisord is not None:
            self.seen_pids.add(supervisord)
        processes = status(self.paths)
        if processes is None:
            return None
        pids = {p.name: p.pid for p in processes}
        self.seen_pids.update(pid for pid in pids.values() if pid > 0)
        return pids

    def pids(self) -> dict[str, int]:
        pids = self.remember_pids()
        assert pids is not None, "supervisord is not running"
        return pids


@contextmanager
def cluster_dir(topology: Topology) -> Iterator[Cluster]:
    """A state dir and topology file for ``topology``; on exit, nothing the cluster ran is left running."""
    # A short path: the supervisord socket lives here and unix socket paths are limited to ~100 bytes.
    root = Path(tempfile.mkdtemp(prefix="kn-"))
    topology_file = root / "topology.yaml"
    topology_file.write_text(yaml.safe_dump(topology.model_dump(mode="json")))
    cluster = Cluster(topology, StatePaths(root / "state"), topology_file)
    # Created now rather than by `up`, which keeps them, so that the login is known before the cluster runs.
    login = ensure_credentials(topology, cluster.paths).environment(ADMIN)
    saved = {key: os.environ.get(key) for key in login}
    os.environ.update(login)
    try:
        yield cluster
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        cluster.remember_pids()
        down(cluster.paths, timeout=20)
        left = wait_gone(cluster.seen_pids, timeout=10)
        kill(left, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"processes outlived `down`: {sorted(left)}"
