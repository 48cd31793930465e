"""Shared informers: one cache per resource for every controller in the manager, as client-go's factory.

Controllers ask for an informer while they are built (``informers.get(PODS)``), add their handlers and
indexes, and the manager starts every informer once all controllers are built, then waits for all of them
to sync before any worker runs. A second ``get`` of the same resource returns the same informer, so the
pods are listed and watched once however many controllers read them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from services.controller_manager.objects import controller_ref, node_of, owner_refs
from shared.apiclient import ApiClient
from shared.informer import IndexFunc, Informer, Object
from shared.models import ResourceType

CONTROLLER_UID_INDEX = "controller-uid"
OWNER_UID_INDEX = "owner-uid"
NODE_INDEX = "node"


def by_controller_uid(obj: Object) -> list[str]:
    ref = controller_ref(obj)
    return [str(ref.get("uid"))] if ref is not None and ref.get("uid") else []


def by_owner_uid(obj: Object) -> list[str]:
    return [str(ref.get("uid")) for ref in owner_refs(obj) if ref.get("uid")]


def by_node(obj: Object) -> list[str]:
    node = node_of(obj)
    return [node] if node else []


class SharedInformers:
    def __init__(self, client: ApiClient, resync_period: float | None = None) -> None:
        self.client = client
        self.resync_period = resync_period
        self._informers: dict[str, Informer] = {}
        self._started = False

    def get(self, rt: ResourceType) -> Informer:
        key = f"{rt.group}/{rt.plural}"
        informer = self._informers.get(key)
        if informer is None:
            if self._started:
                raise RuntimeError(f"informer for {rt.plural} requested after start")
            informer = Informer(self.client, rt, resync_period=self.resync_period)
            self._informers[key] = informer
        return informer

    def ensure_index(self, rt: ResourceType, name: str, fn: IndexFunc) -> Informer:
        """The informer of ``rt`` with index ``name`` (added once, however many controllers ask)."""
        informer = self.get(rt)
        # Another controller may have added it already; the functions are the same module-level ones.
        with contextlib.suppress(ValueError):
            informer.add_index(name, fn)
        return informer

    def all(self) -> Iterable[Informer]:
        return list(self._informers.values())

    async def start(self, sync_timeout: float = 60.0) -> bool:
        """Start every informer and wait until all have delivered their first list."""
        self._started = True
        for informer in self._informers.values():
            await informer.start()
        results = await asyncio.gather(*(i.wait_for_sync(sync_timeout) for i in self._informers.values()))
        return all(results)

    async def stop(self) -> None:
        await asyncio.gather(*(informer.stop() for informer in self._informers.values()))
