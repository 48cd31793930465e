"""Admission: checks and allocations that need the store, run after validation and before a create.

- A namespaced object may only be created in a namespace that exists and is not terminating
  (Kubernetes' NamespaceLifecycle admission plugin).
- A Service of type ClusterIP, NodePort or LoadBalancer gets a cluster IP from the configured range,
  reserved in the store under ``/registry/ranges/serviceips/<ip>`` with a create-if-absent transaction,
  so two API server replicas can never hand out the same address; deleting the Service frees it.
  In a dry run the address is chosen the same way — free in the store, from the range — but not
  reserved, as Kubernetes' dry-run allocator answers: the reply shows an address a real create could get.
"""

from __future__ import annotations

import ipaddress
import random

from services.apiserver.dryrun import is_dry_run
from services.apiserver.objects import Object, metadata
from services.apiserver.storage import REGISTRY, ObjectStorage
from shared.errors import ApiError
from shared.models import ResourceType

SERVICE_IPS = f"{REGISTRY}/ranges/serviceips"
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"


class Admission:
    def __init__(self, storage: ObjectStorage, service_cidr: str = DEFAULT_SERVICE_CIDR) -> None:
        self.storage = storage
        self.network = ipaddress.ip_network(service_cidr)
        self._random = random.Random()

    async def admit_create(self, rt: ResourceType, obj: Object) -> None:
        if rt.namespaced:
            await self._namespace_accepts(metadata(obj)["namespace"])
        if rt.plural == "services":
            await self._allocate_cluster_ip(obj)

    async def release(self, rt: ResourceType, obj: Object) -> None:
        """Give back what admission allocated for an object that was deleted or not stored."""
        if rt.plural != "services":
            return
        ip = obj.get("spec", {}).get("clusterIP")
        if ip and ip != "None" and self._in_range(ip):
            await self.storage.release(f"{SERVICE_IPS}/{ip}")

    async def _namespace_accepts(self, namespace: str) -> None:
        found = await self.storage.get("namespaces", "", namespace)
        if found is None:
            raise ApiError(
                404,
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            )
        if "deletionTimestamp" in found.get("metadata", {}):
            raise ApiError(
                403,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                details={
                    "name": namespace,
                    "kind": "namespaces",
                    "causes": [{"reason": "NamespaceTerminating"}],
                },
            )

    async def _allocate_cluster_ip(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        owner = f"{metadata(obj)['namespace']}/{metadata(obj)['name']}"
        requested = spec.get("clusterIP")
        if requested:
            if not self._in_range(requested):
                raise ApiError(
                    422,
                    f'Service "{metadata(obj)["name"]}" is invalid: spec.clusterIP: Invalid value: '
                    f'"{requested}": provided IP is not in the valid range. The range of valid IPs is '
                    f"{self.network}",
                    reason="Invalid",
                )
            if not await self._reserve(f"{SERVICE_IPS}/{requested}", owner):
                raise ApiError(
                    422,
                    f'Service "{metadata(obj)["name"]}" is invalid: spec.clusterIP: Invalid value: '
                    f'"{requested}": provided IP is already allocated',
                    reason="Invalid",
                )
            ip = requested
        else:
            ip = await self._allocate(owner)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    async def _allocate(self, owner: str) -> str:
        # Random probing: with a /16 and few services a free address is found at once, and replicas
        # allocating at the same time rarely even try the same one (the store's CAS settles it).
        hosts = self.network.num_addresses - 2
        for _ in range(64):
            ip = str(self.network.network_address + 1 + self._random.randrange(hosts))
            if await self._reserve(f"{SERVICE_IPS}/{ip}", owner):
                return ip
        raise ApiError(500, f"range is full: no free cluster IP found in {self.network}")

    async def _reserve(self, key: str, owner: str) -> bool:
        if is_dry_run():
            return (await self.storage.kv.range(key, count_only=True)).count == 0
        return await self.storage.reserve(key, owner)

    def _in_range(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False
