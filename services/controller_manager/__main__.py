"""``python -m services.controller_manager``: one controller-manager replica; its controllers run only
while it holds the Lease ``kube-system/kube-controller-manager``.

Each time the replica becomes the leader it builds a fresh :class:`ControllerManager` (fresh caches, no
expectations left from an earlier term), and when leadership ends the manager is cancelled with it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from services.apiserver.auth import (
    CONTROLLER_MANAGER_LEASE,
    CONTROLLER_MANAGER_USER,
    SYSTEM_NAMESPACE,
)
from services.controller_manager.manager import ControllerManager, ManagerOptions, registry
from shared.apiclient import ApiClient
from shared.config import ServiceFlags, die, parse_flags
from shared.leaderelection import ApiLeaseLock, LeaderElectionConfig, LeaderElector, unique_identity
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.tokenfile import parse_token_file

log = get_logger("controller-manager")


class ControllerManagerFlags(ServiceFlags):
    """A controller-manager replica: runs the controllers while it holds the controller-manager lease."""

    name: str = Field(description="this replica's name and its leader-election identity, e.g. cp-1")
    token_file: Path = Field(description="token file holding user system:kube-controller-manager")
    controllers: str = Field(default="", description="comma-separated controllers to run (default: all)")
    node_monitor_period: float = Field(default=5.0, gt=0, description="how often node health is checked, s")
    node_monitor_grace_period: float = Field(
        default=40.0, gt=0, description="a node whose lease is not renewed this long is Unknown, s"
    )
    node_startup_grace_period: float = Field(
        default=60.0, gt=0, description="grace for a node that never reported Ready, s"
    )
    pod_eviction_timeout: float = Field(
        default=300.0,
        gt=0,
        description="kept for compatibility: eviction follows the pods' tolerationSeconds (default 300)",
    )
    node_eviction_rate: float = Field(default=0.1, gt=0, description="nodes tainted for eviction per second")
    terminated_pod_gc_threshold: int = Field(
        default=12500, ge=0, description="terminated pods kept before the oldest are deleted (0: never)"
    )
    pod_gc_period: float = Field(default=20.0, gt=0, description="how often the pod GC runs, s")
    lease_duration: float = Field(default=15.0, gt=0, description="leader lease duration, s")
    renew_deadline: float = Field(default=10.0, gt=0, description="leader renew deadline, s")
    retry_period: float = Field(default=2.0, gt=0, description="leader-election retry period, s")

    def options(self) -> ManagerOptions:
        return ManagerOptions(
            node_monitor_period=self.node_monitor_period,
            node_monitor_grace_period=self.node_monitor_grace_period,
            node_startup_grace_period=self.node_startup_grace_period,
            node_eviction_rate=self.node_eviction_rate,
            pod_gc_period=self.pod_gc_period,
            terminated_pod_gc_threshold=self.terminated_pod_gc_threshold,
            controllers=tuple(name.strip() for name in self.controllers.split(",") if name.strip()),
        )


def controller_manager_token(path: Path) -> str:
    for token, user in parse_token_file(path.read_text(), str(path)):
        if user.name == CONTROLLER_MANAGER_USER:
            return token
    raise ValueError(f"{path} has no token for user {CONTROLLER_MANAGER_USER}")


async def main(flags: ControllerManagerFlags, election: LeaderElectionConfig, stop: asyncio.Event) -> None:
    token = controller_manager_token(flags.token_file)
    client = await ApiClient.connect(
        flags.servers, token, name=f"controller-manager-{flags.name}", replica=flags.name
    )
    options = flags.options()

    async def lead() -> None:
        manager = ControllerManager(client, options, host=flags.name)
        await manager.run(asyncio.Event())  # runs until leadership ends and the task is cancelled

    try:
        lock = ApiLeaseLock(client, SYSTEM_NAMESPACE, CONTROLLER_MANAGER_LEASE)
        elector = LeaderElector(lock, unique_identity(flags.name), election)
        log.info("controller-manager ready", replica=flags.name, controllers=",".join(options.controllers))
        while not stop.is_set():
            if await elector.run(lead, stop):
                break
            log.info("leadership lost, standing by", replica=flags.name)
    finally:
        await client.nc.drain()
    log.info("controller-manager stopped", replica=flags.name)


def cli() -> None:
    flags = parse_flags(ControllerManagerFlags, prog="python -m services.controller_manager")
    configure(flags.log_level)
    if not flags.token_file.is_file():
        die(f"--token-file {flags.token_file}: no such file")
    unknown = set(flags.options().controllers) - set(registry())
    if unknown:
        die(f"--controllers: unknown {', '.join(sorted(unknown))} (known: {', '.join(registry())})")
    try:
        controller_manager_token(flags.token_file)
        election = LeaderElectionConfig(flags.lease_duration, flags.renew_deadline, flags.retry_period)
    except ValueError as failure:
        die(str(failure))
        return
    run_service(lambda stop: main(flags, election, stop))


if __name__ == "__main__":
    cli()
