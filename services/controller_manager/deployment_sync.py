"""The writes of one Deployment reconcile: find or create the new ReplicaSet, scale ReplicaSets, clean up.

:class:`DeploymentSync` holds what one reconcile needs (the client, the event recorder, the clock) and
turns the plans of :mod:`~services.controller_manager.deployment_util` into API calls. Every write of a
ReplicaSet carries the ``resourceVersion`` the cache showed, so acting on a stale cache fails with 409 and
the reconcile is retried on fresh state instead of undoing a newer decision.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from services.controller_manager import deployment_status as ds
from services.controller_manager import deployment_util as du
from services.controller_manager.events import ComponentRecorder
from services.controller_manager.objects import (
    DEPLOYMENTS,
    REPLICASETS,
    Object,
    annotations_of,
    controller_ref,
    is_deleting,
    meta,
    name_of,
    namespace_of,
    owner_reference,
    uid_of,
)
from shared.apiclient import ApiClient
from shared.clock import Clock
from shared.errors import ApiError
from shared.logging import get_logger

log = get_logger(__name__)


class DeploymentSync:
    def __init__(self, client: ApiClient, events: ComponentRecorder, clock: Clock) -> None:
        self.client = client
        self.events = events
        self.clock = clock

    # --- the new ReplicaSet ----------------------------------------------------------------------------

    async def new_replica_set(
        self, d: Object, all_rs: list[Object], *, create: bool
    ) -> tuple[Object | None, list[Object]]:
        """(the new ReplicaSet or None, the old ones), with revisions brought up to date."""
        existing = du.find_new(d, all_rs)
        old = [rs for rs in all_rs if existing is None or uid_of(rs) != uid_of(existing)]
        revision = du.max_revision(old) + 1
        if existing is not None:
            existing = await self._sync_new_annotations(d, existing, revision)
            await self._set_deployment_revision(d, du.revision(existing))
            return existing, old
        if not create:
            return None, old
        created = await self._create_new(d, old, revision)
        await self._set_deployment_revision(d, revision)
        return created, old

    def _annotated(self, d: Object, rs: Object, revision: int | None) -> dict[str, str]:
        annotations = dict(annotations_of(rs))
        if revision is not None and du.revision(rs) < revision:
            annotations[du.REVISION] = str(revision)
        annotations[du.DESIRED_REPLICAS] = str(du.replicas(d))
        annotations[du.MAX_REPLICAS] = str(du.replicas(d) + du.max_surge(d))
        return annotations

    async def _sync_new_annotations(self, d: Object, rs: Object, revision: int) -> Object:
        annotations = self._annotated(d, rs, revision)
        min_ready = du.spec(d).get("minReadySeconds", 0)
        if annotations == dict(annotations_of(rs)) and du.spec(rs).get("minReadySeconds", 0) == min_ready:
            return rs
        updated = copy.deepcopy(rs)
        updated["metadata"]["annotations"] = annotations
        updated["spec"]["minReadySeconds"] = min_ready
        return await self.client.update(updated)

    async def _set_deployment_revision(self, d: Object, revision: int) -> None:
        if annotations_of(d).get(du.REVISION) == str(revision):
            return
        patch = {"metadata": {"annotations": {du.REVISION: str(revision)}}}
        await self.client.patch(DEPLOYMENTS, name_of(d), patch, namespace_of(d))

    async def _create_new(self, d: Object, old: list[Object], revision: int) -> Object:
        collisions = int(du.status(d).get("collisionCount") or 0)
        template = copy.deepcopy(dict(du.spec(d).get("template") or {}))
        pod_hash = du.template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = pod_hash
        selector = copy.deepcopy(dict(du.spec(d).get("selector") or {}))
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = pod_hash
        rs: Object = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name_of(d)}-{pod_hash}",
                "namespace": namespace_of(d),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {},
                "ownerReferences": [owner_reference(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": du.spec(d).get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        rs["spec"]["replicas"] = du.new_rs_replicas(d, old, rs)
        rs["metadata"]["annotations"] = self._annotated(d, rs, revision)
        try:
            created = await self.client.create(rs)
        except ApiError as error:
            if error.reason != "AlreadyExists":
                raise
            return await self._resolve_collision(d, rs, collisions)
        size = du.replicas(created)
        log.info("replicaset created", deployment=name_of(d), replicaset=name_of(created), replicas=size)
        if size > 0:
            self.events.normal(d, "ScalingReplicaSet", f"Scaled up replica set {name_of(created)} to {size}")
        return created

    async def _resolve_collision(self, d: Object, wanted: Object, collisions: int) -> Object:
        """The name is taken: ours (created by an earlier reconcile the cache has not shown yet) or a hash
        collision, answered as Kubernetes does by bumping ``collisionCount`` and trying again later."""
        existing = await self.client.get(REPLICASETS, name_of(wanted), namespace_of(d))
        ref = controller_ref(existing)
        if (
            ref is not None
            and ref.get("uid") == uid_of(d)
            and du.same_template(du.spec(existing).get("template") or {}, du.spec(d).get("template") or {})
        ):
            return existing
        patch = {"status": {"collisionCount": collisions + 1}}
        await self.client.patch(DEPLOYMENTS, name_of(d), patch, namespace_of(d), subresource="status")
        raise RuntimeError(
            f"hash collision for replica set {name_of(wanted)}; collisionCount now {collisions + 1}"
        )

    # --- scaling -------------------------------------------------------------------------------------

    async def scale(self, d: Object, rs: Object, size: int) -> tuple[bool, Object]:
        """Set ``rs`` to ``size`` replicas and its desired/max annotations; returns (resized, rs)."""
        annotations = self._annotated(d, rs, None)
        resize = du.replicas(rs) != size
        if not resize and annotations == dict(annotations_of(rs)):
            return False, rs
        updated = copy.deepcopy(rs)
        updated["metadata"]["annotations"] = annotations
        updated["spec"]["replicas"] = size
        result = await self.client.update(updated)
        if resize:
            direction = "up" if size > du.replicas(rs) else "down"
            message = f"Scaled {direction} replica set {name_of(rs)} from {du.replicas(rs)} to {size}"
            self.events.normal(d, "ScalingReplicaSet", message)
            log.info("replicaset scaled", deployment=name_of(d), replicaset=name_of(rs), replicas=size)
        return resize, result

    async def scale_all(self, d: Object, plan: Sequence[tuple[Object, int]]) -> int:
        """Apply a plan of (ReplicaSet, size); how many ReplicaSets changed size."""
        changed = 0
        for rs, size in plan:
            resized, _ = await self.scale(d, rs, size)
            changed += int(resized)
        return changed

    async def proportional(self, d: Object, new_rs: Object | None, old: list[Object]) -> None:
        """Resize after ``spec.replicas`` changed (Kubernetes' ``scale``)."""
        all_rs = ([new_rs] if new_rs is not None else []) + old
        active = [rs for rs in all_rs if du.replicas(rs) > 0]
        target: Object | None = None
        if len(active) == 1:
            target = active[0]
        elif not active:
            target = new_rs if new_rs is not None else (du.by_creation(old)[-1] if old else None)
        if target is not None or not active:
            if target is not None:
                await self.scale(d, target, du.replicas(d))
            return
        if new_rs is not None and self._saturated(d, new_rs):
            await self.scale_all(d, [(rs, 0) for rs in old if du.replicas(rs) > 0])
            return
        if du.is_rolling(d):
            sizes = du.proportional_scale(d, active)
            # Scale down first so the total never exceeds what maxSurge allows.
            ordered = sorted(active, key=lambda rs: sizes[name_of(rs)] - du.replicas(rs))
            await self.scale_all(d, [(rs, sizes[name_of(rs)]) for rs in ordered])

    def _saturated(self, d: Object, rs: Object) -> bool:
        desired = annotations_of(rs).get(du.DESIRED_REPLICAS)
        return (
            du.replicas(rs) == du.replicas(d)
            and desired == str(du.replicas(d))
            and int(du.status(rs).get("availableReplicas") or 0) == du.replicas(d)
        )

    # --- history and status --------------------------------------------------------------------------

    async def cleanup(self, d: Object, old: list[Object]) -> None:
        """Delete the oldest empty ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = du.spec(d).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        alive = [rs for rs in old if not is_deleting(rs)]
        excess = len(alive) - int(limit)
        if excess <= 0:
            return
        for rs in sorted(alive, key=du.revision)[:excess]:
            observed = int(du.status(rs).get("observedGeneration") or 0)
            if (
                du.status(rs).get("replicas")
                or du.replicas(rs)
                or int(meta(rs).get("generation") or 0) > observed
            ):
                continue
            try:
                await self.client.delete(REPLICASETS, name_of(rs), namespace_of(rs))
            except ApiError as error:
                if error.code != 404:
                    raise
            log.info("old replicaset deleted", deployment=name_of(d), replicaset=name_of(rs))

    async def write_status(self, d: Object, status: dict[str, Any]) -> None:
        if ds.same_status(d, status):
            return
        await self.client.patch(
            DEPLOYMENTS, name_of(d), {"status": status}, namespace_of(d), subresource="status"
        )
