"""kube-proxy for one node: Service requests in, forwarded to a pod endpoint, replies relayed back.

A request for Service ``<ns>/<name>`` arrives on ``node.<node>.svc.<ns>.<name>`` (made on this node) or on
``svc.<ns>.<name>`` (from outside the cluster, served by every node's proxy in the queue group ``proxy``).
The proxy picks an endpoint with :class:`~services.proxy.endpoints.ServiceTable` — this node's ready pods
first — and forwards the request unchanged to the pod's address ``pod.<ip>.<port>``; the pod's reply (or
error) goes back to the caller as it is. The header ``Service-Port`` names the Service port (name or
number; the first port by default). A request that no endpoint can take gets a 503 ``Status``.

Services and EndpointSlices come from informers, so an endpoint stops receiving requests as soon as its
slice marks it not ready or drops it. An endpoint whose pod has gone (no responder) costs no error: the
request, never delivered, goes to another endpoint once.
"""

from __future__ import annotations

import asyncio
import json
import time

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER
from pydantic import BaseModel

from services.proxy.endpoints import Endpoint, NoEndpointsError, ServiceTable
from services.proxy.metrics import ProxyMetrics, ProxyStats
from shared import subjects
from shared.apiclient import ApiClient, resource
from shared.bus import MicroService, RequestContext
from shared.errors import ApiError
from shared.informer import Informer
from shared.logging import get_logger

log = get_logger(__name__)

SERVICES = resource("", "v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io", "v1", "endpointslices")


class StatsRequest(BaseModel):
    pass


class KubeProxy:
    def __init__(self, nc: Client, client: ApiClient, node: str, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.node = node
        self.timeout = timeout
        self.table = ServiceTable(node)
        self.metrics = ProxyMetrics(node)
        self.services = Informer(client, SERVICES)
        self.slices = Informer(client, ENDPOINT_SLICES)
        self.services.add_handler(
            on_add=self.table.set_service,
            on_update=lambda _old, new: self.table.set_service(new),
            on_delete=self.table.remove_service,
        )
        self.slices.add_handler(
            on_add=self.table.set_slice,
            on_update=lambda _old, new: self.table.set_slice(new),
            on_delete=self.table.remove_slice,
        )
        self.micro = MicroService(nc, "proxy", description="kube-proxy", metadata={"node": node})
        self.micro.add_endpoint("stats", subjects.node_proxy_stats(node), StatsRequest, self._stats)
        self._subscriptions: list[Subscription] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self, sync_timeout: float = 30.0) -> None:
        await self.services.start()
        await self.slices.start()
        if not (
            await self.services.wait_for_sync(sync_timeout) and await self.slices.wait_for_sync(sync_timeout)
        ):
            raise TimeoutError("services and endpointslices did not sync")
        self._subscriptions = [
            await self.nc.subscribe(subjects.node_services(self.node), cb=self._on_message),
            await self.nc.subscribe(subjects.service_all(), queue=subjects.PROXY_QUEUE, cb=self._on_message),
        ]
        await self.micro.start()

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self.timeout)
        await self.micro.stop()
        await self.slices.stop()
        await self.services.stop()

    async def _stats(self, _request: StatsRequest, _context: RequestContext) -> ProxyStats:
        return self.metrics.snapshot()

    async def _on_message(self, msg: Msg) -> None:
        # A subscription hands over one message at a time; each request runs as its own task, so one
        # slow endpoint never holds up the requests behind it.
        task = asyncio.create_task(self._route(msg))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _route(self, msg: Msg) -> None:
        if msg.subject.startswith(f"{subjects.node(self.node, 'svc')}."):
            await self._on_node_request(msg)
        else:
            await self._on_outside_request(msg)

    async def _on_node_request(self, msg: Msg) -> None:
        # node.<node>.svc.<ns>.<name>
        parts = msg.subject.split(".")
        if len(parts) == 5:
            await self.forward(msg, parts[3], parts[4])
        else:
            await self._bad_subject(msg)

    async def _on_outside_request(self, msg: Msg) -> None:
        # svc.<ns>.<name>
        parts = msg.subject.split(".")
        if len(parts) == 3:
            await self.forward(msg, parts[1], parts[2])
        else:
            await self._bad_subject(msg)

    async def forward(self, msg: Msg, namespace: str, name: str) -> None:
        self.metrics.requests += 1
        port = (msg.headers or {}).get(subjects.SERVICE_PORT_HEADER, "")
        started = time.monotonic()
        tried: set[Endpoint] = set()
        for _attempt in range(2):
            try:
                endpoint = self.table.pick(namespace, name, port, exclude=tried)
            except NoEndpointsError as error:
                await self._fail(msg, ApiError(503, str(error), reason="ServiceUnavailable"))
                return
            tried.add(endpoint)
            try:
                reply = await self._send(endpoint, msg)
            except NoRespondersError:
                self.metrics.retries += 1
                continue
            except NatsTimeoutError:
                message = (
                    f"endpoint {endpoint.ip}:{endpoint.port} of {namespace}/{name} did not answer in time"
                )
                await self._fail(msg, ApiError(504, message))
                return
            self.metrics.observe(time.monotonic() - started)
            if msg.reply:
                await self.nc.publish(msg.reply, reply.data, headers=reply.headers)
            return
        await self._fail(msg, ApiError(503, f'no endpoint of service "{namespace}/{name}" answered'))

    async def _send(self, endpoint: Endpoint, msg: Msg) -> Msg:
        if endpoint.node == self.node:
            self.metrics.local += 1
        else:
            self.metrics.remote += 1
        self.table.started(endpoint)
        try:
            return await self.nc.request(
                subjects.pod_endpoint(endpoint.ip, endpoint.port),
                msg.data,
                timeout=self.timeout,
                headers=dict(msg.headers) if msg.headers else None,
            )
        finally:
            self.table.finished(endpoint)

    async def _fail(self, msg: Msg, error: ApiError) -> None:
        self.metrics.errors += 1
        if msg.reply:
            headers = {ERROR_CODE_HEADER: str(error.code), ERROR_HEADER: error.message}
            await self.nc.publish(msg.reply, json.dumps(error.to_status()).encode(), headers=headers)

    async def _bad_subject(self, msg: Msg) -> None:
        await self._fail(msg, ApiError(400, f"{msg.subject} does not name a Service as <namespace>.<name>"))
