"""A 3-member cluster of our etcd service on this machine, for tests and benchmarks.

``with LocalEtcdCluster() as cluster:`` starts a nats-server on a free port and one ``python -m
services.etcd`` process per member, data in a temporary directory; members can be killed, paused and
restarted by name, and leaving the block stops everything.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import TracebackType

from shared.natsserver import NatsServer
from shared.procs import ServiceProcess

READY_LINE = "etcd member ready"


class LocalEtcdCluster:
    def __init__(
        self,
        size: int = 3,
        *,
        extra_args: list[str] | None = None,
        nats_url: str | None = None,
        names: tuple[str, ...] | None = None,
    ):
        self.names = names or tuple(f"e{n}" for n in range(1, size + 1))
        self.extra_args = list(extra_args or [])
        self._own_nats = nats_url is None
        self.nats = NatsServer() if nats_url is None else None
        self._url = nats_url or ""
        self._dir = tempfile.TemporaryDirectory(prefix="kubenats-etcd-")
        self.root = Path(self._dir.name)
        self.members: dict[str, ServiceProcess] = {}

    @property
    def url(self) -> str:
        return self.nats.url if self.nats is not None else self._url

    def start(self) -> LocalEtcdCluster:
        if self.nats is not None:
            self.nats.start()
        self.members = {name: self._process(name) for name in self.names}
        for process in self.members.values():
            process.start()
        return self

    def _process(self, name: str) -> ServiceProcess:
        args = [
            *("--nats", self.url, "--name", name, "--peers", ",".join(self.names)),
            *("--data-dir", str(self.root / name)),
            *self.extra_args,
        ]
        return ServiceProcess(name, "services.etcd", args, self.root / "logs", ready_line=READY_LINE)

    def stop(self) -> None:
        for process in self.members.values():
            process.terminate()
        if self.nats is not None:
            self.nats.close()
        self._dir.cleanup()

    def __enter__(self) -> LocalEtcdCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)
