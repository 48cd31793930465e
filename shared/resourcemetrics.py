"""The resource metrics API (``metrics.k8s.io/v1beta1``) as server and clients share it: types and units.

``NodeMetrics`` and ``PodMetrics`` are read-only resources the API server computes from the kubelets'
stats (``services/apiserver/metrics.py``); over NATS they are ``api.metrics.v1beta1.nodes.list`` and
``api.metrics.v1beta1.pods.list`` (and ``get``). Quantities are written as metrics-server writes them:
CPU in nanocores (``12345678n``), memory in KiB (``65536Ki``).
"""

from __future__ import annotations

from typing import Final

from shared.models import KubeObject, ResourceType

METRICS_GROUP: Final = "metrics.k8s.io"
METRICS_VERSION: Final = "v1beta1"
NODE_METRICS: Final = ResourceType(METRICS_GROUP, METRICS_VERSION, "NodeMetrics", "nodes", False, KubeObject)
POD_METRICS: Final = ResourceType(METRICS_GROUP, METRICS_VERSION, "PodMetrics", "pods", True, KubeObject)
METRICS_RESOURCES: Final = (NODE_METRICS, POD_METRICS)
METRICS_VERBS: Final = ("get", "list")


def cpu_quantity(millicores: float) -> str:
    return f"{round(millicores * 1_000_000)}n"


def memory_quantity(octets: int) -> str:
    return f"{octets // 1024}Ki"
