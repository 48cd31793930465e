"""A synthetic cluster for the scheduler: seeded, varied nodes and pods as API objects, and a replay of
the scheduler's core (framework + cache, no bus) that records every decision.

The nodes differ in size and carry zones, disk types, NoSchedule and PreferNoSchedule taints, and some are
cordoned; the pods differ in requests (some none), and use tolerations, nodeSelector, required and
preferred node affinity and topology spread over hostname and zone, so that every filter and score plugin
takes part. ``bench/scheduler_cycle.py`` times the replay; the decision-pinning test checks its outcome.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from services.scheduler.cache import SchedulerCache
from services.scheduler.config import SchedulerConfiguration
from services.scheduler.framework import CycleState
from services.scheduler.nodeinfo import PodInfo
from services.scheduler.plugins.registry import Handle
from services.scheduler.runtime import FitError, Framework
from shared.models import Node

Object = dict[str, Any]
ZONES = ("zone-a", "zone-b", "zone-c")


def synthetic_node(index: int, rng: random.Random) -> Object:
    name = f"node-{index:05d}"
    cpu, memory = rng.choice(((4, 8), (8, 32), (16, 64), (32, 128)))
    labels = {
        "kubernetes.io/hostname": name,
        "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
        "disktype": rng.choice(("ssd", "hdd")),
    }
    taints: list[Object] = []
    roll = rng.random()
    if roll < 0.08:
        taints.append({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
    elif roll < 0.25:
        taints.append({"key": "spot", "value": "true", "effect": "PreferNoSchedule"})
    allocatable = {"cpu": str(cpu), "memory": f"{memory}Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints, "unschedulable": rng.random() < 0.04},
        "status": {"capacity": allocatable, "allocatable": allocatable},
    }


def _pod_spec(index: int, rng: random.Random) -> tuple[Object, dict[str, str]]:
    app = f"app-{index % 7}"
    spec: Object = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}
    if rng.random() < 0.9:
        cpu_m, memory_mi = rng.choice((100, 250, 500, 1000, 2000)), rng.choice((128, 256, 512, 2048))
        spec["containers"][0]["resources"] = {"requests": {"cpu": f"{cpu_m}m", "memory": f"{memory_mi}Mi"}}
    if rng.random() < 0.15:
        spec["tolerations"] = [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
        ]
    if rng.random() < 0.1:
        spec["tolerations"] = [*spec.get("tolerations", []), {"key": "spot", "operator": "Exists"}]
    if rng.random() < 0.1:
        spec["nodeSelector"] = {"disktype": "ssd"}
    affinity: Object = {}
    if rng.random() < 0.1:
        zones = rng.sample(ZONES, 2)
        expression = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": zones}
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [{"matchExpressions": [expression]}]
        }
    if rng.random() < 0.2:
        preference = {"matchExpressions": [{"key": "disktype", "operator": "In", "values": ["ssd"]}]}
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 10, "preference": preference}
        ]
    if affinity:
        spec["affinity"] = {"nodeAffinity": affinity}
    constraints = []
    if rng.random() < 0.15:
        constraints.append(
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": app}},
            }
        )
    if rng.random() < 0.15:
        constraints.append(
            {
                "maxSkew": 2,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": app}},
            }
        )
    if constraints:
        spec["topologySpreadConstraints"] = constraints
    return spec, {"app": app}


def synthetic_pod(index: int, rng: random.Random) -> Object:
    spec, labels = _pod_spec(index, rng)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"pod-{index:05d}",
            "namespace": "default",
            "uid": f"uid-{index}",
            "labels": labels,
        },
        "spec": spec,
    }


def synthetic_cluster(nodes: int, pods: int, seed: int) -> tuple[list[Object], list[Object]]:
    rng = random.Random(seed)
    return [synthetic_node(i, rng) for i in range(nodes)], [synthetic_pod(i, rng) for i in range(pods)]


def default_framework(seed: int) -> Framework:
    return Framework.from_config(SchedulerConfiguration(), Handle(), random.Random(seed))


def load_cache(nodes: list[Object]) -> SchedulerCache:
    cache = SchedulerCache()
    for obj in nodes:
        cache.set_node(Node.model_validate(obj))
    return cache


def replay(
    framework: Framework,
    cache: SchedulerCache,
    pods: list[PodInfo],
    on_cycle: Callable[[], None] | None = None,
) -> list[str]:
    """Schedule ``pods`` one after another as the scheduler loop does (decide, then assume onto the
    chosen node); one line per pod: ``pod -> node`` or ``pod !! FailedScheduling message``."""
    lines = []
    for pod in pods:
        try:
            result = framework.schedule(pod, cache.snapshot(), CycleState())
        except FitError as failure:
            lines.append(f"{pod.key} !! {failure}")
        else:
            cache.assume(pod, result.node)
            lines.append(f"{pod.key} -> {result.node}")
        if on_cycle is not None:
            on_cycle()
    return lines


def checksum(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
