"""The API server's client of the kubelets: a node's stats and its pods' logs, on the node's own subjects.

Kubernetes' API server dials the kubelet's HTTPS port; here it asks ``node.<node>.stats`` and
``node.<node>.logs`` over NATS. A kubelet that does not answer is an error the caller decides about:
metrics leave that node out, a log request fails with 503 (nothing answers) or 504 (no answer in time).
"""

from __future__ import annotations

from nats.aio.client import Client

from services.kubelet.stats import NodeStats
from shared import bus, subjects
from shared.errors import ApiError
from shared.podlogs import NodeLogsRequest, PodLogs

STATS_TIMEOUT = 2.0
LOGS_TIMEOUT = 5.0


class KubeletClient:
    def __init__(
        self, nc: Client, *, stats_timeout: float = STATS_TIMEOUT, logs_timeout: float = LOGS_TIMEOUT
    ):
        self.nc = nc
        self.stats_timeout = stats_timeout
        self.logs_timeout = logs_timeout

    async def stats(self, node: str) -> NodeStats:
        reply = await bus.request(self.nc, subjects.node_stats(node), {}, timeout=self.stats_timeout)
        return NodeStats.model_validate(reply)

    async def logs(self, node: str, request: NodeLogsRequest) -> PodLogs:
        subject = subjects.node_pod_logs(node)
        try:
            reply = await bus.request(self.nc, subject, request, timeout=self.logs_timeout)
        except ApiError as error:
            if error.code == 503 and error.message.startswith("no responders"):
                raise ApiError(
                    503,
                    f'the kubelet of node "{node}" is not answering on {subject}',
                    reason="ServiceUnavailable",
                ) from None
            raise
        return PodLogs.model_validate(reply)
