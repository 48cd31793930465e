"""The controller manager: every controller over one set of shared informers, run while it leads.

``ControllerManager(client, options).run(stop)`` builds the controllers (each asks the shared informers
for the caches it reads and registers its handlers), starts the informers, waits until every cache is
full, and then runs all controllers until ``stop`` is set. Leader election lives in ``__main__``: a
replica that is not the leader never builds a manager, so standby replicas hold no caches and write
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from services.controller_manager.controller import Context, Controller
from services.controller_manager.events import EventRecorder
from services.controller_manager.informers import SharedInformers
from shared.apiclient import ApiClient
from shared.clock import Clock, RealClock
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ManagerOptions:
    """Timings and limits; the defaults are Kubernetes' own."""

    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1
    pod_gc_period: float = 20.0
    terminated_pod_gc_threshold: int = 12500
    namespace_sync_period: float = 5.0
    resync_period: float | None = None
    controllers: tuple[str, ...] = ()
    """Names of the controllers to run; empty means all of them."""


Factory = Callable[[Context, ManagerOptions], Controller]


def registry() -> dict[str, Factory]:
    """Every controller by name, in the order they are built."""
    from services.controller_manager.deployment import DeploymentController
    from services.controller_manager.endpointslice import EndpointSliceController
    from services.controller_manager.garbagecollector import GarbageCollector
    from services.controller_manager.namespace import NamespaceController
    from services.controller_manager.node_lifecycle import NodeLifecycleController
    from services.controller_manager.podgc import PodGarbageCollector
    from services.controller_manager.replicaset import ReplicaSetController
    from services.controller_manager.taint_eviction import TaintEvictionController

    return {
        "replicaset": lambda ctx, options: ReplicaSetController(ctx),
        "deployment": lambda ctx, options: DeploymentController(ctx),
        "endpointslice": lambda ctx, options: EndpointSliceController(ctx),
        "garbagecollector": lambda ctx, options: GarbageCollector(ctx),
        "podgc": lambda ctx, o: PodGarbageCollector(ctx, o.pod_gc_period, o.terminated_pod_gc_threshold),
        "nodelifecycle": lambda ctx, o: NodeLifecycleController(
            ctx,
            o.node_monitor_period,
            o.node_monitor_grace_period,
            o.node_startup_grace_period,
            o.node_eviction_rate,
        ),
        "taint-eviction": lambda ctx, options: TaintEvictionController(ctx),
        "namespace": lambda ctx, o: NamespaceController(ctx, o.namespace_sync_period),
    }


class ControllerManager:
    def __init__(
        self,
        client: ApiClient,
        options: ManagerOptions | None = None,
        *,
        host: str = "controller-manager",
        clock: Clock | None = None,
    ) -> None:
        self.options = options or ManagerOptions()
        self.clock = clock or RealClock()
        self.informers = SharedInformers(client, self.options.resync_period)
        self.recorder = EventRecorder(client, host, self.clock)
        self.ctx = Context(client, self.informers, self.recorder, self.clock)
        self.controllers: dict[str, Controller] = {}
        wanted = set(self.options.controllers)
        for name, factory in registry().items():
            if not wanted or name in wanted:
                self.controllers[name] = factory(self.ctx, self.options)

    def controller(self, name: str) -> Controller:
        return self.controllers[name]

    async def run(self, stop: asyncio.Event) -> None:
        """Sync the caches, then run every controller until ``stop`` is set; stops cleanly after."""
        try:
            if not await self.informers.start():
                log.warning("informers did not sync in time; starting anyway")
            log.info("controllers starting", controllers=",".join(self.controllers))
            await _run_all(self.controllers.values(), stop)
        finally:
            await self.informers.stop()
            await self.recorder.flush()


async def _run_all(controllers: Iterable[Controller], stop: asyncio.Event) -> None:
    async with asyncio.TaskGroup() as group:
        for controller in controllers:
            group.create_task(controller.run(stop), name=f"controller-{controller.name}")
