"""The ReplicaSet controller: keeps ``spec.replicas`` pods alive per ReplicaSet, and reports its status.

Level-triggered, as Kubernetes' ``pkg/controller/replicaset``: pod and ReplicaSet events only enqueue the
ReplicaSet's key; :meth:`ReplicaSetController.reconcile` claims the pods its selector matches (adopting
orphans, releasing those that no longer match), creates or deletes pods to reach ``spec.replicas`` and
writes ``status`` through the status subresource.

A slow cache never causes extra pods: before creating or deleting, the controller records its
:class:`~services.controller_manager.expectations.Expectations`, and does not manage the ReplicaSet again
until its informer has seen every pod it created or deleted. Creations go in slow-start batches (1, 2, 4,
…) so a template the API server refuses fails once, not ``replicas`` times. Pods are deleted in the order
of :mod:`~services.controller_manager.ranking`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from services.controller_manager import replicaset_status
from services.controller_manager.claim import Claimer
from services.controller_manager.controller import Context, Controller
from services.controller_manager.expectations import Expectations
from services.controller_manager.informers import (
    CONTROLLER_UID_INDEX,
    by_controller_uid,
)
from services.controller_manager.objects import (
    PODS,
    REPLICASETS,
    Object,
    controller_ref,
    is_deleting,
    is_pod_active,
    is_pod_ready,
    labels_of,
    meta,
    name_of,
    namespace_of,
    owner_reference,
    selector_matches,
    uid_of,
)
from services.controller_manager.ranking import pods_to_delete
from shared.errors import ApiError
from shared.informer import NAMESPACE_INDEX, Informer, key_of, split_key
from shared.logging import get_logger
from shared.workqueue import Result

log = get_logger(__name__)

BURST_REPLICAS = 500
"""Kubernetes' ``BurstReplicas``: at most this many creations or deletions per reconcile."""
SLOW_START_INITIAL_BATCH = 1


