"""``python -m services.scheduler``: one scheduler replica; it schedules only while it holds the Lease
``kube-system/kube-scheduler``, and keeps its caches warm while it waits."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from pydantic import Field

from services.apiserver.auth import SCHEDULER_LEASE, SCHEDULER_USER, SYSTEM_NAMESPACE
from services.scheduler.config import ConfigError, SchedulerConfiguration, load_config
from services.scheduler.plugins.registry import Handle
from services.scheduler.runtime import Framework, describe
from services.scheduler.scheduler import Scheduler
from shared.apiclient import ApiClient, resource
from shared.config import ServiceFlags, die, parse_flags
from shared.informer import Informer
from shared.leaderelection import ApiLeaseLock, LeaderElectionConfig, LeaderElector, unique_identity
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.tokenfile import parse_token_file

log = get_logger("scheduler")

PODS = resource("", "v1", "pods")
NODES = resource("", "v1", "nodes")
SYNC_TIMEOUT = 60.0


class SchedulerFlags(ServiceFlags):
    """A scheduler replica: assigns pending pods to nodes while it holds the scheduler lease."""

    name: str = Field(description="this replica's name and its leader-election identity, e.g. cp-1")
    token_file: Path = Field(description="token file (kube-apiserver format) holding system:kube-scheduler")
    config: Path | None = Field(default=None, description="KubeSchedulerConfiguration YAML file")
    lease_duration: float = Field(default=15.0, gt=0, description="leader lease duration, seconds")
    renew_deadline: float = Field(default=10.0, gt=0, description="leader renew deadline, seconds")
    retry_period: float = Field(default=2.0, gt=0, description="leader-election retry period, seconds")
    seed: int | None = Field(default=None, description="seed for breaking score ties (random if unset)")


def scheduler_token(path: Path) -> str:
    for token, user in parse_token_file(path.read_text(), str(path)):
        if user.name == SCHEDULER_USER:
            return token
    raise ValueError(f"{path} has no token for user {SCHEDULER_USER}")


async def main(
    flags: SchedulerFlags, config: SchedulerConfiguration, election: LeaderElectionConfig, stop: asyncio.Event
) -> None:
    token = scheduler_token(flags.token_file)
    client = await ApiClient.connect(flags.servers, token, name=f"scheduler-{flags.name}", replica=flags.name)
    framework = Framework.from_config(config, Handle(client), random.Random(flags.seed))
    scheduler = Scheduler(client, framework, identity=flags.name)
    pods, nodes = Informer(client, PODS), Informer(client, NODES)
    scheduler.attach(pods, nodes)
    await nodes.start()
    await pods.start()
    try:
        if not (await nodes.wait_for_sync(SYNC_TIMEOUT) and await pods.wait_for_sync(SYNC_TIMEOUT)):
            raise SystemExit("error: the pod and node informers did not sync")
        lock = ApiLeaseLock(client, SYSTEM_NAMESPACE, SCHEDULER_LEASE)
        elector = LeaderElector(lock, unique_identity(flags.name), election)
        log.info("scheduler ready", replica=flags.name, **describe(framework))
        while not stop.is_set():
            if await elector.run(scheduler.run, stop):
                break
            log.info("leadership lost, standing by", replica=flags.name)
    finally:
        await scheduler.drain()
        await pods.stop()
        await nodes.stop()
        await client.nc.drain()
    log.info("scheduler stopped", replica=flags.name, scheduled=scheduler.scheduled)


def cli() -> None:
    flags = parse_flags(SchedulerFlags, prog="python -m services.scheduler")
    configure(flags.log_level)
    if not flags.token_file.is_file():
        die(f"--token-file {flags.token_file}: no such file")
    try:
        scheduler_token(flags.token_file)
        config = load_config(flags.config)
        election = LeaderElectionConfig(flags.lease_duration, flags.renew_deadline, flags.retry_period)
    except (ConfigError, ValueError) as failure:
        die(str(failure))
        return
    run_service(lambda stop: main(flags, config, election, stop))


if __name__ == "__main__":
    cli()
