"""The watch cache's copy of one resource's objects: key → entry, keys sorted, read from etcd in pages."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable

from services.apiserver.watch_cache.events import Entry, Obj
from services.etcd.client.api import CompactedError, KeyValue, KVClient, prefix_range_end
from shared.logging import get_logger

log = get_logger(__name__)

LIST_PAGE = 500


class ObjectStore:
    """Objects under ``prefix`` (``/registry/<resource>/``), each decoded with its resourceVersion set
    from its ``mod_revision``; sorted keys make ordered and per-namespace listing cheap."""

    def __init__(self, prefix: str, fields_of: Callable[[Obj], dict[str, str]]) -> None:
        self.prefix = prefix
        self._fields_of = fields_of
        self._objects: dict[str, Entry] = {}
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._objects)

    def get(self, key: str) -> Entry | None:
        return self._objects.get(key)

    def key(self, namespace: str | None, name: str) -> str:
        return self.prefix + (f"{namespace}/{name}" if namespace else name)

    def namespace_of(self, key: str) -> str:
        namespace, slash, _ = key[len(self.prefix) :].partition("/")
        return namespace if slash else ""

    def entries(self, namespace: str | None = None) -> list[Entry]:
        """Every entry, or a namespace's (``None`` or ``""``: all), in key order."""
        keys = self._keys
        if namespace:
            start = f"{self.prefix}{namespace}/"
            lo = bisect.bisect_left(keys, start)
            keys = keys[lo : bisect.bisect_left(keys, prefix_range_end(start), lo)]
        return [self._objects[key] for key in keys]

    def items(self) -> dict[str, Entry]:
        return self._objects

    def put(self, key: str, entry: Entry) -> None:
        if key not in self._objects:
            bisect.insort(self._keys, key)
        self._objects[key] = entry

    def remove(self, key: str) -> Entry | None:
        entry = self._objects.pop(key, None)
        if entry is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]
        return entry

    def replace(self, entries: dict[str, Entry]) -> None:
        self._objects = dict(entries)
        self._keys = sorted(entries)

    def decode(self, kv: KeyValue) -> Entry | None:
        """``kv``'s object with ``metadata.resourceVersion`` set; None (and a log line) for bad JSON."""
        try:
            obj = json.loads(kv.value)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            log.warning("undecodable object skipped", key=kv.key)
            return None
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return Entry(obj, self._fields_of(obj), kv.mod_revision)

    async def read(self, kv: KVClient) -> tuple[int, dict[str, Entry]]:
        """The prefix's objects as of one revision, read in pages of ``LIST_PAGE``; the first page is a
        linearizable read and fixes the revision. Restarted should that revision be compacted meanwhile."""
        end = prefix_range_end(self.prefix)
        while True:
            try:
                page = await kv.range(self.prefix, end, limit=LIST_PAGE)
                revision, kvs = page.header.revision, list(page.kvs)
                while page.more:
                    page = await kv.range(kvs[-1].key + "\0", end, limit=LIST_PAGE, revision=revision)
                    kvs.extend(page.kvs)
            except CompactedError:
                continue
            return revision, {item.key: entry for item in kvs if (entry := self.decode(item)) is not None}
