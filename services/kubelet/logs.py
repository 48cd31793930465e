"""Reading the logs of the containers of a node's pods: the answer of ``node.<node>.logs``.

Which instance of a container is read follows the kubelet's own rules (``validateContainerLogStatus``):
the current instance while there is one; otherwise the one that exited last; with ``previous``, the last
terminated instance — which the kubelet keeps in the runtime until the container restarts once more, as
Kubernetes keeps one dead container per container. A container that never started is "waiting to start".
Times: the runtime stamps lines in Unix nanoseconds, fixed when the line is written, so the same line
always gets the same time (in epoch seconds here) and a follow's cursor (``sinceExact``) matches exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.kubelet.kubelet import RUNTIME_ERRORS, Kubelet
from services.kubelet.records import ContainerRecord, PodRecord
from services.runtime import api as cri
from shared.errors import ApiError
from shared.podlogs import LogEntry, NodeLogsRequest, PodLogs


def pick_container(record: PodRecord, name: str) -> ContainerRecord:
    """The pod's container called ``name`` ('' = its only one); 400 or 404 in Kubernetes' words."""
    containers = record.containers()
    if not name:
        if len(record.main) == 1:
            return record.main[0]
        names = " ".join(c.name for c in record.main)
        raise ApiError(
            400, f"a container name must be specified for pod {record.name}, choose one of: [{names}]"
        )
    for container in containers:
        if container.name == name:
            return container
    raise ApiError(404, f'container "{name}" in pod "{record.name}" is not available', reason="NotFound")


def current_instance(container: ContainerRecord, pod: str) -> str:
    """The id of the instance a plain read shows: the current one, else the last that exited."""
    if container.container_id and container.current is not None:
        return container.container_id
    if container.last_exit is not None:
        return container.last_exit.id
    reason = container.waiting_reason or "ContainerCreating"
    if reason == "ErrImagePull":
        reason = "image can't be pulled"
    raise ApiError(400, f'container "{container.name}" in pod "{pod}" is waiting to start: {reason}')


def previous_instance(container: ContainerRecord, pod: str, in_sandbox: Sequence[cri.ContainerStatus]) -> str:
    """The id of the last terminated instance before the current one (``--previous``).

    The record names it after a restart; after a kubelet restart the record is new, so the runtime's list
    of the sandbox's containers (the highest exited attempt that is not the current one) stands in.
    """
    if container.last_exit is not None:
        return container.last_exit.id
    exited = [
        status
        for status in in_sandbox
        if status.name == container.name
        and status.id != container.container_id
        and status.state == cri.ContainerState.EXITED
    ]
    if not exited:
        raise ApiError(400, f'previous terminated container "{container.name}" in pod "{pod}" not found')
    return max(exited, key=lambda status: status.attempt).id


def select(entries: list[LogEntry], request: NodeLogsRequest, now: float) -> list[LogEntry]:
    """Kubernetes' order: the time bounds first, then the tail."""
    bounds = [
        now - request.since_seconds if request.since_seconds is not None else None,
        request.since_time.timestamp() if request.since_time is not None else None,
        request.since_exact,
    ]
    given = [bound for bound in bounds if bound is not None]
    if given:
        since = max(given)
        entries = [entry for entry in entries if entry.time >= since]
    if request.tail_lines is not None:
        entries = entries[len(entries) - request.tail_lines :] if request.tail_lines else []
    return entries


class PodLogReader:
    """Serves one node's logs from its kubelet's pod records and runtime."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    async def read(self, request: NodeLogsRequest) -> PodLogs:
        kubelet = self.kubelet
        if not kubelet.connected:
            raise ApiError(503, f"node {kubelet.name} is not reachable", reason="ServiceUnavailable")
        record = kubelet.records.get(f"{request.namespace}/{request.name}")
        if record is None or not record.sandbox_id:
            raise ApiError(
                404,
                f'pod "{request.name}" in namespace "{request.namespace}" cannot be found on node '
                f"{kubelet.name} - no logs available",
                reason="NotFound",
            )
        container = pick_container(record, request.container)
        try:
            return await self._read(record, container, request)
        except RUNTIME_ERRORS as error:
            if isinstance(error, ApiError) and error.code < 500:
                raise
            raise ApiError(503, f"the runtime of node {kubelet.name} did not answer: {error}") from None

    async def _read(self, record: PodRecord, container: ContainerRecord, request: NodeLogsRequest) -> PodLogs:
        runtime = self.kubelet.runtime
        if request.container_id:
            instance = request.container_id
        elif request.previous:
            in_sandbox = [] if container.last_exit else await runtime.list_containers(record.sandbox_id)
            instance = previous_instance(container, record.name, in_sandbox)
        else:
            instance = current_instance(container, record.name)
        gone = ApiError(
            404, f'container "{container.name}" in pod "{record.name}" is not available', reason="NotFound"
        )
        try:
            status = await runtime.container_status(instance)
            lines = await runtime.container_logs(instance)
        except ApiError as error:
            if error.code != 404:
                raise
            raise gone from None
        # A follow names the instance it reads; it must be one of this very container, not any on the node.
        if (status.pod_sandbox_id, status.name) != (record.sandbox_id, container.name):
            raise gone
        entries = [LogEntry(time=cri.to_seconds(line.timestamp), line=line.line) for line in lines]
        running = status.state in (cri.ContainerState.RUNNING, cri.ContainerState.CREATED)
        return PodLogs(
            container=container.name,
            container_id=instance,
            running=running,
            entries=select(entries, request, self.kubelet.clock.now().timestamp()),
        )
