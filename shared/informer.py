"""An informer: a local cache of one resource, kept current by list + watch, that calls handlers on changes.

It works like client-go's reflector and shared informer (``tools/cache``), scaled down::

    pods = Informer(client, PODS, "default")
    pods.add_index("node", lambda pod: [pod.get("spec", {}).get("nodeName") or ""])
    pods.add_handler(on_add=lambda pod: queue.add(key_of(pod)))
    await pods.start()
    await pods.wait_for_sync(10)
    pods.by_index("node", "worker-1")

It lists in pages, fills the store and calls ``on_add`` for each object, then watches from the list's
resourceVersion and applies each event to the store before calling the handlers. When the watch ends — an
``ERROR`` 410 because the version left the server's window, or any failure — it lists again and delivers
only the differences (client-go's ``Replace``): ``on_add`` for new objects, ``on_update`` for changed
ones, ``on_delete`` with the last known state for vanished ones, nothing for unchanged ones. With a
``resync_period`` every object is handed to ``on_update(obj, obj)`` that often, so a controller that
missed something reconciles it anyway. Handlers run one at a time in event order, sync or async; per
STYLE.md §5 they should only enqueue a key. Objects in the store are shared: treat them as read-only.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.apiclient import ApiClient
from shared.logging import get_logger
from shared.models import ResourceType

log = get_logger(__name__)

Object = dict[str, Any]
OnAdd = Callable[[Object], Awaitable[None] | None]
OnUpdate = Callable[[Object, Object], Awaitable[None] | None]
OnDelete = Callable[[Object], Awaitable[None] | None]
IndexFunc = Callable[[Object], Iterable[str]]
Objects = list[Object]  # named here: inside Informer, ``list`` is the method
Keys = list[str]

NAMESPACE_INDEX = "namespace"
PAGE_SIZE = 500
MAX_BACKOFF = 5.0
HEALTHY_WATCH = 10.0  # a watch that lasted this long resets the back-off between list/watch cycles


def key_of(obj: Object) -> str:
    """The work-queue key of an object: ``namespace/name``, or ``name`` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    return f"{namespace}/{name}" if namespace else str(name)


