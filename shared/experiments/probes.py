"""Asking the steady-state probes: each answers (passed, why) from outside the cluster, as a client would.

A probe never raises: an unreachable component is a failed probe with the error as its reason. Every
request has a short timeout, so one round of probes takes about a second at worst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.etcd.client.api import EtcdError
from shared import bus, subjects
from shared.apiclient import resource
from shared.errors import ApiError
from shared.experiments.cluster import ClusterHandle
from shared.experiments.probe_specs import (
    ApiAnswers,
    DeploymentReady,
    EtcdHasLeader,
    KvWritesSucceed,
    LeaderElected,
    NodesReady,
    PodReady,
    Probe,
    ProcessesRunning,
    ServiceAnswers,
)
from shared.leaderelection import replica_of

DEPLOYMENTS = resource("apps", "v1", "deployments")
NODES = resource("", "v1", "nodes")
PODS = resource("", "v1", "pods")
NAMESPACES = resource("", "v1", "namespaces")
LEASES = resource("coordination.k8s.io", "v1", "leases")
LEADER_LEASE = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}
PROBE_KEY = "/kubenats-experiments/probe"
Answer = tuple[bool, str]
Saved = Mapping[str, list[str]]


def node_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def deployment_ready(deployment: dict[str, Any], replicas: int) -> Answer:
    ready = int(deployment.get("status", {}).get("readyReplicas") or 0)
    return ready >= replicas, f"{ready} ready of {replicas} wanted"


def pod_ready(pod: dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def ready_elsewhere(pods: Sequence[dict[str, Any]], node: str, replicas: int) -> Answer:
    """Whether ``replicas`` of ``pods`` are ready on nodes other than ``node``."""
    ready = sum(1 for p in pods if pod_ready(p) and p.get("spec", {}).get("nodeName") != node)
    return ready >= replicas, f"{ready} ready off {node} of {replicas} wanted"


async def _etcd_leader(handle: ClusterHandle) -> Answer:
    status = await handle.quick_etcd(1.0).status()
    leader = next((m.name for m in status.members if m.id == status.leader), None)
    return (True, f"leader {leader}") if leader else (False, "no leader")


async def _kv_write(handle: ClusterHandle, probe: KvWritesSucceed) -> Answer:
    started = time.monotonic()
    await handle.quick_etcd(probe.timeout).put(PROBE_KEY, str(time.time()))
    return True, f"acknowledged in {(time.monotonic() - started) * 1000:.0f} ms"


def lease_holder(lease: dict[str, Any], now: datetime) -> str:
    """The Lease's holder while its last renewal is younger than its duration, else ''.

    Both times are wall-clock; the experiment runs on the machine the components run on, so they agree."""
    spec = lease.get("spec", {})
    holder, renewed = str(spec.get("holderIdentity") or ""), spec.get("renewTime")
    if not holder or not renewed:
        return ""
    age = (now - datetime.fromisoformat(str(renewed).replace("Z", "+00:00"))).total_seconds()
    return holder if age <= float(spec.get("leaseDurationSeconds") or 0) else ""


async def _api(handle: ClusterHandle, probe: ApiAnswers) -> Answer:
    if handle.api is None:
        return False, "no API server in this cluster"
    started = time.monotonic()
    await asyncio.wait_for(handle.api.get(NAMESPACES, "default"), probe.timeout)
    return True, f"answered in {(time.monotonic() - started) * 1000:.0f} ms"


async def _leader(handle: ClusterHandle, probe: LeaderElected, saved: Saved) -> Answer:
    if handle.api is None:
        return False, "no API server in this cluster"
    lease = await handle.api.get(LEASES, LEADER_LEASE[probe.component], "kube-system")
    holder = lease_holder(lease, datetime.now(UTC))
    if not holder:
        return False, "nobody holds a fresh lease"
    excluded = {
        name.removesuffix(f"-{probe.component}") for name in saved.get((probe.not_held_by or "$")[1:], [])
    }
    if replica_of(holder) in excluded:
        return False, f"still held by {holder}"
    return True, f"held by {holder}"


async def _deployment(handle: ClusterHandle, probe: DeploymentReady) -> Answer:
    if handle.api is None:
        return False, "no API server in this cluster"
    found = await handle.api.get(DEPLOYMENTS, probe.name, probe.namespace)
    if probe.not_on_node is None:
        return deployment_ready(found, probe.replicas)
    labels = found.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    pods = (await handle.api.list(PODS, probe.namespace, label_selector=selector))["items"]
    return ready_elsewhere(pods, probe.not_on_node, probe.replicas)


def pod_ready_after(pod: dict[str, Any], min_restarts: int) -> Answer:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    ready = pod_ready(pod)
    return ready and restarts >= min_restarts, f"{'ready' if ready else 'not ready'}, {restarts} restarts"


async def _pod(handle: ClusterHandle, probe: PodReady) -> Answer:
    if handle.api is None:
        return False, "no API server in this cluster"
    return pod_ready_after(await handle.api.get(PODS, probe.name, probe.namespace), probe.min_restarts)


async def _service(handle: ClusterHandle, probe: ServiceAnswers) -> Answer:
    subject = subjects.service(probe.namespace, probe.name)

    async def one() -> bool:
        try:
            await bus.request(handle.nc, subject, b"", timeout=probe.timeout)
        except ApiError:
            return False
        return True

    answered = sum(await asyncio.gather(*(one() for _ in range(probe.requests))))
    ratio = answered / probe.requests
    return ratio >= probe.ratio, f"{answered}/{probe.requests} answered"


async def _nodes(handle: ClusterHandle, probe: NodesReady) -> Answer:
    if handle.api is None:
        return False, "no API server in this cluster"
    nodes = (await handle.api.list(NODES))["items"]
    not_ready = sorted(n["metadata"]["name"] for n in nodes if not node_ready(n))
    if not_ready:
        return False, f"not Ready: {', '.join(not_ready)}"
    if probe.count is not None and len(nodes) < probe.count:
        return False, f"{len(nodes)} nodes, {probe.count} wanted"
    return True, f"{len(nodes)} Ready"


async def _processes(handle: ClusterHandle) -> Answer:
    processes = await asyncio.to_thread(handle.control.processes)
    down = sorted(f"{p.name} {p.state}" for p in processes if not p.running)
    return (False, "; ".join(down)) if down else (True, f"{len(processes)} RUNNING")


async def _dispatch(handle: ClusterHandle, probe: Probe, saved: Saved) -> Answer:
    match probe:
        case EtcdHasLeader():
            return await _etcd_leader(handle)
        case KvWritesSucceed():
            return await _kv_write(handle, probe)
        case ApiAnswers():
            return await _api(handle, probe)
        case LeaderElected():
            return await _leader(handle, probe, saved)
        case DeploymentReady():
            return await _deployment(handle, probe)
        case PodReady():
            return await _pod(handle, probe)
        case ServiceAnswers():
            return await _service(handle, probe)
        case NodesReady():
            return await _nodes(handle, probe)
        case ProcessesRunning():
            return await _processes(handle)
    raise TypeError(f"not a probe: {probe!r}")


async def ask(handle: ClusterHandle, probe: Probe, saved: Saved | None = None) -> Answer:
    """Whether ``probe`` passes now, and why; errors of any component are a failed probe. ``saved`` holds
    the programs actions saved (``save_as``), for probes that refer to them."""
    try:
        return await _dispatch(handle, probe, saved or {})
    except (EtcdError, ApiError) as error:
        return False, f"{error.code}: {error.message}"
    except (OSError, TimeoutError) as error:
        return False, f"{type(error).__name__}: {error}"


async def ask_all(
    handle: ClusterHandle, probes: Sequence[Probe], saved: Saved | None = None
) -> list[tuple[Probe, bool, str]]:
    answers = await asyncio.gather(*(ask(handle, probe, saved) for probe in probes))
    return [(probe, ok, why) for probe, (ok, why) in zip(probes, answers, strict=True)]


async def wait_steady(
    handle: ClusterHandle,
    probes: Sequence[Probe],
    timeout: float,
    interval: float = 0.5,
    saved: Saved | None = None,
) -> tuple[bool, float, list[tuple[Probe, bool, str]]]:
    """Ask every probe until all pass or ``timeout`` passes: (held, seconds waited, last answers)."""
    started = time.monotonic()
    while True:
        answers = await ask_all(handle, probes, saved)
        waited = time.monotonic() - started
        if all(ok for _, ok, _ in answers) or waited >= timeout:
            return all(ok for _, ok, _ in answers), waited, answers
        await asyncio.sleep(interval)
