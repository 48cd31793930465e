"""Watching the cluster during an experiment: every change worth a timeline line, stamped when seen.

Each source is polled in a task of its own (a request that hangs on a dead replica holds up only its
source): the etcd leader, the leader Leases, Nodes (Ready and taints), pods (phase, created, deleted,
container restarts and back-off) and supervisord's programs. Polling rather than watching keeps the
observer simple and alive through the very faults it observes; its resolution is the poll interval. The
pure ``diff_*`` functions say what changed between two observations. Every container attempt seen is also
kept (:attr:`Watcher.attempts`), for judging the restart back-off afterwards. The pods of the pod-creation
load are left out: they are the load, not the cluster reacting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from shared.apiclient import resource
from shared.experiments.cluster import ClusterHandle
from shared.experiments.podload import NAMESPACE_PREFIX
from shared.experiments.probes import LEASES, lease_holder, node_ready
from shared.experiments.records import Recording, Source
from shared.experiments.restarts import Attempt, attempts_of, merge
from shared.experiments.tasks import Tasks

NODES = resource("", "v1", "nodes")
PODS = resource("", "v1", "pods")
WATCHED_LEASES = {"kube-scheduler": "scheduler", "kube-controller-manager": "controller-manager"}

Change = tuple[str, bool]
"""A timeline line and whether it is the cluster reacting."""


def diff_leader(before: str | None, after: str, what: str) -> list[Change]:
    """``before`` is None on the first observation (not a change), '' when nobody led."""
    if before is None or before == after:
        return []
    return [(f"{what} leader {after}" if after else f"{what} has no leader", True)]


def node_view(node: dict[str, Any]) -> tuple[bool, frozenset[str]]:
    taints = node.get("spec", {}).get("taints") or []
    return node_ready(node), frozenset(f"{t.get('key')}:{t.get('effect')}" for t in taints)


def diff_nodes(
    before: Mapping[str, tuple[bool, frozenset[str]]] | None, after: Mapping[str, tuple[bool, frozenset[str]]]
) -> list[Change]:
    if before is None:
        return []
    changes: list[Change] = []
    for name, (ready, taints) in sorted(after.items()):
        old = before.get(name)
        if old is None:
            changes.append((f"node {name} registered", True))
            continue
        if old[0] != ready:
            changes.append((f"node {name} {'Ready' if ready else 'NotReady'}", True))
        changes += [(f"node {name} tainted {t}", True) for t in sorted(taints - old[1])]
        changes += [(f"node {name} untainted {t}", True) for t in sorted(old[1] - taints)]
    changes += [(f"node {name} deleted", True) for name in sorted(set(before) - set(after))]
    return changes


def attempt_key(namespace: str, pod: str, uid: str, container: str) -> str:
    """Whose attempts: ``namespace/pod/container@uid``. The pod's uid tells apart two pods of one name (a
    pod deleted and created again restarts its count from 0); the name comes first, so a prefix
    ``namespace/pod/`` still finds every incarnation."""
    return f"{namespace}/{pod}/{container}@{uid}"


def record_attempts(attempts: dict[str, dict[int, Attempt]], pod: Mapping[str, Any]) -> None:
    """Fold the container attempts one look at ``pod`` tells of into ``attempts``."""
    meta = pod.get("metadata", {})
    namespace, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
    for status in pod.get("status", {}).get("containerStatuses") or []:
        key = attempt_key(namespace, name, uid, str(status.get("name", "")))
        merge(attempts.setdefault(key, {}), attempts_of(status))


class ContainerView(NamedTuple):
    name: str
    restarts: int = 0
    waiting: str = ""
    """The waiting reason and, for a back-off, its length: ``CrashLoopBackOff (back-off 10s)``."""


class PodView(NamedTuple):
    phase: str
    containers: tuple[ContainerView, ...] = ()


def container_view(status: dict[str, Any]) -> ContainerView:
    waiting = (status.get("state") or {}).get("waiting") or {}
    reason, message = str(waiting.get("reason") or ""), str(waiting.get("message") or "")
    if reason and message.startswith("back-off "):
        reason += f" ({message.split(' restarting', 1)[0]})"
    return ContainerView(str(status.get("name", "")), int(status.get("restartCount") or 0), reason)


def pod_view(pod: dict[str, Any]) -> PodView:
    status = pod.get("status", {})
    containers = tuple(container_view(c) for c in status.get("containerStatuses") or [])
    return PodView(str(status.get("phase", "")), containers)


def _diff_containers(name: str, before: PodView, after: PodView) -> list[Change]:
    old = {c.name: c for c in before.containers}
    changes: list[Change] = []
    for container in after.containers:
        was = old.get(container.name, ContainerView(container.name))
        where = f"pod {name} container {container.name}"
        if container.restarts > was.restarts:
            changes.append((f"{where} restarted (restart {container.restarts})", True))
        if container.waiting and container.waiting != was.waiting:
            changes.append((f"{where} waiting: {container.waiting}", True))
    return changes


def diff_pods(before: Mapping[str, PodView] | None, after: Mapping[str, PodView]) -> list[Change]:
    """Pods by ``namespace/name``: created, phase changes, container restarts and waits, deleted."""
    if before is None:
        return []
    changes: list[Change] = []
    for name, view in sorted(after.items()):
        old = before.get(name)
        if old is None:
            changes.append((f"pod {name} created ({view.phase})", True))
            continue
        if old.phase != view.phase:
            changes.append((f"pod {name} {view.phase}", True))
        changes += _diff_containers(name, old, view)
    changes += [(f"pod {name} deleted", True) for name in sorted(set(before) - set(after))]
    return changes


def diff_processes(
    before: Mapping[str, tuple[str, int]] | None, after: Mapping[str, tuple[str, int]]
) -> list[Change]:
    """Programs → (state, pid). supervisord's own moves are not the cluster reacting, so no reactions."""
    if before is None:
        return []
    changes: list[Change] = []
    for name, (state, pid) in sorted(after.items()):
        old = before.get(name)
        if old is not None and old[0] != state:
            changes.append((f"{name} {state}" + (f" (pid {pid})" if pid else ""), False))
    return changes


