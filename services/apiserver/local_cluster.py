"""A control plane on this machine for tests and benchmarks: etcd members and API server replicas.

``with LocalControlPlane(apiservers=3) as cp:`` starts a nats-server, three etcd members and the API
server replicas as processes, writes a token file with one identity per role (``cp.tokens["admin"]``,
``"viewer"``, ``"scheduler"``, ``"controller-manager"``, ``"node:worker-1"``…), and stops everything
on exit. ``LocalControlPlane(https=True)`` also serves the Kubernetes REST API over HTTPS on a free port
per replica (``cp.https_urls``), with a CA and a serving certificate made for the run;
``cp.write_kubeconfig(path, "admin")`` writes a kubeconfig for kubectl.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

from services.apiserver.auth import UserInfo, generate_token_file
from services.etcd.local_cluster import LocalEtcdCluster
from shared.cluster.pki import PkiPaths, ensure_pki, write_kubeconfig
from shared.procs import ServiceProcess

READY_LINE = "apiserver ready"
MODULE = "services.apiserver"
_HTTPS_PORT = re.compile(r"apiserver ready .*https_port=(\d+)")


def default_identities(nodes: tuple[str, ...]) -> dict[str, UserInfo]:
    identities = {
        "admin": UserInfo("admin", "uid-admin", ("system:masters",)),
        "viewer": UserInfo("viewer", "uid-viewer", ("system:viewers",)),
        "nobody": UserInfo("nobody", "uid-nobody", ()),
        "scheduler": UserInfo("system:kube-scheduler", "uid-scheduler", ()),
        "controller-manager": UserInfo("system:kube-controller-manager", "uid-cm", ()),
    }
    for node in nodes:
        identities[f"node:{node}"] = UserInfo(f"system:node:{node}", f"uid-{node}", ("system:nodes",))
    return identities


REPLICAS = ("cp-1", "cp-2", "cp-3")


class LocalControlPlane:
    def __init__(
        self,
        apiservers: int = 1,
        nodes: tuple[str, ...] = ("worker-1", "worker-2"),
        *,
        https: bool = False,
        etcd_args: list[str] | None = None,
    ) -> None:
        self.names = tuple(f"cp-{n}" for n in range(1, apiservers + 1))
        # The members are named after the replicas, as under make up, so a network partition that names
        # replicas cuts each replica's API server and etcd member alike.
        self.etcd = LocalEtcdCluster(extra_args=etcd_args, names=REPLICAS)
        self.https = https
        self.pki: PkiPaths | None = None
        self.https_urls: dict[str, str] = {}
        self.identities = default_identities(nodes)
        self.tokens: dict[str, str] = {}
        self.apiservers: dict[str, ServiceProcess] = {}

    @property
    def url(self) -> str:
        return self.etcd.url

    def start(self) -> LocalControlPlane:
        self.etcd.start()
        token_file = self.etcd.root / "tokens.csv"
        by_user = generate_token_file(token_file, self.identities.values())
        self.tokens = {key: by_user[identity.name] for key, identity in self.identities.items()}
        if self.https:
            self.pki = ensure_pki(self.etcd.root / "pki")
        for name in self.names:
            args = ["--nats", self.url, "--name", name, "--token-file", str(token_file)]
            if self.pki is not None:
                args += ["--https-port", "0", "--https-address", "127.0.0.1"]
                args += ["--tls-cert-file", str(self.pki.serving_cert)]
                args += ["--tls-private-key-file", str(self.pki.serving_key)]
            logs = self.etcd.root / "logs"
            process = ServiceProcess(f"apiserver-{name}", MODULE, args, logs, ready_line=READY_LINE)
            self.apiservers[name] = process.start()
            if self.pki is not None:
                found = _HTTPS_PORT.search(process.output())
                if found is None:
                    raise RuntimeError(
                        f"apiserver-{name} did not say its HTTPS port:\n{process.output()[-2000:]}"
                    )
                self.https_urls[name] = f"https://127.0.0.1:{found.group(1)}"
        return self

    @property
    def https_url(self) -> str:
        """The first replica's HTTPS URL (``https=True`` only)."""
        return self.https_urls[self.names[0]]

    def write_kubeconfig(self, path: Path, identity: str = "admin", replica: str | None = None) -> Path:
        """A kubeconfig for ``identity`` (a key of :attr:`tokens`, or any string for a bad token)."""
        if self.pki is None:
            raise RuntimeError("the control plane was started without https=True")
        server = self.https_urls[replica or self.names[0]]
        token = self.tokens.get(identity, identity)
        return write_kubeconfig(path, server, self.pki.ca_cert, token, user=identity)

    def stop(self) -> None:
        for process in self.apiservers.values():
            process.terminate()
        self.etcd.stop()

    def __enter__(self) -> LocalControlPlane:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
