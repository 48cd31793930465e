"""The resource metrics API (``metrics.k8s.io/v1beta1``): NodeMetrics and PodMetrics, computed on request.

What metrics-server serves, served here by the API server itself: nothing is stored, every read asks the
kubelets (``node.<node>.stats``) of the Nodes the API server knows, at once, and a node that does not
answer in time is left out, as metrics-server leaves out a node it could not scrape. The resources are
read-only (``get`` and ``list``), kept apart from the registry's stored resources on purpose: they have
no resourceVersion, no watch and no writes. The types and units are in :mod:`shared.resourcemetrics`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from services.apiserver.kubelets import KubeletClient
from services.apiserver.objects import Object, rfc3339
from services.apiserver.registry import Registry
from services.kubelet.stats import NodeStats, PodUsage
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import ResourceType, resource_for_plural
from shared.resourcemetrics import (
    METRICS_RESOURCES,
    METRICS_VERBS,
    NODE_METRICS,
    POD_METRICS,
    cpu_quantity,
    memory_quantity,
)

log = get_logger(__name__)

WINDOW = "10s"
"""The window usage is measured over, as metrics-server reports it (the kubelet's stats are instant)."""


def _core(plural: str) -> ResourceType:
    rt = resource_for_plural("", "v1", plural)
    if rt is None:
        raise LookupError(f"no core resource {plural}")
    return rt


_NODES = _core("nodes")
_PODS = _core("pods")


__all__ = ["METRICS_RESOURCES", "METRICS_VERBS", "MetricsSource", "node_metrics", "pod_metrics"]


def _metadata(obj: Object, time: str) -> Object:
    meta = obj.get("metadata", {})
    shown: Object = {"name": meta.get("name", ""), "creationTimestamp": time}
    if meta.get("namespace"):
        shown["namespace"] = meta["namespace"]
    if meta.get("labels"):
        shown["labels"] = meta["labels"]
    return shown


def node_metrics(node: Object, stats: NodeStats) -> Object:
    time = rfc3339(stats.time)
    return {
        "kind": "NodeMetrics",
        "apiVersion": NODE_METRICS.api_version,
        "metadata": _metadata(node, time),
        "timestamp": time,
        "window": WINDOW,
        "usage": {"cpu": cpu_quantity(stats.cpu.usage), "memory": memory_quantity(int(stats.memory.usage))},
    }


def pod_metrics(pod: Object, usage: PodUsage, stats: NodeStats) -> Object:
    time = rfc3339(stats.time)
    return {
        "kind": "PodMetrics",
        "apiVersion": POD_METRICS.api_version,
        "metadata": _metadata(pod, time),
        "timestamp": time,
        "window": WINDOW,
        "containers": [
            {"name": c.name, "usage": {"cpu": cpu_quantity(c.cpu), "memory": memory_quantity(c.memory)}}
            for c in usage.containers
        ],
    }


def metrics_list(rt: ResourceType, items: list[Object]) -> Object:
    return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {}, "items": items}


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        404, f'{rt.kind.lower()}.{rt.group} "{name}" not found', reason="NotFound", details={"name": name}
    )


class MetricsSource:
    """Answers ``get`` and ``list`` on the metrics resources from the kubelets' stats."""

    def __init__(self, registry: Registry, kubelets: KubeletClient | None) -> None:
        self.registry = registry
        self.kubelets = kubelets

    async def serve(
        self, rt: ResourceType, verb: str, namespace: str, name: str, label_selector: str
    ) -> Object:
        if verb not in METRICS_VERBS:
            raise ApiError(
                405, f'verb "{verb}" is not served on {rt.plural}.{rt.group}', reason="MethodNotAllowed"
            )
        if self.kubelets is None:
            raise ApiError(
                503, "this API server has no connection to the kubelets", reason="ServiceUnavailable"
            )
        selector = f"metadata.name={name}" if verb == "get" else ""
        if rt is NODE_METRICS:
            items = await self._nodes(label_selector, selector)
        else:
            items = await self._pods(namespace if rt.namespaced else "", label_selector, selector)
        if verb == "get":
            if not items:
                raise not_found(rt, name)
            return items[0]
        return metrics_list(rt, items)

    async def _nodes(self, label_selector: str, field_selector: str) -> list[Object]:
        nodes = (
            await self.registry.list(_NODES, "", label_selector=label_selector, field_selector=field_selector)
        )["items"]
        stats = await self._stats(n["metadata"]["name"] for n in nodes)
        return [
            node_metrics(n, stats[n["metadata"]["name"]]) for n in nodes if n["metadata"]["name"] in stats
        ]

    async def _pods(self, namespace: str, label_selector: str, field_selector: str) -> list[Object]:
        listed = await self.registry.list(
            _PODS, namespace, label_selector=label_selector, field_selector=field_selector
        )
        pods = {
            (p["metadata"].get("namespace", ""), p["metadata"]["name"], p["metadata"].get("uid", "")): p
            for p in listed["items"]
            if (p.get("spec") or {}).get("nodeName")
        }
        stats = await self._stats({p["spec"]["nodeName"] for p in pods.values()})
        items = []
        for node_stats in stats.values():
            for usage in node_stats.pod_stats:
                pod = pods.get((usage.namespace, usage.name, usage.uid))
                if pod is not None:
                    items.append(pod_metrics(pod, usage, node_stats))
        return sorted(items, key=lambda m: (m["metadata"].get("namespace", ""), m["metadata"]["name"]))

    async def _stats(self, nodes: Iterable[str]) -> dict[str, NodeStats]:
        """Each node's stats, asked all at once; a node that fails to answer is left out."""
        assert self.kubelets is not None
        names = sorted(set(nodes))
        answers = await asyncio.gather(*(self.kubelets.stats(n) for n in names), return_exceptions=True)
        found: dict[str, NodeStats] = {}
        for node, answer in zip(names, answers, strict=True):
            if isinstance(answer, NodeStats):
                found[node] = answer
            else:
                log.debug("node left out of metrics", node=node, error=repr(answer))
        return found
