"""What a running cluster's control plane says about itself: etcd's members and the leader-elected
components' leaders, as ``kubenats cluster status`` shows them beside the process table.

Read as ``admin`` (the store's status is not the ``user`` login's to read) and with the admin API token,
each with a short timeout: a cluster half down still gets its process table, with what did not answer
said as such.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from services.etcd.client.api import MemberStatus
from services.etcd.client.nats import NatsEtcdClient
from shared.apiclient import ApiClient, resource
from shared.cluster.natsauth import ADMIN as NATS_ADMIN
from shared.cluster.natsauth import client_urls
from shared.cluster.paths import StatePaths
from shared.cluster.readiness import LEADER_LEASES
from shared.cluster.tokens import ADMIN
from shared.errors import ApiError
from shared.leaderelection import replica_of
from shared.tokenfile import token_for_user
from shared.topology import Topology

LEASES = resource("coordination.k8s.io", "v1", "leases")
TIMEOUT = 3.0


@dataclass
class Overview:
    members: list[MemberStatus] = field(default_factory=list)
    etcd_error: str = ""
    leaders: dict[str, str] = field(default_factory=dict)
    """Component → the replica holding its Lease ('' when none does)."""
    leaders_error: str = ""


async def overview(topology: Topology, paths: StatePaths) -> Overview:
    urls = client_urls(paths, topology.nats_urls(), NATS_ADMIN)
    result = Overview()
    await asyncio.gather(_etcd(urls, result), _leaders(urls, paths, topology, result))
    return result


async def _etcd(urls: list[str], result: Overview) -> None:
    try:
        kv = await asyncio.wait_for(NatsEtcdClient.connect(urls), TIMEOUT)
        try:
            status = await asyncio.wait_for(kv.status(), TIMEOUT)
        finally:
            await kv.close()
    except (TimeoutError, OSError, ApiError) as error:
        result.etcd_error = str(error) or type(error).__name__
        return
    result.members = sorted(status.members, key=lambda m: m.name)


async def _leaders(urls: list[str], paths: StatePaths, topology: Topology, result: Overview) -> None:
    enabled = {name for name, component in topology.components.items() if component.enabled}
    wanted = {c: lease for c, lease in LEADER_LEASES.items() if c in enabled}
    if not wanted:
        return
    try:
        client = await asyncio.wait_for(
            ApiClient.connect(urls, token_for_user(paths.token_file, ADMIN)), TIMEOUT
        )
    except (TimeoutError, OSError, LookupError) as error:
        result.leaders_error = str(error) or type(error).__name__
        return
    client.retry_for = 0.0
    try:
        for component, lease in wanted.items():
            try:
                found = await asyncio.wait_for(client.get(LEASES, lease, "kube-system"), TIMEOUT)
                result.leaders[component] = replica_of(str(found.get("spec", {}).get("holderIdentity") or ""))
            except ApiError as error:
                result.leaders[component] = "" if error.code == 404 else f"({error.message})"
            except TimeoutError:
                result.leaders_error = "the API servers did not answer"
    finally:
        await client.close()
