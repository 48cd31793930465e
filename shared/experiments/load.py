"""Background load: KV writers and readers, Service requests and pod creation, all recorded.

Each writer puts unique values (``w<client>-<n>``) to a few shared keys; each reader reads them. Every
operation goes into a linearizability :class:`History` (a write whose outcome is unknown — a timeout, a
503 — is ``info``: it may or may not have happened) and into the recording with its times; every
acknowledged write is kept with the revision the store gave it, so the audit can read exactly that
version back. Clients never retry: a failed request is a client error, recorded as such. Pod creation
is :mod:`shared.experiments.podload`'s; it runs among these clients and stops with them.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from shared import bus, subjects
from shared.apiclient import resource
from shared.errors import ApiError
from shared.experiments.cluster import ClusterHandle
from shared.experiments.model import Load
from shared.experiments.podload import PodLoad
from shared.experiments.records import Recording
from shared.experiments.tasks import Tasks
from shared.linearizability import History, Read, Write

# A refusal with one of these codes happened before the request reached the Raft log, so the write
# definitely did not take effect; any other failure leaves its outcome unknown.
NAMESPACES = resource("", "v1", "namespaces")
REFUSED = frozenset({400, 401, 403, 404, 409, 413, 422})


@dataclass(frozen=True)
class Ack:
    """An acknowledged write: the store says ``key`` holds ``value`` at ``revision``."""

    key: str
    value: str
    revision: int


@dataclass
class LoadResult:
    history: History = field(default_factory=History)
    acks: list[Ack] = field(default_factory=list)


def describe(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"{error.code} {error.message}"
    return f"{type(error).__name__}: {error}"


class BackgroundLoad:
    """The clients of one run: :meth:`start` launches them, :meth:`stop` ends them and returns the result."""

    def __init__(
        self,
        handle: ClusterHandle,
        spec: Load,
        prefix: str,
        recording: Recording,
        pods: PodLoad | None = None,
    ) -> None:
        self.handle = handle
        self.pods = pods
        self.spec = spec
        self.prefix = prefix
        self.recording = recording
        self.result = LoadResult()
        self._tasks = Tasks()

    def key(self, index: int) -> str:
        return f"{self.prefix}reg/{index}"

    def start(self) -> None:
        clients = [self._writer(i) for i in range(self.spec.kv_writers)]
        clients += [self._reader(i) for i in range(self.spec.kv_readers)]
        if self.handle.api is not None:
            clients += [self._api_reader() for _ in range(self.spec.api_clients)]
        if self.spec.service is not None:
            clients.append(self._service())
        for client in clients:
            self._tasks.start(client)
        if self.pods is not None:
            self.pods.start(self._tasks)

    async def stop(self) -> LoadResult:
        await self._tasks.stop()
        return self.result

    async def _paced(self, started: float) -> None:
        """Sleep out the rest of this client's period (or until stopped)."""
        rest = 1.0 / self.spec.rate - (time.monotonic() - started)
        if rest > 0:
            await self._tasks.sleep(rest)

    async def _writer(self, client: int) -> None:
        etcd = self.handle.quick_etcd(self.spec.op_timeout)
        history = self.result.history
        for n in itertools.count():
            if self._tasks.stopping.is_set():
                return
            key, value = self.key(n % self.spec.keys), f"w{client}-{n}"
            started = time.monotonic()
            op_id = history.invoke(f"writer-{client}", Write(key, value))
            try:
                reply = await etcd.put(key, value)
            except Exception as error:  # whatever a client can meet is recorded, never fatal to the load
                if isinstance(error, ApiError) and error.code in REFUSED:
                    history.fail(op_id)
                else:
                    history.info(op_id)
                self.recording.op("write", started, ok=False, error=describe(error))
            else:
                history.ok(op_id)
                self.result.acks.append(Ack(key, value, reply.header.revision))
                self.recording.op("write", started, ok=True)
            await self._paced(started)

    async def _reader(self, client: int) -> None:
        etcd = self.handle.quick_etcd(self.spec.op_timeout)
        history = self.result.history
        for n in itertools.count():
            if self._tasks.stopping.is_set():
                return
            key = self.key(n % self.spec.keys)
            started = time.monotonic()
            op_id = history.invoke(f"reader-{client}", Read(key))
            try:
                reply = await etcd.range(key)
            except Exception as error:  # as for writes
                history.info(op_id)
                self.recording.op("read", started, ok=False, error=describe(error))
            else:
                history.ok(op_id, reply.kvs[0].value if reply.kvs else None)
                self.recording.op("read", started, ok=True)
            await self._paced(started)

    async def _api_reader(self) -> None:
        assert self.handle.api is not None
        while not self._tasks.stopping.is_set():
            started = time.monotonic()
            try:
                await self.handle.api.get(NAMESPACES, "default")
            except Exception as error:  # as for writes
                self.recording.op("api", started, ok=False, error=describe(error))
            else:
                self.recording.op("api", started, ok=True)
            await self._paced(started)

    async def _service(self) -> None:
        assert self.spec.service is not None
        subject = subjects.service(self.spec.service.namespace, self.spec.service.name)
        while not self._tasks.stopping.is_set():
            started = time.monotonic()
            try:
                await bus.request(self.handle.nc, subject, b"", timeout=self.spec.op_timeout)
            except Exception as error:  # as for writes
                self.recording.op("service", started, ok=False, error=describe(error))
            else:
                self.recording.op("service", started, ok=True)
            await self._paced(started)
