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
DEFAULT_SIZE = 3


def member_names(size: int | None, names: tuple[str, ...] | None) -> tuple[str, ...]:
    """The members' names: ``names`` as given, else ``e1`` … ``e<size>`` (``size`` 3 when not given).

    ValueError when both are given (one would silently win over the other) or when there is no member.
    """
    if names is not None and size is not None:
        raise ValueError("give the cluster's size or its member names, not both")
    if names is None:
        names = tuple(f"e{n}" for n in range(1, (DEFAULT_SIZE if size is None else size) + 1))
    if not names:
        raise ValueError("an etcd cluster needs at least one member")
    return names


class LocalEtcdCluster:
    def __init__(
        self,
        size: int | None = None,
        *,
        extra_args: list[str] | None = None,
        nats_url: str | None = None,
        names: tuple[str, ...] | None = None,
    ) -> None:
        """``size`` members named ``e1``, ``e2``, … (3 by default), or the members ``names`` lists."""
        self.names = member_names(size, names)
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
