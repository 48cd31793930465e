"""The namespace controller: a deleted namespace is emptied, then its ``kubernetes`` finalizer removed.

Deleting a Namespace only marks it (``deletionTimestamp``, phase ``Terminating``) because of the
``kubernetes`` entry in ``spec.finalizers``. :meth:`NamespaceController.reconcile` deletes every object of
every namespaced resource in it — read live from the API server, not from caches, so nothing created a
moment ago is missed — and looks again every ``sync_period`` while anything remains (pods finish their
graceful termination first). Once the namespace is empty it drops the finalizer, and the API server
removes the namespace.

The finalizer is dropped through the ``namespaces/finalize`` subresource, as in Kubernetes: the controller
manager may write a namespace's finalizers but not the rest of it.
"""

from __future__ import annotations

import copy

from services.controller_manager.controller import Context, Controller
from services.controller_manager.objects import NAMESPACES, Object, is_deleting, name_of
from shared.errors import ApiError
from shared.informer import Informer, key_of
from shared.logging import get_logger
from shared.models import RESOURCES
from shared.workqueue import Result

log = get_logger(__name__)

FINALIZER = "kubernetes"
FORBIDDEN_RETRY = 60.0
# Owners before what they own, so the owning controllers are not busy replacing what is being deleted.
_ORDER = ("deployments", "replicasets", "services", "endpointslices", "pods", "leases", "events")
NAMESPACED = sorted(
    (rt for rt in RESOURCES if rt.namespaced),
    key=lambda rt: _ORDER.index(rt.plural) if rt.plural in _ORDER else len(_ORDER),
)


class NamespaceController(Controller):
    name = "namespace"
    workers = 2

    def __init__(self, ctx: Context, sync_period: float) -> None:
        super().__init__(ctx)
        self.sync_period = sync_period
        self.namespaces: Informer = ctx.informers.get(NAMESPACES)
        self.namespaces.add_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, namespace: Object) -> None:
        if is_deleting(namespace):
            self.enqueue(key_of(namespace))

    async def reconcile(self, key: str) -> Result:
        namespace = self.namespaces.get_by_key(key)
        if namespace is None or not is_deleting(namespace):
            return Result()
        if FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or []):
            return Result()
        remaining = 0
        for rt in NAMESPACED:
            items = (await self.client.list(rt, key)).get("items") or []
            remaining += len(items)
            for item in items:
                if is_deleting(item):
                    continue
                try:
                    await self.client.delete(rt, name_of(item), key)
                except ApiError as error:
                    if error.code != 404:
                        raise
        if remaining:
            log.info("namespace not empty yet", namespace=key, remaining=remaining)
            return Result(requeue_after=self.sync_period)
        return await self._finalize(namespace)

    async def _finalize(self, namespace: Object) -> Result:
        finalized = copy.deepcopy(namespace)
        spec = finalized.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        try:
            await self.client.finalize_namespace(finalized)
        except ApiError as error:
            if error.code == 403:
                log.warning("namespace finalize refused", namespace=name_of(namespace), error=error.message)
                return Result(requeue_after=FORBIDDEN_RETRY)
            if error.code != 404:
                raise
        log.info("namespace finalized", namespace=name_of(namespace))
        return Result()
