"""Adoption and release of dependents by label selector: Kubernetes' ``ControllerRefManager``.

An owner (a ReplicaSet, a Deployment) claims the objects its selector matches: those it controls already
stay claimed, orphans that match are adopted (a controller ``ownerReference`` is added), and those it
controls that no longer match are released (the reference is removed). Objects controlled by someone else
are never touched. Before its first adoption the owner is read again from the API server, so an owner that
was deleted or replaced meanwhile (the cache is stale) adopts nothing.

Writes are merge patches of the whole ``ownerReferences`` list guarded by the object's
``resourceVersion``: a concurrent change makes the patch fail with 409 and the reconcile is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.controller_manager.objects import (
    Object,
    controller_ref,
    is_deleting,
    meta,
    name_of,
    namespace_of,
    owner_reference,
    owner_refs,
    uid_of,
)
from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import ResourceType

log = get_logger(__name__)

Matches = Callable[[Mapping[str, Any]], bool]


class Claimer:
    def __init__(self, client: ApiClient, owner_rt: ResourceType, child_rt: ResourceType) -> None:
        self.client = client
        self.owner_rt = owner_rt
        self.child_rt = child_rt

    async def claim(self, owner: Object, matches: Matches, candidates: list[Object]) -> list[Object]:
        """The candidates ``owner`` controls after adopting matching orphans and releasing the rest."""
        claimed: list[Object] = []
        owner_checked: bool | None = None
        for child in candidates:
            ref = controller_ref(child)
            if ref is not None:
                if ref.get("uid") != uid_of(owner):
                    continue
                if matches(child):
                    claimed.append(child)
                elif not is_deleting(owner):
                    await self._release(owner, child)
                continue
            if is_deleting(owner) or is_deleting(child) or not matches(child):
                continue
            if owner_checked is None:
                owner_checked = await self._owner_still_valid(owner)
            if not owner_checked:
                continue
            adopted = await self._adopt(owner, child)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _owner_still_valid(self, owner: Object) -> bool:
        try:
            fresh = await self.client.get(self.owner_rt, name_of(owner), namespace_of(owner))
        except ApiError as error:
            if error.code == 404:
                return False
            raise
        return uid_of(fresh) == uid_of(owner) and not is_deleting(fresh)

    async def _adopt(self, owner: Object, child: Object) -> Object | None:
        refs = [dict(ref) for ref in owner_refs(child)] + [owner_reference(owner)]
        log.info("adopting", owner=name_of(owner), kind=self.child_rt.kind, name=name_of(child))
        return await self._patch_refs(child, refs)

    async def _release(self, owner: Object, child: Object) -> None:
        refs = [dict(ref) for ref in owner_refs(child) if ref.get("uid") != uid_of(owner)]
        log.info("releasing", owner=name_of(owner), kind=self.child_rt.kind, name=name_of(child))
        await self._patch_refs(child, refs)

    async def _patch_refs(self, child: Object, refs: list[Object]) -> Object | None:
        patch = {"metadata": {"ownerReferences": refs, "resourceVersion": meta(child).get("resourceVersion")}}
        try:
            return await self.client.patch(self.child_rt, name_of(child), patch, namespace_of(child))
        except ApiError as error:
            if error.code == 404:
                return None  # gone meanwhile: nothing to adopt or release
            raise