def split_key(key: str) -> tuple[str, str]:
    """``("default", "web")`` from ``default/web``; ``("", "worker-1")`` from ``worker-1``."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def _namespace_of(obj: Object) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def _version_of(obj: Object) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


@dataclass(frozen=True, slots=True)
class _Handlers:
    on_add: OnAdd | None
    on_update: OnUpdate | None
    on_delete: OnDelete | None


class Informer:
    def __init__(
        self,
        client: ApiClient,
        rt: ResourceType,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resync_period: float | None = None,
    ) -> None:
        self.client = client
        self.rt = rt
        self.namespace = namespace if rt.namespaced else ""
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.resource_version = ""
        """The version the store reflects: the last list's, then each watch event's."""
        self.lists = 0
        """How many complete lists the informer has made (1 + re-lists)."""
        self._objects: dict[str, Object] = {}
        self._index_funcs: dict[str, IndexFunc] = {NAMESPACE_INDEX: _namespace_of}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        self._handlers: list[_Handlers] = []
        self._synced = asyncio.Event()
        # Watch events, re-list differences and resyncs are delivered under one lock, so handlers see
        # them in order and never interleave (an async handler may yield mid-way).
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    # --- handlers and indexes (register before start) ------------------------------------------------

    def add_handler(
        self,
        *,
        on_add: OnAdd | None = None,
        on_update: OnUpdate | None = None,
        on_delete: OnDelete | None = None,
    ) -> None:
        if self._tasks:
            # A late handler would need the store replayed as ADDED (client-go does that); this has none.
            raise RuntimeError("add handlers before start()")
        self._handlers.append(_Handlers(on_add, on_update, on_delete))

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Index the store by ``fn(obj)`` (the values an object is found under), for :meth:`by_index`."""
        if name in self._index_funcs:
            raise ValueError(f"index {name!r} exists already")
        self._index_funcs[name] = fn
        self._indices[name] = {}
        for key, obj in self._objects.items():
            for value in fn(obj):
                self._indices[name].setdefault(value, set()).add(key)

    # --- the store ---------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> Object | None:
        return self._objects.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Object | None:
        return self._objects.get(key)

    def list(self) -> Objects:
        return list(self._objects.values())

    def keys(self) -> Keys:
        return list(self._objects)

    def by_index(self, name: str, value: str) -> Objects:
        """The objects ``add_index(name, fn)``'s ``fn`` maps to ``value``, in key order."""
        if name not in self._indices:
            raise KeyError(f"no index {name!r}")
        return [self._objects[key] for key in sorted(self._indices[name].get(value, ()))]

    def _put(self, key: str, obj: Object) -> Object | None:
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        for name, fn in self._index_funcs.items():
            for value in fn(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def _remove(self, key: str) -> Object | None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: Object) -> None:
        for name, fn in self._index_funcs.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        """True once the first list has been delivered to the handlers."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait for the first list to be delivered; False if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """List and watch in the background; :meth:`wait_for_sync` tells when the store is full."""
        if self._tasks:
            raise RuntimeError("the informer has started already")
        name = f"informer-{self.rt.plural}"
        self._tasks.append(asyncio.create_task(self._run(), name=name))
        if self.resync_period:
            self._tasks.append(asyncio.create_task(self._resync(self.resync_period), name=f"{name}-resync"))

    async def stop(self) -> None:
        """Stop the list/watch loop and the resync; the current watch is ended on the way out."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Informer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- list and watch ----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.0
        while True:
            began = loop.time()
            try:
                await self._list_and_replace()
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("informer list/watch failed", resource=self.rt.plural, error=repr(error))
            # A watch that keeps ending at once (or a failing list) must not spin: back off, but only
            # until a watch has held for a while.
            delay = 0.0 if loop.time() - began >= HEALTHY_WATCH else min(max(delay * 2, 0.1), MAX_BACKOFF)
            await asyncio.sleep(delay)

    async def _list_and_replace(self) -> None:
        listed: dict[str, Object] = {}
        version, token = "", ""
        while True:
            page = await self.client.list(
                self.rt,
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=PAGE_SIZE,
                continue_token=token,
            )
            meta = page.get("metadata") or {}
            # Every page is read at the first page's revision, so that is the list's version.
            version = version or str(meta.get("resourceVersion") or "")
            for item in page.get("items") or []:
                listed[key_of(item)] = item
            token = str(meta.get("continue") or "")
            if not token:
                break
        async with self._lock:
            for key in [key for key in self._objects if key not in listed]:
                gone = self._remove(key)
                if gone is not None:
                    await self._deliver_delete(gone)
            for key, obj in listed.items():
                old = self._put(key, obj)
                if old is None:
                    await self._deliver_add(obj)
                elif _version_of(old) != _version_of(obj):
                    await self._deliver_update(old, obj)
            self.resource_version = version
            self.lists += 1
        self._synced.set()

    async def _watch(self) -> None:
        watch = await self.client.watch(
            self.rt,
            self.namespace,
            resource_version=self.resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            allow_bookmarks=True,
        )
        try:
            async for event in watch:
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    # 410 Expired above all: the caller re-lists, which is the remedy for every error.
                    log.info("informer watch ended", resource=self.rt.plural, code=obj.get("code"))
                    return
                version = _version_of(obj)
                if kind != "BOOKMARK":
                    async with self._lock:
                        await self._apply(str(kind), obj)
                if version:
                    self.resource_version = version
        finally:
            await watch.stop()

    async def _apply(self, kind: str, obj: Object) -> None:
        key = key_of(obj)
        if kind == "DELETED":
            # The event carries the final state, fresher than the store's copy.
            self._remove(key)
            await self._deliver_delete(obj)
        elif kind in ("ADDED", "MODIFIED"):
            old = self._put(key, obj)
            if old is None:
                await self._deliver_add(obj)
            else:
                await self._deliver_update(old, obj)

    async def _resync(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            if not self.has_synced:
                continue
            async with self._lock:
                for obj in list(self._objects.values()):
                    await self._deliver_update(obj, obj)

    # --- delivery ----------------------------------------------------------------------------------

    async def _deliver_add(self, obj: Object) -> None:
        for handlers in self._handlers:
            if handlers.on_add is not None:
                await self._call("add", handlers.on_add, obj)

    async def _deliver_update(self, old: Object, new: Object) -> None:
        for handlers in self._handlers:
            if handlers.on_update is not None:
                await self._call("update", handlers.on_update, old, new)

    async def _deliver_delete(self, obj: Object) -> None:
        for handlers in self._handlers:
            if handlers.on_delete is not None:
                await self._call("delete", handlers.on_delete, obj)

    async def _call(self, what: str, handler: Callable[..., Awaitable[None] | None], *args: Object) -> None:
        # A failing handler is logged, not propagated: it must not stop the cache or other handlers.
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception(
                "informer handler failed", resource=self.rt.plural, handler=what, key=key_of(args[-1])
            )