def slow_start_sizes(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes for ``count`` calls: ``initial``, then doubling, the last trimmed (1, 2, 4, 3 for 10)."""
    sizes, remaining, size = [], count, min(count, initial)
    while size > 0:
        sizes.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return sizes


async def slow_start_batch(count: int, call: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Run ``call`` ``count`` times in growing batches; stop after the first batch with a failure.

    Returns how many calls succeeded and the first error. Calls never started are the caller's to account.
    """
    successes = 0
    for size in slow_start_sizes(count):
        results = await asyncio.gather(*(call() for _ in range(size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += size - len(errors)
        if errors:
            first = errors[0]
            if not isinstance(first, Exception):
                raise first
            return successes, first
    return successes, None


def pod_from_template(rs: Object) -> Object:
    """A new pod for ``rs``: its template, named ``<rs>-<random>``, controlled by ``rs``."""
    template = (rs.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {
        "generateName": f"{name_of(rs)}-",
        "namespace": namespace_of(rs),
        "labels": dict(template_meta.get("labels") or {}),
        "ownerReferences": [owner_reference(rs)],
    }
    for optional in ("annotations", "finalizers"):
        if template_meta.get(optional):
            pod_meta[optional] = template_meta[optional]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


class ReplicaSetController(Controller):
    name = "replicaset"
    workers = 4

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.events = ctx.recorder.for_component("replicaset-controller")
        self.expectations = Expectations(self.clock.monotonic)
        self.replicasets: Informer = ctx.informers.ensure_index(
            REPLICASETS, CONTROLLER_UID_INDEX, by_controller_uid
        )
        self.pods: Informer = ctx.informers.ensure_index(PODS, CONTROLLER_UID_INDEX, by_controller_uid)
        self.claimer = Claimer(self.client, REPLICASETS, PODS)
        self.replicasets.add_handler(
            on_add=lambda rs: self.enqueue(key_of(rs)),
            on_update=lambda old, new: self.enqueue(key_of(new)),
            on_delete=lambda rs: self.enqueue(key_of(rs)),
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # --- handlers: expectations and keys only ---------------------------------------------------------

    def _owner_key(self, pod: Object) -> str | None:
        """The key of the ReplicaSet in the cache that controls ``pod``, if any."""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        rs = self.replicasets.get(namespace_of(pod), str(ref.get("name")))
        if rs is None or uid_of(rs) != ref.get("uid"):
            return None
        return key_of(rs)

    def _enqueue_matching(self, pod: Object) -> None:
        for rs in self.replicasets.by_index(NAMESPACE_INDEX, namespace_of(pod)):
            if selector_matches((rs.get("spec") or {}).get("selector"), labels_of(pod)):
                self.enqueue(key_of(rs))

    def _pod_added(self, pod: Object) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        owner = self._owner_key(pod)
        if owner is not None:
            self.expectations.creation_observed(owner)
            self.enqueue(owner)
        elif controller_ref(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return  # a resync: nothing changed
        if is_deleting(new) and not is_deleting(old):
            owner = self._owner_key(new)
            if owner is not None:
                self.expectations.deletion_observed(owner, key_of(new))
        old_owner, new_owner = self._owner_key(old), self._owner_key(new)
        if old_owner is not None and old_owner != new_owner:
            self.enqueue(old_owner)
        if new_owner is not None:
            self.enqueue(new_owner)
            min_ready = self._min_ready_seconds(new_owner)
            if min_ready > 0 and is_pod_ready(new) and not is_pod_ready(old):
                # Available only minReadySeconds after ready: look again then, even if nothing changes.
                self.enqueue_after(new_owner, min_ready + 1)
        elif controller_ref(new) is None and (labels_of(old) != labels_of(new) or controller_ref(old)):
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: Object) -> None:
        owner = self._owner_key(pod)
        if owner is not None:
            self.expectations.deletion_observed(owner, key_of(pod))
            self.enqueue(owner)

    def _min_ready_seconds(self, key: str) -> int:
        rs = self.replicasets.get_by_key(key)
        return int(((rs or {}).get("spec") or {}).get("minReadySeconds") or 0)

    # --- reconcile ----------------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        namespace, _ = split_key(key)
        rs = self.replicasets.get_by_key(key)
        if rs is None:
            self.expectations.forget(key)
            return Result()
        needs_sync = self.expectations.satisfied(key) and not is_deleting(rs)
        spec = rs.get("spec") or {}
        selector = spec.get("selector")

        def matches(pod: Mapping[str, Any]) -> bool:
            return selector_matches(selector, labels_of(pod))

        candidates = [pod for pod in self.pods.by_index(NAMESPACE_INDEX, namespace) if is_pod_active(pod)]
        pods = await self.claimer.claim(rs, matches, candidates)
        failure: Exception | None = None
        if needs_sync:
            try:
                await self._manage_replicas(key, rs, pods)
            except Exception as error:
                failure = error
        status = replicaset_status.calculate(rs, pods, failure, self.clock.now())
        await replicaset_status.write(self.client, rs, status)
        if failure is not None:
            raise failure
        min_ready = int(spec.get("minReadySeconds") or 0)
        all_ready = status["readyReplicas"] == int(spec.get("replicas", 1))
        if min_ready > 0 and all_ready and status["availableReplicas"] != status["readyReplicas"]:
            return Result(requeue_after=float(min_ready))
        return Result()

    async def _manage_replicas(self, key: str, rs: Object, pods: list[Object]) -> None:
        diff = len(pods) - int((rs.get("spec") or {}).get("replicas", 1))
        if diff < 0:
            await self._create(key, rs, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            await self._delete(key, rs, pods, min(diff, BURST_REPLICAS))

    async def _create(self, key: str, rs: Object, count: int) -> None:
        template_labels = (((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
        if not template_labels:
            raise ValueError(f"unable to create pods for {key}: the template has no labels")
        self.expectations.expect_creations(key, count)
        attempted = 0

        async def create_one() -> None:
            nonlocal attempted
            attempted += 1
            try:
                pod = await self.client.create(pod_from_template(rs), namespace_of(rs))
            except Exception as error:
                # The informer will never see this pod: lower the expectation ourselves.
                self.expectations.creation_observed(key)
                self.events.warning(rs, "FailedCreate", f"Error creating: {error}")
                raise
            self.events.normal(rs, "SuccessfulCreate", f"Created pod: {name_of(pod)}")

        successes, error = await slow_start_batch(count, create_one)
        for _ in range(count - attempted):
            self.expectations.creation_observed(key)
        log.info("replicaset scaled up", replicaset=key, created=successes, wanted=count)
        if error is not None:
            raise error

    async def _delete(self, key: str, rs: Object, pods: list[Object], count: int) -> None:
        related = list(pods)
        owner = controller_ref(rs)
        if owner is not None:
            for sibling in self.replicasets.by_index(CONTROLLER_UID_INDEX, str(owner.get("uid"))):
                if uid_of(sibling) != uid_of(rs):
                    related += self.pods.by_index(CONTROLLER_UID_INDEX, uid_of(sibling))
        victims = pods_to_delete(pods, related, count)
        self.expectations.expect_deletions(key, [key_of(pod) for pod in victims])

        async def delete_one(pod: Object) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace_of(pod))
            except ApiError as error:
                self.expectations.deletion_observed(key, key_of(pod))
                if error.code != 404:
                    self.events.warning(rs, "FailedDelete", f"Error deleting: {error}")
                    raise
                return
            self.events.normal(rs, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(delete_one(pod) for pod in victims), return_exceptions=True)
        log.info("replicaset scaled down", replicaset=key, deleted=len(victims))
        for result in results:
            if isinstance(result, BaseException):
                raise result
