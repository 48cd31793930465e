"""The API server's request bodies and headers over NATS: one schema that server and clients share.

Subjects are ``api.<group>.<version>.<resource>.<verb>`` (:func:`shared.subjects.api`), with verbs
:data:`VERBS` and the subresource verbs :data:`SUBRESOURCE_VERBS`. Every request carries the header
``Authorization: Bearer <token>``. Replies are Kubernetes objects (``Pod``, ``PodList``, …) or, on
failure, a ``Status`` with the NATS micro error headers.

A watch is a request on the ``watch`` verb naming a ``deliver`` subject. The reply says the watch
started; then every event arrives on ``deliver`` as a ``WatchEvent`` (``{type, object}``) with the
header ``Watch-Seq`` counting 1, 2, … so a client that sees a gap re-watches from the last
``resourceVersion`` it processed. ``ERROR`` events carry a ``Status`` (410 when the version is too
old: list again, then watch from the list's ``resourceVersion``). Messages with the header
``Watch-Ping`` and no ``Watch-Seq`` are liveness probes: clients ignore them, and the server drops a
watch whose ``deliver`` subject has no subscriber any more.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.podlogs import PodLogOptions

AUTHORIZATION_HEADER: Final = "Authorization"
WATCH_SEQ_HEADER: Final = "Watch-Seq"
WATCH_PING_HEADER: Final = "Watch-Ping"

VERBS: Final = ("create", "get", "list", "update", "patch", "delete", "watch", "deletecollection")
"""``deletecollection`` deletes what a ``list`` with the same selectors finds, each object as ``delete``
would, and answers that list; namespaced resources need a ``namespace``."""
SUBRESOURCE_VERBS: Final = ("status", "binding", "scale", "eviction", "finalize", "log")
"""Subresources addressed as verbs: ``status`` reads, updates or patches the status; ``scale`` reads,
updates or patches the scale; ``binding`` and ``eviction`` create one; ``finalize`` (namespaces) replaces
``spec.finalizers`` only, as the namespace controller does to let a deleted namespace go; ``log`` (pods)
reads a container's log through the pod's kubelet, with ``logOptions``, and answers
:class:`~shared.podlogs.PodLogs`."""

PatchType = Literal[
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]


class ApiRequest(BaseModel):
    """The body of every API request; which fields a verb reads is in each field's description."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    namespace: str = Field(default="", description="the object's namespace (namespaced resources)")
    name: str = Field(default="", description="the object's name (get, update, patch, delete, subresources)")
    body: dict[str, Any] | None = Field(
        default=None, description="the object (create, update; status/scale/binding/eviction writes)"
    )
    patch: Any = Field(default=None, description="the patch document (patch; status/scale patches)")
    patch_type: PatchType = Field(default="application/merge-patch+json", alias="patchType")
    field_manager: str = Field(
        default="",
        alias="fieldManager",
        description="writes: the manager recorded in managedFields ('unknown' if empty); required to apply",
    )
    force: bool = Field(default=False, description="apply: take over fields other managers own")
    field_validation: str = Field(
        default="",
        alias="fieldValidation",
        description="writes: unknown fields are 'Strict' (refused), 'Warn' (the default: dropped, with a "
        "Warning reply header) or 'Ignore' (dropped)",
    )
    dry_run: list[str] = Field(
        default_factory=list,
        alias="dryRun",
        description="writes: ['All'] runs the request in full but stores, publishes and allocates nothing",
    )
    label_selector: str = Field(default="", alias="labelSelector")
    field_selector: str = Field(default="", alias="fieldSelector")
    resource_version: str = Field(
        default="",
        alias="resourceVersion",
        description="list: read at least this fresh ('' = consistent read); watch: start after it",
    )
    resource_version_match: Literal["Exact", "NotOlderThan"] | None = Field(
        default=None,
        alias="resourceVersionMatch",
        description="list: 'Exact' reads at resourceVersion; 'NotOlderThan' (or none) at least that fresh",
    )
    limit: int = Field(default=0, ge=0, description="list: at most this many items, then a continue token")
    continue_: str = Field(default="", alias="continue", description="list: the token of the previous page")
    grace_period_seconds: int | None = Field(default=None, alias="gracePeriodSeconds", ge=0)
    propagation_policy: Literal["Orphan", "Background", "Foreground"] | None = Field(
        default=None, alias="propagationPolicy"
    )
    deliver: str = Field(default="", description="watch: the subject events are streamed to")
    allow_watch_bookmarks: bool = Field(default=False, alias="allowWatchBookmarks")
    send_initial_events: bool | None = Field(
        default=None,
        alias="sendInitialEvents",
        description="watch: start with an ADDED event per existing object, then a BOOKMARK",
    )
    log_options: PodLogOptions | None = Field(
        default=None, alias="logOptions", description="log: which container and which of its lines"
    )
