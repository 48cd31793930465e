"""Syncing one pod: bring the runtime to what the pod asks for, then report its status. Level-triggered.

``PodSyncer.sync(pod, record)`` reads the runtime's current state of the pod's sandbox and containers and
takes the next steps — admit, sandbox, pull, create, start, restart after back-off, run due probes — and
returns when it next wants to be called (a back-off or probe deadline), whatever woke it. The steps of a
container are Kubernetes' (``kuberuntime_manager.SyncPod``): sandbox → pull → create → start, init
containers one at a time and to completion before the app containers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.kubelet import events as ev
from services.kubelet.admission import REJECTED_PREFIX, AdmitResult
from services.kubelet.ipam import PodIPAllocator
from services.kubelet.podstatus import PodNetwork, compute_status, rejected_status
from services.kubelet.probes import ContainerProbes
from services.kubelet.records import ContainerRecord, PodRecord
from services.kubelet.statusmanager import StatusManager
from services.runtime import api as cri
from shared.clock import Clock
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import RESOURCE_CPU, RESOURCE_MEMORY, Container, Pod, PodStatus, Quantity

log = get_logger("kubelet.pods")

PULL_RETRY = 10.0
Admit = Callable[[Pod, PodRecord], AdmitResult]


def container_resources(container: Container) -> cri.ContainerResources:
    requests, limits = container.resources.requests, container.resources.limits

    def milli(q: Quantity | None) -> int:
        return q.milli_value() if q is not None else 0

    def whole(q: Quantity | None) -> int:
        return q.value() if q is not None else 0

    return cri.ContainerResources(
        cpu_request_millis=milli(requests.get(RESOURCE_CPU)),
        cpu_limit_millis=milli(limits.get(RESOURCE_CPU)),
        memory_request_bytes=whole(requests.get(RESOURCE_MEMORY)),
        memory_limit_bytes=whole(limits.get(RESOURCE_MEMORY)),
    )


def should_restart(record: ContainerRecord, restart_policy: str, exit_code: int | None) -> bool:
    """Kubernetes' rule: Always restarts every exit, OnFailure non-zero ones, Never none. An init
    container that succeeded is done; one that failed is retried unless the policy is Never."""
    if record.init:
        return exit_code != 0 and restart_policy != "Never"
    if restart_policy == "Always":
        return True
    return restart_policy == "OnFailure" and exit_code != 0


def _kept_exit(container: ContainerRecord, found: cri.ContainerStatus) -> bool:
    """``found`` is the exited instance kept for ``--previous`` logs, not one to adopt as current."""
    return container.last_exit is not None and container.last_exit.id == found.id


@dataclass
class PodSyncer:
    node: str
    host_ip: str
    runtime: cri.RuntimeClient
    clock: Clock
    ipam: PodIPAllocator
    statuses: StatusManager
    admit: Admit
    events: ev.EventRecorder

    # --- the sync ------------------------------------------------------------------------------------

    async def sync(self, pod: Pod, record: PodRecord) -> float | None:
        """One pass over a live (not terminating) pod; returns the monotonic time to sync again, or None."""
        if record.admitted is None:
            verdict = self.admit(pod, record)
            record.admitted = verdict.admitted
            if not verdict.admitted:
                record.terminal = True
                log.info("pod rejected", pod=record.key, reason=verdict.reason)
                self.events.event(_pod_ref(record), ev.WARNING, verdict.reason, verdict.message)
                now = self.clock.now()
                status = rejected_status(pod, verdict.reason, REJECTED_PREFIX + verdict.message, now)
                await self.statuses.set(pod, status)
                return None
        if not record.admitted:
            return None
        if pod.status.phase in ("Succeeded", "Failed") and not record.sandbox_id:
            record.terminal = True  # finished before this kubelet knew it: nothing to run
            return None
        await self._ensure_sandbox(pod, record)
        await self._refresh(record)
        if record.terminal:
            await self._stop_all(record, 0)
            await self._report(pod, record)
            return None
        await self._report(pod, record)  # the sandbox and IP show before any pull
        wake = await self._run_containers(pod, record)
        status = await self._report(pod, record)
        if status.phase in ("Succeeded", "Failed"):
            record.terminal = True
            await self.runtime.stop_pod_sandbox(record.sandbox_id)
            return None
        return wake

    def _with_latest_status(self, pod: Pod) -> Pod:
        # Transition times are kept from the status last set, which the informer may not show yet.
        latest = self.statuses.latest(pod)
        return pod if latest is None else pod.model_copy(update={"status": latest})

    async def _report(self, pod: Pod, record: PodRecord) -> PodStatus:
        pod = self._with_latest_status(pod)
        network = PodNetwork(pod_ip=record.ip, host_ip=self.host_ip)
        init = [c.view() for c in record.init]
        main = [c.view() for c in record.main]
        status = compute_status(pod, init, main, network, record.start_time, self.clock.now())
        await self.statuses.set(pod, status)
        return status

    # --- sandbox ---------------------------------------------------------------------------------------

    async def _ensure_sandbox(self, pod: Pod, record: PodRecord) -> None:
        sandboxes = await self.runtime.list_pod_sandboxes()
        mine = next((s for s in sandboxes if s.id == record.sandbox_id), None) if record.sandbox_id else None
        if mine is None:
            # Adopt the pod's sandbox from before a kubelet restart; a stopped one is replaced.
            mine = next((s for s in sandboxes if s.config.uid == record.uid), None)
            for container in record.containers():
                container.forget_current()
            if mine is not None and mine.state == cri.PodSandboxState.NOTREADY and not record.terminal:
                await self.runtime.remove_pod_sandbox(mine.id)
                mine = None
        if mine is not None:
            record.sandbox_id = mine.id
            if mine.config.ip and self.ipam.claim(record.uid, mine.config.ip):
                record.ip = mine.config.ip
            record.ip = record.ip or mine.config.ip
            return
        record.ip = self.ipam.allocate(record.uid)
        config = cri.PodSandboxConfig(
            name=record.name,
            namespace=record.namespace,
            uid=record.uid,
            labels=dict(pod.metadata.labels),
            annotations=dict(pod.metadata.annotations),
            ip=record.ip,
        )
        record.sandbox_id = await self.runtime.run_pod_sandbox(config)
        log.debug("sandbox started", pod=record.key, sandbox=record.sandbox_id, ip=record.ip)

    async def _refresh(self, record: PodRecord) -> None:
        """Read every container of the sandbox; adopt ones this kubelet has no record of."""
        found = await self.runtime.list_containers(record.sandbox_id)
        latest: dict[str, cri.ContainerStatus] = {}
        for status in found:
            if status.name not in latest or status.attempt > latest[status.name].attempt:
                latest[status.name] = status
        by_id = {status.id: status for status in found}
        for container in record.containers():
            if container.container_id and container.container_id in by_id:
                container.current = by_id[container.container_id]
            elif container.container_id:
                container.forget_current()  # lost with the runtime
            elif container.name in latest and not _kept_exit(container, latest[container.name]):
                adopted = latest[container.name]
                container.container_id, container.current = adopted.id, adopted
                container.restart_count = max(container.restart_count, adopted.attempt)
                container.waiting_reason = ""
                started = adopted.started_at
                began = self._monotonic(started) if started is not None else self.clock.monotonic()
                container.probes = ContainerProbes.for_container(container.spec, began)

    def _monotonic(self, unix_nanos: int) -> float:
        """A time the runtime reported (Unix) on this kubelet's monotonic clock, which its timers use."""
        return self.clock.monotonic() - (self.clock.now().timestamp() - cri.to_seconds(unix_nanos))

    # --- containers ------------------------------------------------------------------------------------

    async def _run_containers(self, pod: Pod, record: PodRecord) -> float | None:
        wakes: list[float] = []
        for container in record.init:
            if container.current is not None and container.current.exit_code == 0:
                continue
            wakes.append(await self._step(pod, record, container))
            break
        else:
            for container in record.main:
                wakes.append(await self._step(pod, record, container))
            await self._probe(pod, record, wakes)
        real = [w for w in wakes if w > 0]
        return min(real) if real else None

    async def _step(self, pod: Pod, record: PodRecord, container: ContainerRecord) -> float:
        """Advance one container; returns when it wants another look (0 = no deadline)."""
        now = self.clock.monotonic()
        current = container.current
        if current is None:
            return await self._start_new(pod, record, container, now)
        if current.state == cri.ContainerState.CREATED:
            await self.runtime.start_container(current.id)
            container.current = await self.runtime.container_status(current.id)
            self._container_event(record, container, ev.NORMAL, "Started", "Container started")
            return 0.0
        if current.state != cri.ContainerState.EXITED:
            return 0.0
        # Back-off counts on the wall clock from the exit's Unix time, as Kubernetes' does (finishedAt
        # against now): the runtime's clock is not this kubelet's, only wall-clock time is shared.
        wall_now = self.clock.now().timestamp()
        finished = cri.to_seconds(current.finished_at) if current.finished_at is not None else wall_now
        started = cri.to_seconds(current.started_at) if current.started_at is not None else None
        container.backoff.exited(started, finished)
        if not should_restart(container, pod.spec.restart_policy, current.exit_code):
            container.waiting_reason, container.waiting_message = "", ""
            return 0.0
        if container.backoff.waiting(wall_now):
            if container.last_exit is None or container.last_exit.id != current.id:
                # Once per exit, not per sync: a status write wakes the worker again meanwhile.
                message = ev.backoff_message(container.name, record.name, record.namespace, record.uid)
                self._container_event(record, container, ev.WARNING, "BackOff", message)
            container.waiting_reason = "CrashLoopBackOff"
            container.waiting_message = container.backoff.message(
                container.name, record.name, record.namespace, record.uid
            )
            container.last_exit = current
            return now + (container.backoff.restart_at() - wall_now)
        # Keep the instance that just exited (``kubectl logs --previous``); the one before it goes now,
        # as Kubernetes keeps one dead container per container.
        await self._remove_exited(record, container.name, keep=current.id)
        container.last_exit = current
        container.container_id, container.current = "", None
        container.restart_count += 1
        return await self._start_new(pod, record, container, now)

    async def _remove_exited(self, record: PodRecord, name: str, keep: str) -> None:
        for status in await self.runtime.list_containers(record.sandbox_id):
            if status.name == name and status.id != keep and status.state == cri.ContainerState.EXITED:
                await self.runtime.remove_container(status.id)

    async def _start_new(self, pod: Pod, record: PodRecord, container: ContainerRecord, now: float) -> float:
        if container.retry_at is not None and now < container.retry_at:
            return container.retry_at
        if container.ran_before:
            container.restart_count += 1
            container.ran_before = False
        container.waiting_reason, container.waiting_message = "ContainerCreating", ""
        pulled = await self._pull(record, container)
        if pulled is None:
            container.retry_at = now + PULL_RETRY * container.backoff.policy.scale
            return container.retry_at
        container.image_ref, container.retry_at = pulled.image_ref, None
        config = cri.ContainerConfig(
            name=container.name,
            image=container.spec.image,
            command=list(container.spec.command),
            args=list(container.spec.args),
            resources=container_resources(container.spec),
            attempt=container.restart_count,
            ports=[port.container_port for port in container.spec.ports],
            annotations=dict(pod.metadata.annotations),
        )
        container_id = await self.runtime.create_container(record.sandbox_id, config)
        container.container_id = container_id
        self._container_event(record, container, ev.NORMAL, "Created", "Container created")
        await self.runtime.start_container(container_id)
        container.current = await self.runtime.container_status(container_id)
        self._container_event(record, container, ev.NORMAL, "Started", "Container started")
        container.waiting_reason = ""
        container.probes = ContainerProbes.for_container(container.spec, self.clock.monotonic())
        log.debug("container started", pod=record.key, container=container.name, attempt=config.attempt)
        return container.probes.next_due() or 0.0

    async def _pull(self, record: PodRecord, container: ContainerRecord) -> cri.PullImageReply | None:
        """Pull the container's image, with Kubernetes' events; None when the pull failed."""
        image, pulling = container.spec.image, ev.pulling_message(container.spec.image)
        began, began_wall = self.clock.monotonic(), self.clock.now()
        try:
            pulled = await self.runtime.pull_image(image)
        except ApiError as error:
            if error.code >= 500:
                raise
            container.waiting_reason, container.waiting_message = "ErrImagePull", error.message
            self._container_event(record, container, ev.NORMAL, "Pulling", pulling, began_wall)
            message = ev.pull_failed_message(image, error.message)
            self._container_event(record, container, ev.WARNING, "Failed", message)
            return None
        if not pulled.pulled:
            self._container_event(record, container, ev.NORMAL, "Pulled", ev.present_message(image))
            return pulled
        # Recorded once the runtime says a pull happened, stamped with the time it began.
        self._container_event(record, container, ev.NORMAL, "Pulling", pulling, began_wall)
        took = self.clock.monotonic() - began
        message = ev.pulled_message(image, took, pulled.size)
        self._container_event(record, container, ev.NORMAL, "Pulled", message)
        return pulled

    def _container_event(
        self,
        record: PodRecord,
        container: ContainerRecord,
        event_type: str,
        reason: str,
        message: str,
        at: datetime | None = None,
    ) -> None:
        path = ev.container_path(container.name, container.init)
        involved = ev.Involved("Pod", record.namespace, record.name, record.uid, path)
        self.events.event(involved, event_type, reason, message, at)

    async def _probe(self, pod: Pod, record: PodRecord, wakes: list[float]) -> None:
        """Run the probes that are due; a failed liveness or startup probe kills the container."""
        for container in record.main:
            if container.current is None or container.current.state != cri.ContainerState.RUNNING:
                continue
            for kind in container.probes.due(self.clock.monotonic()):
                try:
                    reply = await self.runtime.probe(container.container_id, kind)
                    success, output = reply.success, reply.message
                except ApiError as error:
                    if error.code >= 500:
                        raise
                    success, output = False, error.message
                if not success:
                    message = ev.probe_failed_message(kind.value, output)
                    self._container_event(record, container, ev.WARNING, "Unhealthy", message)
                if container.probes.record(kind, success, self.clock.monotonic()):
                    log.info("probe failed, killing container", pod=record.key, container=container.name)
                    message = ev.probe_kill_message(container.name, kind.value)
                    self._container_event(record, container, ev.NORMAL, "Killing", message)
                    grace = pod.spec.termination_grace_period_seconds or 0
                    await self.runtime.stop_container(container.container_id, float(grace))
                    container.current = await self.runtime.container_status(container.container_id)
                    wakes.append(self.clock.monotonic())
            due = container.probes.next_due()
            if due is not None:
                wakes.append(due)

    # --- stopping ------------------------------------------------------------------------------------

    async def _stop_all(self, record: PodRecord, grace: float) -> None:
        running = [c for c in record.containers() if c.container_id and c.current is not None]
        running = [
            c for c in running if c.current is not None and c.current.state != cri.ContainerState.EXITED
        ]
        await asyncio.gather(*(self.runtime.stop_container(c.container_id, grace) for c in running))
        if running:
            await self._refresh(record)

    async def terminate(self, pod: Pod, record: PodRecord) -> PodStatus:
        """Stop every container within the pod's grace period and the sandbox; returns the final status."""
        record.deleting = True
        grace = float(pod.metadata.deletion_grace_period_seconds or 0)
        if record.sandbox_id:
            await self._refresh(record)
            for container in record.running():
                message = ev.stopping_message(container.name)
                self._container_event(record, container, ev.NORMAL, "Killing", message)
            await self._stop_all(record, grace)
            await self.runtime.stop_pod_sandbox(record.sandbox_id)
        for container in record.containers():
            if container.current is not None:
                container.waiting_reason = ""
        status = await self._final_status(pod, record)
        await self.statuses.set(pod, status)
        return status

    async def _final_status(self, pod: Pod, record: PodRecord) -> PodStatus:
        """A deleted pod ends Succeeded when every app container exited 0, Failed otherwise (Kubernetes
        1.27+ gives a terminating pod a terminal phase before it goes)."""
        pod = self._with_latest_status(pod)
        network = PodNetwork(pod_ip=record.ip, host_ip=self.host_ip)
        init = [c.view() for c in record.init]
        main = [c.view() for c in record.main]
        status = compute_status(pod, init, main, network, record.start_time, self.clock.now())
        if status.phase not in ("Succeeded", "Failed"):
            status.phase = "Succeeded" if main and all(v.succeeded for v in main) else "Failed"
        return status

    async def remove(self, record: PodRecord) -> None:
        """The pod is gone from the API: remove its sandbox (killing what still runs) and free its IP."""
        if record.sandbox_id:
            await self.runtime.stop_pod_sandbox(record.sandbox_id)
            await self.runtime.remove_pod_sandbox(record.sandbox_id)
        self.ipam.release(record.uid)


def _pod_ref(record: PodRecord) -> ev.Involved:
    return ev.Involved("Pod", record.namespace, record.name, record.uid)
