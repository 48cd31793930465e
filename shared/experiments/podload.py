"""The pod-creation load: bare pods created at a steady rate in a namespace of the run's own.

Each create is a client operation of kind ``pod`` in the recording (no retries: a failure is a client
error) and each acknowledged one a :class:`~shared.experiments.podaudit.PodAck`. A second client lists
the namespace every :data:`LOOK_SECONDS` to see when each pod is scheduled and when it runs. After the
run, :meth:`PodLoad.settle` keeps looking (patiently) until every acknowledged pod runs or the start
timeout passes, and returns what the audit needs; :meth:`PodLoad.delete_namespace` removes them all.
The namespace's name starts with :data:`NAMESPACE_PREFIX`, which the watcher leaves out of the timeline.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.apiclient import ApiClient, resource
from shared.errors import ApiError
from shared.experiments.model import PodLoad as PodLoadSpec
from shared.experiments.podaudit import PodAck, PodSeen, all_running, observe
from shared.experiments.records import Recording
from shared.experiments.tasks import Tasks
from shared.logging import get_logger

log = get_logger(__name__)

NAMESPACE_PREFIX = "kubenats-experiment-pods-"
NAMESPACES = resource("", "v1", "namespaces")
PODS = resource("", "v1", "pods")
LOOK_SECONDS = 0.5
DELETE_TIMEOUT = 60.0


def pod_manifest(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "kubenats-experiment-load"}},
        # Nothing to wait for when the namespace goes: the run is over.
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "main", "image": image}]},
    }


def _describe(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"{error.code} {error.message}"
    return f"{type(error).__name__}: {error}"


class PodLoad:
    """``api`` is the load's impatient client, ``patient_api`` the one for setting up and auditing."""

    def __init__(
        self,
        api: ApiClient,
        patient_api: ApiClient,
        spec: PodLoadSpec,
        namespace: str,
        recording: Recording,
    ) -> None:
        self.api = api
        self.patient_api = patient_api
        self.spec = spec
        self.namespace = namespace
        self.recording = recording
        self.acks: list[PodAck] = []
        self.seen: dict[str, PodSeen] = {}

    async def create_namespace(self) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        await self.patient_api.create(body)

    def start(self, tasks: Tasks) -> None:
        tasks.start(self._creator(tasks))
        tasks.start(self._looker(tasks))

    async def _creator(self, tasks: Tasks) -> None:
        for n in range(self.spec.max_pods):
            if tasks.stopping.is_set():
                return
            name, started = f"load-{n:04d}", time.monotonic()
            try:
                created = await self.api.create(pod_manifest(name, self.spec.image), self.namespace)
            except Exception as error:  # whatever a client can meet is recorded, never fatal to the load
                self.recording.op("pod", started, ok=False, error=_describe(error))
            else:
                uid = str(created.get("metadata", {}).get("uid", ""))
                self.acks.append(PodAck(name=name, uid=uid, sent_at=started, acked_at=time.monotonic()))
                self.recording.op("pod", started, ok=True)
            rest = 1.0 / self.spec.rate - (time.monotonic() - started)
            if rest > 0:
                await tasks.sleep(rest)

    async def _look(self, api: ApiClient) -> dict[str, str]:
        """List the namespace once, note what is seen; returns name → uid of every pod in it."""
        pods = (await api.list(PODS, self.namespace))["items"]
        observe(self.seen, pods, time.monotonic())
        return {p["metadata"]["name"]: str(p["metadata"].get("uid", "")) for p in pods}

    async def _looker(self, tasks: Tasks) -> None:
        while not tasks.stopping.is_set():
            try:
                await self._look(self.api)
            except (ApiError, TimeoutError):
                pass  # the API unreachable or refusing is part of the fault: look again shortly
            except Exception:  # a bug here must show, though the load goes on
                log.exception("pod look failed", namespace=self.namespace)
            await tasks.sleep(LOOK_SECONDS)

    async def settle(self) -> dict[str, str]:
        """Look until every acknowledged pod has been seen running (or the start timeout passes); returns
        the pods in the namespace, name → uid."""
        deadline = time.monotonic() + self.spec.start_timeout
        while True:
            present = await self._look(self.patient_api)
            if all_running(self.acks, self.seen) or time.monotonic() >= deadline:
                return present
            await asyncio.sleep(LOOK_SECONDS)

    async def delete_namespace(self) -> None:
        """Delete the namespace (the namespace controller deletes its pods) and wait until it is gone."""
        try:
            await self.patient_api.delete(NAMESPACES, self.namespace)
        except ApiError as error:
            if error.code != 404:
                raise
            return
        deadline = time.monotonic() + DELETE_TIMEOUT
        while time.monotonic() < deadline:
            try:
                await self.patient_api.get(NAMESPACES, self.namespace)
            except ApiError as error:
                if error.code == 404:
                    return
            await asyncio.sleep(LOOK_SECONDS)
        log.warning("experiment namespace still terminating", namespace=self.namespace)
