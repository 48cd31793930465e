"""The simulated pod network: containers answer requests on their pod's address and send traffic to Services.

A started container that declares ports is reachable at ``pod.<ip>.<port>`` (:func:`shared.subjects.
pod_endpoint`) — the address kube-proxy forwards a Service's requests to. How it answers is its
behaviour (``serve``, ``serve-latency``, ``serve-jitter``, ``serve-error-rate``, ``serve-body``), decided
by the pure core at the moment the request arrives: a container that has exited, or is still starting,
refuses it (503, as a closed port would), so a crash costs the requests that reach it before the
kubelet notices and the EndpointSlice drops the pod.

A container with ``traffic-to`` sends requests, at ``traffic-rate`` per second, to that Service through
its own node's kube-proxy (``node.<node>.svc.<namespace>.<service>``) for as long as it runs; the
outcome counts are in :attr:`PodNetwork.traffic_stats` and summarised in the container's log every
``SUMMARY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER

from services.runtime.api import ContainerState
from services.runtime.behaviour import TrafficBehaviour
from services.runtime.core import RuntimeCore
from shared import subjects
from shared.clock import Clock
from shared.errors import ApiError
from shared.logging import get_logger

log = get_logger(__name__)

TRAFFIC_TIMEOUT = 5.0


SUMMARY_SECONDS = 10.0
"""How often a traffic-sending container logs its counts."""


@dataclass
class TrafficStats:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    latency_total: float = 0.0

    def summary(self, service: str) -> str:
        mean = self.latency_total / self.ok * 1000 if self.ok else 0.0
        return (
            f"traffic to {service}: {self.sent} sent, {self.ok} ok, {self.errors} errors, mean {mean:.1f} ms"
        )


class PodNetwork:
    def __init__(self, nc: Client, core: RuntimeCore, clock: Clock, *, seed: int | None = None) -> None:
        self.nc = nc
        self.core = core
        self.clock = clock
        self.random = random.Random(seed)
        self._routes: dict[str, str] = {}
        """Subject → the container serving it now (a restarted container takes its subject over)."""
        self._subscriptions: dict[str, Subscription] = {}
        self._traffic: dict[str, asyncio.Task[None]] = {}
        self.traffic_stats: dict[str, TrafficStats] = {}
        self._answers: set[asyncio.Task[None]] = set()

    # --- containers come and go ----------------------------------------------------------------

    async def attach(self, container_id: str) -> None:
        """Called once a container has started: open its ports and start its traffic, if it has any."""
        serving = self.core.serving(container_id)
        if serving is None:
            return
        ip, ports, container = serving
        for port in ports if ip else []:
            subject = subjects.pod_endpoint(ip, port)
            self._routes[subject] = container_id
            if subject not in self._subscriptions:
                self._subscriptions[subject] = await self.nc.subscribe(subject, cb=self._on_request)
        if container.behaviour.traffic is not None:
            self._traffic[container_id] = asyncio.create_task(
                self._send_traffic(container_id, container.behaviour.traffic)
            )

    async def detach(self, container_id: str) -> None:
        """Called when a container is removed: close the ports it holds and stop its traffic."""
        for subject in [s for s, owner in self._routes.items() if owner == container_id]:
            del self._routes[subject]
            subscription = self._subscriptions.pop(subject, None)
            if subscription is not None:
                await subscription.unsubscribe()
        task = self._traffic.pop(container_id, None)
        if task is not None:
            task.cancel()
        self.traffic_stats.pop(container_id, None)

    async def close(self) -> None:
        for container_id in {*self._routes.values(), *self._traffic}:
            await self.detach(container_id)
        for task in list(self._answers):
            task.cancel()

    # --- serving ---------------------------------------------------------------------------------

    async def _on_request(self, msg: Msg) -> None:
        # Answers wait out their latency concurrently: one slow answer must not hold up the next request.
        self._spawn(self._answer(msg))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, msg: Msg) -> None:
        container_id = self._routes.get(msg.subject, "")
        answer = self.core.answer(
            container_id, self.clock.monotonic(), self.random.random(), self.random.random()
        )
        if answer.refused:
            await _reply_error(self.nc, msg, ApiError(503, answer.refused, reason="ServiceUnavailable"))
            return
        if answer.delay > 0:
            await self.clock.sleep(answer.delay)
        if answer.failed:
            await _reply_error(self.nc, msg, ApiError(500, "the application answered with an error"))
        elif msg.reply:
            await self.nc.publish(msg.reply, msg.data if answer.body is None else answer.body)

    # --- sending ---------------------------------------------------------------------------------

    async def _send_traffic(self, container_id: str, traffic: TrafficBehaviour) -> None:
        sandbox = self.core.sandbox_of(container_id)
        if sandbox is None:
            return
        namespace = traffic.target.namespace or sandbox.namespace
        subject = subjects.node_service(self.core.node, namespace, traffic.target.service)
        headers = {subjects.SERVICE_PORT_HEADER: traffic.target.port} if traffic.target.port else None
        stats = self.traffic_stats.setdefault(container_id, TrafficStats())
        interval = 1.0 / traffic.rate
        next_at = summary_at = self.clock.monotonic()
        while True:
            next_at += interval
            await self.clock.sleep(max(next_at - self.clock.monotonic(), 0.0))
            now = self.clock.monotonic()
            if self.core.serving(container_id) is None:
                return
            if self.core.container_status(container_id, now).state is not ContainerState.RUNNING:
                continue
            # Requests go out on their own schedule, not one after the other's reply, as a client does.
            self._spawn(self._send_one(subject, headers, stats))
            if now - summary_at >= SUMMARY_SECONDS:
                summary_at = now
                self.core.write_log(container_id, now, stats.summary(traffic.target.service))

    async def _send_one(self, subject: str, headers: dict[str, str] | None, stats: TrafficStats) -> None:
        stats.sent += 1
        started = time.monotonic()
        try:
            reply = await self.nc.request(subject, b"GET /", timeout=TRAFFIC_TIMEOUT, headers=headers)
        except (NoRespondersError, NatsTimeoutError):
            stats.errors += 1
            return
        if (reply.headers or {}).get(ERROR_CODE_HEADER):
            stats.errors += 1
            return
        stats.ok += 1
        stats.latency_total += time.monotonic() - started


async def _reply_error(nc: Client, msg: Msg, error: ApiError) -> None:
    if msg.reply:
        headers = {ERROR_CODE_HEADER: str(error.code), ERROR_HEADER: error.message}
        await nc.publish(msg.reply, json.dumps(error.to_status()).encode(), headers=headers)
