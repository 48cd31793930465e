"""The ``deletecollection`` verb: delete every object a list selects, each through the single-object delete.

Kubernetes' generic store does it this way (``Store.DeleteCollection``), and so does this module: list with
the request's label and field selectors (a bad selector is a 400 before anything is deleted), then delete
each listed object exactly as a ``delete`` of it by name would — a bound pod is marked for graceful
deletion, an object with finalizers is marked and waits, the propagation policy adds its finalizer, a dry
run stores nothing. An object that is already gone when its turn comes is skipped. The reply is the list as
it was read, before the deletes (``PodList``, …), as kube-apiserver answers; the first delete that fails
fails the request, and the objects deleted before it stay deleted (the verb is not atomic in Kubernetes
either).

Which resources serve the verb is decided here, for both fronts and for discovery: every stored resource
but namespaces (a namespace is deleted one at a time, and its controller then empties it). A namespaced
resource needs a namespace: kube-apiserver serves the path across all namespaces (``/api/v1/pods``) for
list and watch only, and answers a DELETE there with 405.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from services.apiserver.metrics import METRICS_RESOURCES
from services.apiserver.objects import Object
from services.apiserver.registry import Registry
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from shared.models import ResourceType

NOT_COLLECTION_DELETABLE = frozenset({"namespaces"})
"""Stored resources whose collection kube-apiserver does not delete (its REST storage lacks the verb)."""

DELETE_WORKERS = 4
"""How many deletes of one collection run at once: kube-apiserver's ``--delete-collection-workers``, whose
default is 1; a few at once keep a large collection within a client's request timeout."""


def serves_delete_collection(rt: ResourceType) -> bool:
    """Whether ``rt`` serves ``deletecollection`` (and discovery lists the verb for it)."""
    return rt.plural not in NOT_COLLECTION_DELETABLE and rt not in METRICS_RESOURCES


def method_not_allowed() -> ApiError:
    """kube-apiserver's answer to a method its router has no route for on the path."""
    return ApiError(
        405, "the server does not allow this method on the requested resource", reason="MethodNotAllowed"
    )


def check_collection_delete(rt: ResourceType, namespace: str) -> None:
    """ApiError 405 unless ``rt``'s collection in ``namespace`` ('' = all) may be deleted."""
    if not serves_delete_collection(rt) or (rt.namespaced and not namespace):
        raise method_not_allowed()


async def list_requested(registry: Registry, rt: ResourceType, request: ApiRequest) -> Object:
    """The list ``request`` reads: its namespace, label and field selectors, page and resourceVersion (the
    ``list`` verb's reply, and what ``deletecollection`` deletes)."""
    return await registry.list(
        rt,
        request.namespace,
        label_selector=request.label_selector,
        field_selector=request.field_selector,
        limit=request.limit,
        continue_token=request.continue_,
        resource_version=request.resource_version,
        resource_version_match=request.resource_version_match or "",
    )


async def delete_collection(registry: Registry, rt: ResourceType, request: ApiRequest) -> Object:
    """Delete what a list with ``request``'s selectors (and paging) finds; the list read is the reply.

    With a ``limit`` only that one page is deleted, and the reply carries its ``continue`` token, as
    Kubernetes does; without one every matching object is.
    """
    check_collection_delete(rt, request.namespace)
    listed = await list_requested(registry, rt, request)
    targets = iter(list(listed["items"]))
    failures: list[Exception] = []
    async with asyncio.TaskGroup() as workers:
        for _ in range(min(DELETE_WORKERS, len(listed["items"]))):
            workers.create_task(_delete_each(registry, rt, request, targets, failures))
    if failures:
        raise failures[0]
    return listed


async def _delete_each(
    registry: Registry,
    rt: ResourceType,
    request: ApiRequest,
    targets: Iterator[Object],
    failures: list[Exception],
) -> None:
    """One worker: delete the next target until none is left or a delete fails (then stop, as Kubernetes'
    workers do; the others finish the rest)."""
    for obj in targets:
        meta = obj.get("metadata", {})
        try:
            await registry.delete(
                rt,
                meta.get("namespace", ""),
                meta.get("name", ""),
                request.grace_period_seconds,
                request.propagation_policy,
            )
        except Exception as error:  # kept as raised, for the request's reply; a group would hide it
            if isinstance(error, ApiError) and error.code == 404:
                continue  # deleted meanwhile by someone else: what was asked is done
            failures.append(error)
            return
