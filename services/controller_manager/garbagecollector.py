"""The garbage collector: dependents follow their owners' deletion, as ``ownerReferences`` say.

Modelled on Kubernetes' ``pkg/controller/garbagecollector``, over the shared informers of the kinds the
manager watches (pods, ReplicaSets, Deployments, EndpointSlices), indexed by owner uid:

* **Background** (the default): a dependent whose owners are all gone is deleted; one that lost only
  some owners has those references removed. "Gone" is checked against the API server before acting — a
  cache miss alone is not proof, since an owner may be newer than the cache.
* **Foreground**: an owner being deleted with the ``foregroundDeletion`` finalizer has its dependents
  deleted (in foreground too); once none that blocks it (``blockOwnerDeletion``) is left, the finalizer is
  removed and the owner goes.
* **Orphan**: an owner being deleted with the ``orphan`` finalizer has its references removed from its
  dependents, then the finalizer.

Keys are ``dependent|<plural>|<ns/name>`` (check this object's owners) and ``owner|<plural>|<ns/name>``
(finish this owner's foreground or orphan deletion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.controller_manager.controller import Context, Controller
from services.controller_manager.informers import OWNER_UID_INDEX, by_owner_uid
from services.controller_manager.objects import (
    DEPLOYMENTS,
    ENDPOINTSLICES,
    PODS,
    REPLICASETS,
    SERVICES,
    Object,
    is_deleting,
    meta,
    name_of,
    namespace_of,
    owner_refs,
    uid_of,
)
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from shared.informer import Informer, key_of
from shared.logging import get_logger
from shared.models import ResourceType, resource_for_kind
from shared.workqueue import Result

log = get_logger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
MONITORED = (PODS, REPLICASETS, DEPLOYMENTS, ENDPOINTSLICES, SERVICES)
ABSENT, PRESENT, FOREGROUND_DELETING = "absent", "present", "foreground"


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 4
    tick_period = 30.0
    """How often every dependent whose owner is missing from the caches is checked again: a backstop for
    an owner deleted while this manager was not running (its DELETED event was never seen)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.informers: dict[str, Informer] = {}
        self.types: dict[str, ResourceType] = {}
        for rt in MONITORED:
            informer = ctx.informers.ensure_index(rt, OWNER_UID_INDEX, by_owner_uid)
            self.informers[rt.plural], self.types[rt.plural] = informer, rt
            self._watch(informer, rt.plural)

    def _watch(self, informer: Informer, plural: str) -> None:
        def changed(obj: Object) -> None:
            self._changed(plural, obj)

        def updated(old: Object, new: Object) -> None:
            self._changed(plural, new)

        informer.add_handler(on_add=changed, on_update=updated, on_delete=self._deleted)

    # --- handlers ------------------------------------------------------------------------------------

    def _changed(self, plural: str, obj: Object) -> None:
        if owner_refs(obj):
            self.enqueue(f"dependent|{plural}|{key_of(obj)}")
        finalizers = meta(obj).get("finalizers") or []
        if is_deleting(obj) and (FOREGROUND in finalizers or ORPHAN in finalizers):
            self.enqueue(f"owner|{plural}|{key_of(obj)}")

    def _deleted(self, obj: Object) -> None:
        for plural, dependent in self._dependents(uid_of(obj)):
            self.enqueue(f"dependent|{plural}|{key_of(dependent)}")

    def _dependents(self, owner_uid: str) -> list[tuple[str, Object]]:
        return [
            (plural, dependent)
            for plural, informer in self.informers.items()
            for dependent in informer.by_index(OWNER_UID_INDEX, owner_uid)
        ]

    async def tick(self) -> None:
        for plural, informer in self.informers.items():
            for obj in informer.list():
                if any(self._cached_owner(ref, namespace_of(obj)) is None for ref in owner_refs(obj)):
                    self.enqueue(f"dependent|{plural}|{key_of(obj)}")

    def _cached_owner(self, ref: Mapping[str, Any], namespace: str) -> Object | None:
        rt = resource_for_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        informer = self.informers.get(rt.plural) if rt is not None else None
        if rt is None or informer is None:
            return {}  # not a kind watched here: only a live read can tell, and _owner_state does that
        owner = informer.get(namespace if rt.namespaced else "", str(ref.get("name")))
        return owner if owner is not None and uid_of(owner) == ref.get("uid") else None

    # --- reconcile -----------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        role, plural, object_key = key.split("|", 2)
        obj = self.informers[plural].get_by_key(object_key)
        if obj is None:
            return Result()
        if role == "owner":
            return await self._finish_owner(plural, obj)
        return await self._check_dependent(plural, obj)

    async def _check_dependent(self, plural: str, obj: Object) -> Result:
        if is_deleting(obj):
            return Result()
        refs = owner_refs(obj)
        states = [await self._owner_state(ref, namespace_of(obj)) for ref in refs]
        if not refs or all(state == PRESENT for state in states):
            return Result()
        if all(state == ABSENT for state in states):
            log.info("deleting dependent of deleted owners", kind=plural, object=key_of(obj))
            await self._delete(plural, obj, "Background")
        elif ABSENT in states:
            solid = [dict(ref) for ref, state in zip(refs, states, strict=True) if state != ABSENT]
            await self._patch_meta(plural, obj, {"ownerReferences": solid})
        elif PRESENT not in states:
            # Every remaining owner waits for its dependents: this one goes first, in foreground too.
            await self._delete(plural, obj, "Foreground")
        return Result()

    async def _owner_state(self, ref: Mapping[str, Any], namespace: str) -> str:
        rt = resource_for_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        if rt is None:
            return PRESENT  # a kind this cluster does not serve cannot be checked: never guess "gone"
        owner_ns = namespace if rt.namespaced else ""
        informer = self.informers.get(rt.plural)
        owner = informer.get(owner_ns, str(ref.get("name"))) if informer is not None else None
        if owner is None or uid_of(owner) != ref.get("uid"):
            try:
                owner = await self.client.get(rt, str(ref.get("name")), owner_ns)
            except ApiError as error:
                if error.code == 404:
                    return ABSENT
                raise
            if uid_of(owner) != ref.get("uid"):
                return ABSENT  # a new object under the old name is not the owner
        if is_deleting(owner) and FOREGROUND in (meta(owner).get("finalizers") or []):
            return FOREGROUND_DELETING
        return PRESENT

    async def _finish_owner(self, plural: str, owner: Object) -> Result:
        finalizers = list(meta(owner).get("finalizers") or [])
        dependents = self._dependents(uid_of(owner))
        if ORPHAN in finalizers:
            for dep_plural, dependent in dependents:
                refs = [dict(r) for r in owner_refs(dependent) if r.get("uid") != uid_of(owner)]
                await self._patch_meta(dep_plural, dependent, {"ownerReferences": refs})
            finalizers.remove(ORPHAN)
        elif FOREGROUND in finalizers:
            blocking = 0
            for dep_plural, dependent in dependents:
                ref = next(r for r in owner_refs(dependent) if r.get("uid") == uid_of(owner))
                if not is_deleting(dependent):
                    await self._delete(dep_plural, dependent, "Foreground")
                if ref.get("blockOwnerDeletion"):
                    blocking += 1
            if blocking:
                return Result(requeue_after=1.0)  # their deletions re-enqueue us too; this is a backstop
            finalizers.remove(FOREGROUND)
        else:
            return Result()
        log.info("owner finalized", kind=plural, object=key_of(owner), dependents=len(dependents))
        await self._patch_meta(plural, owner, {"finalizers": finalizers})
        return Result()

    # --- writes --------------------------------------------------------------------------------------

    async def _delete(self, plural: str, obj: Object, policy: str) -> None:
        request = ApiRequest.model_validate(
            {"namespace": namespace_of(obj), "name": name_of(obj), "propagationPolicy": policy}
        )
        try:
            await self.client.call(self.types[plural], "delete", request)
        except ApiError as error:
            if error.code != 404:
                raise

    async def _patch_meta(self, plural: str, obj: Object, fields: dict[str, Any]) -> None:
        patch = {"metadata": {**fields, "resourceVersion": meta(obj).get("resourceVersion")}}
        try:
            await self.client.patch(self.types[plural], name_of(obj), patch, namespace_of(obj))
        except ApiError as error:
            if error.code != 404:
                raise
