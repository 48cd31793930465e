"""Events from before a watch cache's window, read back from etcd's history for a watch that resumes there.

A cache starts with an empty window at the revision it listed. A client that resumes from an older
resourceVersion — typically because the replica serving its watch died and it re-watched on one that
has just (re)started — would get 410 Expired and have to list again, though etcd still holds every
change it missed. The cache promises ``window`` events, so a window that is not full yet is topped up
from etcd's history: :func:`read_history` returns the changes in ``(after, upto]`` as cache events, or
None when they are more than the room left (or compacted), and the watch then gets its 410 after all.
"""

from __future__ import annotations

from services.apiserver.watch_cache.events import Entry, Event, with_rv
from services.apiserver.watch_cache.store import ObjectStore
from services.etcd.client.api import KVClient, UnavailableError, WatchEvent

Events = list[Event]


async def read_history(kv: KVClient, store: ObjectStore, after: int, upto: int, limit: int) -> Events | None:
    """The changes under ``store.prefix`` with revisions in ``(after, upto]``, oldest first; None if there
    are more than ``limit`` or ``after + 1`` is compacted. Raises the etcd client's error otherwise, and
    :class:`UnavailableError` should the watch end before it got that far.

    A change beyond ``upto`` shows that every change up to it is in; so does a progress notice at or
    beyond it, since etcd sends those only to a watch that has caught up with its history."""
    events: Events = []
    if limit < 1:
        return None
    async with await kv.watch(store.prefix, prefix=True, start_revision=after + 1, prev_kv=True) as watch:
        async for response in watch:
            if response.canceled:
                return None  # compacted: these changes are gone for everyone
            for change in response.events:
                if change.kv.mod_revision > upto:
                    return events
                event = history_event(store, change)
                if event is not None:
                    if len(events) == limit:
                        return None
                    events.append(event)
            if not response.events and response.header.revision >= upto:
                return events
    raise UnavailableError("the history watch ended before reaching the cache's start")


def history_event(store: ObjectStore, change: WatchEvent) -> Event | None:
    """``change`` as the cache records it, with the version it replaced taken from etcd's ``prev_kv``
    (the cache's own copy is newer by now). None for an object that does not decode."""
    key, rv = change.kv.key, change.kv.mod_revision
    namespace = store.namespace_of(key)
    prev = store.decode(change.prev_kv) if change.prev_kv is not None else None
    if change.type == "PUT":
        cur = store.decode(change.kv)
        if cur is None:
            return None
        created = change.kv.create_revision == rv
        return Event("ADDED" if created else "MODIFIED", key, namespace, rv, cur, None if created else prev)
    if prev is None:
        return None
    return Event("DELETED", key, namespace, rv, Entry(with_rv(prev.obj, rv), prev.fields, rv), prev)
