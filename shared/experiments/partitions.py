"""Turning a ``partition`` action's groups into the body of ``chaos.network.partition``, and a ``latency``
action's replicas into the body of ``chaos.network.latency``, when the action runs.

Roles become the replica that holds them at that moment (``etcd-leader`` → ``cp-2``), ``rest`` becomes
every etcd member no other group names, and the result must still be a partition: a replica in two groups
(``[[etcd-leader], [cp-2]]`` while cp-2 leads) is an error, not a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.errors import ApiError
from shared.experiments.action_specs import REST, ROLES, Latency, Partition
from shared.experiments.cluster import ClusterHandle
from shared.experiments.targets import LEADER_LEASES, TargetError, etcd_member_name, lease_holder
from shared.netchaos import LatencySpec
from shared.partition import PartitionSpec


def resolve_groups(
    groups: Sequence[Sequence[str]], replicas: Mapping[str, str], members: Sequence[str]
) -> PartitionSpec:
    """``groups`` with each role replaced by ``replicas[role]`` and ``rest`` by the ``members`` left over."""
    named = [[replicas.get(name, name) for name in group if name != REST] for group in groups]
    taken = {name for group in named for name in group}
    rest = [member for member in members if member not in taken]
    resolved = [
        [*group, *rest] if REST in original else group for group, original in zip(named, groups, strict=True)
    ]
    if any(not group for group in resolved):
        raise TargetError(f"a group of {_show(groups)} names no replica once resolved: {_show(resolved)}")
    try:
        return PartitionSpec(groups=[_unique(group) for group in resolved])
    except ValueError as error:
        raise TargetError(f"{_show(groups)} resolves to {_show(resolved)}, no partition: {error}") from None


async def resolve_partition(handle: ClusterHandle, action: Partition) -> PartitionSpec:
    """The partition ``action`` stands for now, in this cluster."""
    wanted = {name for group in action.groups for name in group if name in ROLES}
    replicas = {role: await _replica_of(handle, role) for role in sorted(wanted)}
    members = [p.host for p in handle.topology.placements() if p.component == "etcd"]
    return resolve_groups(action.groups, replicas, members)


async def resolve_latency(handle: ClusterHandle, action: Latency) -> LatencySpec:
    """The latency ``action`` stands for now: its roles replaced by the replicas that hold them."""
    replicas = [await _replica_of(handle, name) if name in ROLES else name for name in action.replicas]
    return LatencySpec(delay_ms=action.delay_ms, jitter_ms=action.jitter_ms, replicas=_unique(replicas))


async def _replica_of(handle: ClusterHandle, role: str) -> str:
    if role in LEADER_LEASES:
        return await lease_holder(handle, LEADER_LEASES[role][0])
    try:
        status = await handle.audit_etcd.status()
    except ApiError as error:
        raise TargetError(f"cannot ask etcd for its leader: {error.message}") from None
    return etcd_member_name(status, leader=role == "etcd-leader")


def _unique(group: list[str]) -> list[str]:
    return list(dict.fromkeys(group))


def _show(groups: Sequence[Sequence[str]]) -> str:
    return " | ".join(", ".join(group) for group in groups)
