"""The audit after an experiment: nothing acknowledged lost, the history linearizable, Deployments whole.

Every acknowledged write is looked up in the store's history of its key (a watch from revision 1 on the
run's key prefix replays it; no experiment compacts): the value must be there, at the revision the store
acknowledged it with. A value nowhere in the history is a **lost** write; one that is there, but at
another revision, was acknowledged with a wrong revision — the write survived, the reply lied about
where. The KV history goes to the linearizability checker; each Deployment a probe names must still exist
with all its replicas ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from shared.errors import ApiError
from shared.experiments.cluster import ClusterHandle
from shared.experiments.load import Ack, LoadResult
from shared.experiments.probe_specs import DeploymentReady, Probe
from shared.experiments.probes import DEPLOYMENTS
from shared.experiments.verdict import Audit, Check
from shared.linearizability import check

LINEARIZABILITY_TIMEOUT = 30.0
HISTORY_TIMEOUT = 60.0

KeyHistory = Mapping[str, Mapping[str, int]]
"""Key → value → the revision that wrote it (every value a writer puts is unique)."""


async def key_history(handle: ClusterHandle, prefix: str) -> dict[str, dict[str, int]]:
    """Every value ever put under ``prefix`` and the revision that put it, replayed from revision 1."""
    current = (await handle.audit_etcd.range(prefix, prefix=True, count_only=True)).header.revision
    history: dict[str, dict[str, int]] = {}
    watch = await handle.audit_etcd.watch(prefix, prefix=True, start_revision=1)
    try:
        async with asyncio.timeout(HISTORY_TIMEOUT):
            seen = 0
            async for response in watch:
                for event in response.events:
                    seen = max(seen, event.kv.mod_revision)
                    if event.type == "PUT":
                        history.setdefault(event.kv.key, {})[event.kv.value] = event.kv.mod_revision
                # A response's header is the store's revision when it was sent, not how far the events
                # go; only a progress notice (no events) says everything up to its header was delivered.
                caught_up = not response.events and response.header.revision >= current
                if response.canceled or seen >= current or caught_up:
                    break
    finally:
        await watch.cancel()
    return history


def classify(acks: Sequence[Ack], history: KeyHistory) -> tuple[list[str], list[str]]:
    """(lost, acknowledged at a wrong revision), each as ``key@revision: what happened``."""
    lost, misplaced = [], []
    for ack in acks:
        written = history.get(ack.key, {}).get(ack.value)
        if written is None:
            lost.append(f"{ack.key}@{ack.revision}: {ack.value} is nowhere in the key's history")
        elif written != ack.revision:
            misplaced.append(
                f"{ack.key}: {ack.value} acknowledged at revision {ack.revision}, written at {written}"
            )
    return lost, misplaced


async def deployments_whole(handle: ClusterHandle, probes: Sequence[Probe]) -> list[Check]:
    checks = []
    for probe in probes:
        if not isinstance(probe, DeploymentReady) or handle.api is None:
            continue
        name = f"deployment {probe.namespace}/{probe.name} whole"
        try:
            found = await handle.api.get(DEPLOYMENTS, probe.name, probe.namespace)
        except ApiError as error:
            checks.append(Check(name=name, ok=False, detail=f"{error.code} {error.message}"))
            continue
        wanted = int(found.get("spec", {}).get("replicas", 1))
        ready = int(found.get("status", {}).get("readyReplicas") or 0)
        checks.append(Check(name=name, ok=ready >= wanted, detail=f"{ready} of {wanted} replicas ready"))
    return checks


async def run_audit(handle: ClusterHandle, load: LoadResult, prefix: str, probes: Sequence[Probe]) -> Audit:
    lost, misplaced = classify(load.acks, await key_history(handle, prefix))
    # The checker is CPU-bound: keep the event loop (and the progress display) responsive meanwhile.
    result = await asyncio.to_thread(check, load.history, timeout=LINEARIZABILITY_TIMEOUT)
    return Audit(
        acknowledged_writes=len(load.acks),
        lost_writes=len(lost),
        lost_examples=lost[:10],
        misplaced_acks=len(misplaced),
        misplaced_examples=misplaced[:10],
        linearizability=result.verdict.value,
        linearizability_detail="" if result.linearizable else result.explain(),
        deployments=await deployments_whole(handle, probes),
    )
