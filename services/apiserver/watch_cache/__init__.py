"""The API server's watch cache: per resource, its objects and recent events, kept current by one etcd watch.

It is Kubernetes' cacher (``k8s.io/apiserver/pkg/storage/cacher``) in small. :meth:`WatchCache.start`
lists ``/registry/<resource>/`` and follows it with a single etcd watch; from then on lists, gets and every
client watch of the resource are served from memory, so etcd carries one watch per resource per API server
however many clients watch. ResourceVersions are etcd revisions. A cache holds:

- the current objects, key → object, each with ``metadata.resourceVersion`` set from its ``mod_revision``;
- the last ``window`` events, so that a watch can resume from a resourceVersion; one older than the window
  covers gets an ``ERROR`` event with a 410 ``Expired`` Status, as from Kubernetes;
- its own resourceVersion, advanced by events and by etcd's progress notices (``wait_until_fresh``).

Decisions, where Kubernetes left a choice or where we differ from it:

- **Compaction.** When the etcd watch cannot resume because its revision was compacted, the cache lists
  again and emits the difference as events: ADDED/MODIFIED at each object's own revision, DELETED at the
  list's revision, in revision order. Watchers stay connected and converge on the listed state; the
  versions in between are lost, as they are for an informer that re-lists. Kubernetes instead closes
  every watcher and lets each client re-list — with a thousand kubelets, a thousand lists at once.
- **Slow watchers.** Each watcher has a bounded queue of live events. When the cache finds it full, the
  watcher is terminated: it still yields what was queued, then ends with ``reason == "overflow"`` and no
  ERROR event, as Kubernetes closes an unresponsive watcher; the client re-watches from its last
  resourceVersion (and gets a 410 only if that has left the window meanwhile).
- **Shared objects.** Objects returned by ``list`` and ``get`` and carried by events are the cache's own
  dicts, shared by every reader: treat them as read-only.
- **Resuming from before the cache started.** A cache starts with an empty window at the revision it
  listed, so in Kubernetes a client whose replica died and who re-watches on a freshly started one gets
  410 and re-lists (KEP-1904 narrows this with progress notices and bookmarks on graceful shutdown, but
  not after a crash). Here the window counts ``window`` events whether or not the cache saw them: while it
  holds fewer, a watch from before its start is served the missing changes from etcd's history first
  (``history.py``), so losing a replica is invisible to watchers, as it is to other requests. Only a
  resourceVersion older than ``window`` events, or compacted, gets the 410.
- **Future resourceVersions.** A watch from a revision the cache has not reached (another replica's cache
  was ahead) skips the events up to it instead of failing; a caller that needs a state at least that new
  (``send_initial_events``) awaits ``wait_until_fresh`` first.
"""

from services.apiserver.watch_cache.cache import WatchCache
from services.apiserver.watch_cache.events import (
    INITIAL_EVENTS_END,
    FieldsOf,
    Obj,
    TooLargeResourceVersionError,
    WatchEventDict,
    selectable_fields,
)
from services.apiserver.watch_cache.watcher import CacheWatcher

__all__ = [
    "INITIAL_EVENTS_END",
    "CacheWatcher",
    "FieldsOf",
    "Obj",
    "TooLargeResourceVersionError",
    "WatchCache",
    "WatchEventDict",
    "selectable_fields",
]