class Watcher:
    def __init__(self, handle: ClusterHandle, recording: Recording, interval: float = 0.25) -> None:
        self.handle = handle
        self.recording = recording
        self.interval = interval
        self.attempts: dict[str, dict[int, Attempt]] = {}
        """Container attempts by :func:`attempt_key` (``namespace/pod/container@uid``), then by number."""
        self._tasks = Tasks()

    def start(self) -> None:
        sources: list[tuple[Source, Callable[[], Awaitable[Any]], Callable[[Any, Any], list[Change]]]] = [
            ("etcd", self._etcd_leader, lambda b, a: diff_leader(b, a, "etcd")),
            ("process", self._processes, diff_processes),
        ]
        if self.handle.api is not None:
            for lease, component in WATCHED_LEASES.items():
                if self.handle.runs(component):
                    sources.append(("lease", self._holder(lease), self._lease_diff(component)))
            sources.append(("node", self._nodes, diff_nodes))
            sources.append(("pod", self._pods, diff_pods))
        for source in sources:
            self._tasks.start(self._poll(*source))

    async def stop(self) -> None:
        await self._tasks.stop()

    @staticmethod
    def _lease_diff(component: str) -> Callable[[Any, Any], list[Change]]:
        return lambda before, after: diff_leader(before, after, component)

    async def _poll(
        self, source: Source, observe: Callable[[], Awaitable[Any]], diff: Callable[[Any, Any], list[Change]]
    ) -> None:
        last: Any = None
        while not self._tasks.stopping.is_set():
            try:
                now = await observe()
            except Exception:  # an unreachable source is itself part of the fault: look again shortly
                now = last
            else:
                for text, reaction in diff(last, now):
                    self.recording.event(source, text, reaction=reaction)
            last = now
            await self._tasks.sleep(self.interval)

    async def _etcd_leader(self) -> str:
        status = await self.handle.quick_etcd(1.0).status()
        return next((m.name for m in status.members if m.id == status.leader), "")

    def _holder(self, lease: str) -> Callable[[], Awaitable[str]]:
        async def observe() -> str:
            assert self.handle.api is not None
            return lease_holder(await self.handle.api.get(LEASES, lease, "kube-system"), datetime.now(UTC))

        return observe

    async def _nodes(self) -> dict[str, tuple[bool, frozenset[str]]]:
        assert self.handle.api is not None
        return {n["metadata"]["name"]: node_view(n) for n in (await self.handle.api.list(NODES))["items"]}

    async def _pods(self) -> dict[str, PodView]:
        assert self.handle.api is not None
        views = {}
        for pod in (await self.handle.api.list(PODS))["items"]:
            namespace, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
            if namespace.startswith(NAMESPACE_PREFIX):
                continue
            views[f"{namespace}/{name}"] = pod_view(pod)
            record_attempts(self.attempts, pod)
        return views

    async def _processes(self) -> dict[str, tuple[str, int]]:
        processes = await asyncio.to_thread(self.handle.control.processes)
        return {p.name: (p.state, p.pid) for p in processes}
