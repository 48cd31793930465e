"""A control plane on this machine for tests and benchmarks: etcd members and API server replicas.

``with LocalControlPlane(apiservers=3) as cp:`` starts a nats-server, three etcd members and the API
server replicas as processes, writes a token file with one identity per role (``cp.tokens["admin"]``,
``"viewer"``, ``"scheduler"``, ``"controller-manager"``, ``"node:worker-1"``…), and stops everything
on exit.
"""

from __future__ import annotations

from types import TracebackType

from services.apiserver.auth import UserInfo, generate_token_file
from services.etcd.local_cluster import LocalEtcdCluster
from shared.procs import ServiceProcess

READY_LINE = "apiserver ready"
MODULE = "services.apiserver"


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


class LocalControlPlane:
    def __init__(self, apiservers: int = 1, nodes: tuple[str, ...] = ("worker-1", "worker-2")) -> None:
        self.etcd = LocalEtcdCluster()
        self.names = tuple(f"cp-{n}" for n in range(1, apiservers + 1))
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
        for name in self.names:
            args = ["--nats", self.url, "--name", name, "--token-file", str(token_file)]
            logs = self.etcd.root / "logs"
            process = ServiceProcess(f"apiserver-{name}", MODULE, args, logs, ready_line=READY_LINE)
            self.apiservers[name] = process.start()
        return self

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
