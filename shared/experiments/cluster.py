"""The running cluster as an experiment sees it: its topology, supervisord, and clients on the bus.

Load and probes use clients that never retry (``retry_for=0``) and give up after a short timeout, so
every failure a client would see is recorded rather than hidden behind a retry loop; the audit uses a
patient client, because it must read everything back however slowly the cluster answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client

from services.etcd.client.nats import NatsEtcdClient
from shared import bus
from shared.apiclient import ApiClient
from shared.cluster import StatePaths, running_topology
from shared.cluster.natsauth import ADMIN as NATS_ADMIN
from shared.cluster.natsauth import client_urls
from shared.cluster.tokens import ADMIN
from shared.experiments.control import ProcessControl
from shared.tokenfile import token_for_user
from shared.topology import Topology


class NoCluster(Exception):
    """No cluster runs in the state directory."""


@dataclass
class ClusterHandle:
    topology: Topology
    paths: StatePaths
    control: ProcessControl
    nc: Client
    etcd: NatsEtcdClient
    """Impatient: for load and probes."""
    audit_etcd: NatsEtcdClient
    """Patient: for reading acknowledged writes back."""
    api: ApiClient | None
    """Impatient, like ``etcd``."""
    patient_api: ApiClient | None
    """For setting up and tearing down."""

    def runs(self, component: str) -> bool:
        found = self.topology.components.get(component)
        return found is not None and found.enabled

    def quick_etcd(self, timeout: float) -> NatsEtcdClient:
        """A client on the shared connection that gives up after ``timeout`` seconds, without retrying."""
        return NatsEtcdClient(self.nc, timeout=timeout, retry_for=0)

    @classmethod
    async def connect(cls, paths: StatePaths, op_timeout: float = 1.0) -> ClusterHandle:
        topology = running_topology(paths)
        control = ProcessControl(paths)
        if topology is None or not control.is_running():
            raise NoCluster(
                f"no cluster runs in {paths.root}: start one with `make up` (or pass --state-dir)"
            )
        # As admin: experiments read and load the store directly, which only admin's NATS identity may.
        servers = client_urls(paths, topology.nats_urls(), NATS_ADMIN)
        nc = await bus.connect(servers, name="kubenats-experiment")
        api = patient_api = None
        if topology.components["apiserver"].enabled:
            token = token_for_user(paths.token_file, ADMIN)
            api = ApiClient(nc, token, timeout=op_timeout, retry_for=0)
            patient_api = ApiClient(nc, token, timeout=5.0, retry_for=30.0)
        return cls(
            topology=topology,
            paths=paths,
            control=control,
            nc=nc,
            etcd=NatsEtcdClient(nc, timeout=op_timeout, retry_for=0),
            audit_etcd=NatsEtcdClient(nc, timeout=5.0, retry_for=30.0),
            api=api,
            patient_api=patient_api,
        )

    async def close(self) -> None:
        await self.nc.close()
