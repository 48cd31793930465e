"""Fault injection on one node (ARCHITECTURE.md §4): crash and recover, partition and heal, kill a pod.

- ``crash``: the machine dies. Heartbeats and status reports stop, the pod workers stop, and every
  container is killed (exit 137) as power loss would. ``recover`` is the reboot: sandboxes left over are
  removed, everything in memory is forgotten, the node registers again and its pods start afresh.
- ``partition``: the node loses the API server but keeps running its pods (restarts included); it
  makes no API calls, keeps the statuses it would have written, and on ``heal`` lists its pods again,
  writes those statuses and cleans up pods deleted meanwhile.
- ``kill``: one pod's containers are SIGKILLed (exit 137); the restart policy decides what follows.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.kubelet.ipam import PodIPAllocator
from services.kubelet.kubelet import RUNTIME_ERRORS, Kubelet
from shared import subjects
from shared.logging import get_logger

log = get_logger("kubelet.faults")


async def crash(kubelet: Kubelet) -> None:
    if kubelet.crashed:
        return
    kubelet.crashed = True
    kubelet.statuses.connected = False
    await kubelet.stop_informer()
    await kubelet.workers.stop()
    killed = 0
    with contextlib.suppress(*RUNTIME_ERRORS):
        for sandbox in await kubelet.runtime.list_pod_sandboxes():
            await kubelet.runtime.stop_pod_sandbox(sandbox.id)
            killed += 1
    log.info("node crashed", node=kubelet.name, sandboxes=killed)


async def recover(kubelet: Kubelet) -> None:
    if not kubelet.crashed:
        return
    with contextlib.suppress(*RUNTIME_ERRORS):
        for sandbox in await kubelet.runtime.list_pod_sandboxes():
            await kubelet.runtime.remove_pod_sandbox(sandbox.id)
    kubelet.records.clear()
    kubelet.ipam = kubelet.syncer.ipam = PodIPAllocator(kubelet.config.cidr)
    kubelet.statuses.reset()
    kubelet.presence.reboot()
    kubelet.partitioned = False
    kubelet.crashed = False
    kubelet.statuses.connected = True
    await _reconnect(kubelet, register=True)
    log.info("node recovered", node=kubelet.name)


async def partition(kubelet: Kubelet) -> None:
    if kubelet.partitioned or kubelet.crashed:
        return
    kubelet.partitioned = True
    kubelet.statuses.connected = False
    await kubelet.stop_informer()
    log.info("node partitioned", node=kubelet.name)


async def heal(kubelet: Kubelet) -> None:
    if not kubelet.partitioned:
        return
    kubelet.partitioned = False
    kubelet.statuses.connected = True
    await _reconnect(kubelet, register=False)
    await kubelet.statuses.flush()
    log.info("node healed", node=kubelet.name)


async def _reconnect(kubelet: Kubelet, register: bool) -> None:
    """List the pods again (the informer delivers what changed meanwhile), then sync every pod."""
    if register:
        await kubelet.presence.register(await kubelet.health())
    with contextlib.suppress(*RUNTIME_ERRORS):
        await kubelet.presence.renew_lease()
    lists = kubelet.informer.lists
    await kubelet.informer.start()
    while kubelet.informer.lists == lists:
        await asyncio.sleep(0.05)
    for key in [*kubelet.informer.keys(), *kubelet.workers.keys()]:
        kubelet.workers.wake(key)
    with contextlib.suppress(*RUNTIME_ERRORS):
        await kubelet.remove_orphans()


async def kill_pod(kubelet: Kubelet, namespace: str, name: str) -> bool:
    """SIGKILL every running container of the pod; False if this node does not run it.

    ``name`` is the subject's token, where a name's dots are written ``_`` (:func:`subjects.name_token`)."""
    record = kubelet.records.get(f"{namespace}/{name}") or next(
        (
            r
            for r in kubelet.records.values()
            if r.namespace == namespace and subjects.name_token(r.name) == name
        ),
        None,
    )
    if record is None or kubelet.crashed:
        return False
    for container in record.running():
        await kubelet.runtime.kill_container(container.container_id)
    kubelet.workers.wake(record.key)
    log.info("pod killed", node=kubelet.name, pod=record.key)
    return True
