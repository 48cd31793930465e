"""The EndpointSlice controller: the addresses of the pods behind each Service with a selector.

Service, pod and slice events enqueue the Service's key; :meth:`EndpointSliceController.reconcile` works
out the wanted endpoints with :mod:`~services.controller_manager.slicing` and creates, updates and deletes
the Service's slices (label ``kubernetes.io/service-name``, managed by ``endpointslice-controller.k8s.io``,
owned by the Service, so the garbage collector removes them with it). Slices managed by anyone else, and
Services without a selector, are left alone.
"""

from __future__ import annotations

import copy
from typing import Any

from services.controller_manager import slicing
from services.controller_manager.controller import Context, Controller
from services.controller_manager.objects import (
    ENDPOINTSLICES,
    PODS,
    SERVICES,
    Object,
    labels_of,
    map_selector_matches,
    name_of,
    namespace_of,
    owner_reference,
)
from shared.errors import ApiError
from shared.informer import NAMESPACE_INDEX, Informer, key_of, split_key
from shared.logging import get_logger
from shared.models import LABEL_SERVICE_NAME
from shared.workqueue import Result

log = get_logger(__name__)

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
SERVICE_INDEX = "service"


def by_service(obj: Object) -> list[str]:
    """Slices by ``namespace/service`` from their service-name label."""
    service = labels_of(obj).get(LABEL_SERVICE_NAME)
    return [f"{namespace_of(obj)}/{service}"] if service else []


class EndpointSliceController(Controller):
    name = "endpointslice"
    workers = 4

    def __init__(self, ctx: Context, max_per_slice: int = slicing.MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__(ctx)
        self.max_per_slice = max_per_slice
        # Per Service: slices this controller wrote (name -> resourceVersion) and deleted, until the cache
        # shows them. Acting on a cache that lags its own writes would create duplicate slices.
        self._written: dict[str, tuple[dict[str, int], set[str]]] = {}
        self.services: Informer = ctx.informers.get(SERVICES)
        self.pods: Informer = ctx.informers.get(PODS)
        self.slices: Informer = ctx.informers.ensure_index(ENDPOINTSLICES, SERVICE_INDEX, by_service)
        self.services.add_handler(
            on_add=lambda svc: self.enqueue(key_of(svc)),
            on_update=lambda old, new: self.enqueue(key_of(new)),
            on_delete=lambda svc: self.enqueue(key_of(svc)),
        )
        self.pods.add_handler(
            on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed
        )
        self.slices.add_handler(
            on_add=self._slice_changed,
            on_update=lambda old, new: self._slice_changed(new),
            on_delete=self._slice_changed,
        )

    def _pod_changed(self, pod: Object) -> None:
        for svc in self.services.by_index(NAMESPACE_INDEX, namespace_of(pod)):
            if map_selector_matches((svc.get("spec") or {}).get("selector") or {}, labels_of(pod)):
                self.enqueue(key_of(svc))

    def _pod_updated(self, old: Object, new: Object) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get(
            "resourceVersion"
        ):
            return
        self._pod_changed(new)
        if labels_of(old) != labels_of(new):
            self._pod_changed(old)

    def _slice_changed(self, endpoint_slice: Object) -> None:
        if labels_of(endpoint_slice).get(MANAGED_BY) == CONTROLLER_NAME:
            for key in by_service(endpoint_slice):
                self.enqueue(key)

    async def reconcile(self, key: str) -> Result:
        namespace, _ = split_key(key)
        service = self.services.get_by_key(key)
        if service is None or not (service.get("spec") or {}).get("selector"):
            return Result()  # a deleted Service's slices go with it (ownerReferences); manual ones stay
        if not self._cache_caught_up(key):
            return Result(requeue_after=0.2)
        existing = [
            s
            for s in self.slices.by_index(SERVICE_INDEX, key)
            if labels_of(s).get(MANAGED_BY) == CONTROLLER_NAME
        ]
        pods = self.pods.by_index(NAMESPACE_INDEX, namespace)
        desired = slicing.desired_endpoints(service, pods)
        todo = slicing.plan(existing, desired, self.max_per_slice)
        written, deleted = self._written.setdefault(key, ({}, set()))
        for ports, endpoints in todo.create:
            created = await self.client.create(self._new_slice(service, ports, endpoints))
            written[name_of(created)] = _version(created)
        for current, ports, endpoints in todo.update:
            updated = copy.deepcopy(current)
            updated["ports"], updated["endpoints"] = ports, endpoints
            written[name_of(current)] = _version(await self.client.update(updated))
        for gone in todo.delete:
            try:
                await self.client.delete(ENDPOINTSLICES, name_of(gone), namespace)
            except ApiError as error:
                if error.code != 404:
                    raise
            deleted.add(name_of(gone))
        if not todo.empty:
            log.info(
                "endpoint slices synced",
                service=key,
                created=len(todo.create),
                updated=len(todo.update),
                deleted=len(todo.delete),
                endpoints=sum(len(e) for _, e in desired.values()),
            )
        return Result()

    def _cache_caught_up(self, key: str) -> bool:
        record = self._written.get(key)
        if record is None:
            return True
        namespace, _ = split_key(key)
        written, deleted = record
        for slice_name, version in written.items():
            cached = self.slices.get(namespace, slice_name)
            if cached is None or _version(cached) < version:
                return False
        if any(self.slices.get(namespace, slice_name) is not None for slice_name in deleted):
            return False
        del self._written[key]
        return True

    def _new_slice(self, service: Object, ports: list[Object], endpoints: list[Object]) -> dict[str, Any]:
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{name_of(service)}-",
                "namespace": namespace_of(service),
                "labels": {
                    LABEL_SERVICE_NAME: name_of(service),
                    MANAGED_BY: CONTROLLER_NAME,
                },
                "ownerReferences": [owner_reference(service)],
            },
            "addressType": "IPv4",
            "ports": ports,
            "endpoints": endpoints,
        }


def _version(obj: Object) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
