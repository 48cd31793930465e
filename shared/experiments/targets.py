"""Turning an action's targets into supervisord program names, at the moment the action runs.

``etcd-leader`` is whichever member the Raft group currently follows; ``scheduler-leader`` and
``controller-manager-leader`` are the holders of their leader-election Leases in kube-system (a holder's
identity is its replica's name, so ``cp-2`` leading the scheduler runs as program ``cp-2-scheduler``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from services.etcd.client.api import ClusterStatus
from shared.apiclient import resource
from shared.errors import ApiError
from shared.experiments.cluster import ClusterHandle
from shared.leaderelection import replica_of

LEASES = resource("coordination.k8s.io", "v1", "leases")
LEADER_LEASES = {
    "scheduler-leader": ("kube-scheduler", "scheduler"),
    "controller-manager-leader": ("kube-controller-manager", "controller-manager"),
}


class TargetError(Exception):
    """A target that names nothing right now (no etcd leader, no Lease holder, an unknown program)."""


def program(host: str, component: str) -> str:
    return f"{host}-{component}"


def etcd_member_program(status: ClusterStatus, leader: bool) -> str:
    """The program of the etcd leader (or of the first follower by name)."""
    return program(etcd_member_name(status, leader), "etcd")


def etcd_member_name(status: ClusterStatus, leader: bool) -> str:
    """The replica of the etcd leader (or of the first follower by name): members are named after them."""
    if leader:
        found = next((m for m in status.members if m.id == status.leader), None)
        if found is None:
            raise TargetError("etcd has no leader right now")
        return found.name
    followers = sorted(m.name for m in status.members if m.id != status.leader)
    if not followers:
        raise TargetError("no etcd follower answers")
    return followers[0]


async def lease_holder(handle: ClusterHandle, lease: str) -> str:
    if handle.api is None:
        raise TargetError("the cluster runs no API server, so no component holds a leader Lease")
    try:
        found = await handle.api.get(LEASES, lease, "kube-system")
    except ApiError as error:
        raise TargetError(f"cannot read Lease kube-system/{lease}: {error.message}") from None
    holder = str(found.get("spec", {}).get("holderIdentity") or "")
    if not holder:
        raise TargetError(f"nobody holds Lease kube-system/{lease}")
    return replica_of(holder)


async def resolve(handle: ClusterHandle, target: str, saved: Mapping[str, list[str]]) -> list[str]:
    """The program names ``target`` stands for now."""
    if target.startswith("$"):
        if target[1:] not in saved:
            raise TargetError(f"{target} was never resolved (the action saving it did not run)")
        return list(saved[target[1:]])
    if target in ("etcd-leader", "etcd-follower"):
        try:
            status = await handle.audit_etcd.status()
        except ApiError as error:
            raise TargetError(f"cannot ask etcd for its leader: {error.message}") from None
        return [etcd_member_program(status, leader=target == "etcd-leader")]
    if target in LEADER_LEASES:
        lease, component = LEADER_LEASES[target]
        return [program(await lease_holder(handle, lease), component)]
    known = {p.name for p in await asyncio.to_thread(handle.control.processes)}
    if target not in known:
        raise TargetError(f"no program {target!r} in this cluster (programs: {', '.join(sorted(known))})")
    return [target]
