"""The state directory of a running cluster: where configs, sockets, logs and data live.

Everything ``make up`` creates goes under one directory (``.kubenats/`` at the repository root unless
``--state-dir`` or ``KUBENATS_STATE_DIR`` says otherwise), so ``make clean`` is one ``rm -rf``::

    .kubenats/
      supervisord.conf  supervisord.sock  supervisord.pid  topology.json  lock
      nats/cp-1.conf …            rendered nats-server configs
      logs/cp-1-nats.log …        one log per program (stdout and stderr), plus supervisord.log
      data/cp-1-nats/ …           per-program data (kept by ``make down``)
      auth/tokens.csv  auth/nats.json    API tokens and NATS passwords (mode 0600)
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR_ENV = "KUBENATS_STATE_DIR"

# sockaddr_un.sun_path is 108 bytes on Linux and 104 on macOS, including the terminating NUL.
MAX_SOCKET_PATH = 103


def default_state_dir() -> Path:
    """``$KUBENATS_STATE_DIR`` if set, else ``.kubenats`` at the repository root."""
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured) if configured else REPO_ROOT / ".kubenats"


def binary(name: str) -> Path:
    """A console script or binary installed beside this Python (the venv's ``bin/``), else on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found beside {sys.executable} or on PATH: run `make install`")
    return Path(found)


@dataclass(frozen=True)
class StatePaths:
    """The layout of one state directory; ``root`` is absolute (supervisord changes directory)."""

    root: Path

    @classmethod
    def at(cls, root: Path | str | None = None) -> StatePaths:
        return cls(Path(root if root is not None else default_state_dir()).expanduser().absolute())

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.root / "supervisord.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def topology_snapshot(self) -> Path:
        """The topology the running cluster was started with, so status/logs need no topology file."""
        return self.root / "topology.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def supervisord_log(self) -> Path:
        return self.logs / "supervisord.log"

    @property
    def nats_confs(self) -> Path:
        return self.root / "nats"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def token_file(self) -> Path:
        return self.root / "auth" / "tokens.csv"

    @property
    def nats_credentials(self) -> Path:
        """Every NATS identity's password (``shared.cluster.natsauth``)."""
        return self.root / "auth" / "nats.json"

    @property
    def pki(self) -> Path:
        """The CA and the API servers' serving certificate (``shared.cluster.pki``)."""
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig for the real kubectl: ``KUBECONFIG=.kubenats/kubeconfig kubectl …``."""
        return self.root / "kubeconfig"

    def nats_conf(self, replica: str) -> Path:
        return self.nats_confs / f"{replica}.conf"

    def program_log(self, program: str) -> Path:
        return self.logs / f"{program}.log"

    def program_data(self, program: str) -> Path:
        return self.data / program

    def make_dirs(self) -> None:
        for directory in (self.root, self.logs, self.nats_confs, self.data):
            directory.mkdir(parents=True, exist_ok=True)
