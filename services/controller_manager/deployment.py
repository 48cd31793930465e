"""The Deployment controller: one ReplicaSet per pod template, rolled from old to new by strategy.

Level-triggered, as Kubernetes' ``pkg/controller/deployment``: Deployment, ReplicaSet and pod events only
enqueue the Deployment's key. :meth:`DeploymentController.reconcile` claims the ReplicaSets the selector
matches and then, in Kubernetes' order: a Deployment being deleted only gets its status; a paused one
is only scaled; a change of ``spec.replicas`` alone is a scaling event (proportional across ReplicaSets);
otherwise the strategy runs — ``RollingUpdate`` (new ReplicaSet up within ``maxSurge``, old ones down
within ``maxUnavailable``) or ``Recreate`` (old ones to 0, wait for their pods to go, then the new one).

The new ReplicaSet is named ``<deployment>-<pod-template-hash>``, so a reconcile that runs on a cache
without it finds it by name rather than creating a second one. A rollback (``kubectl rollout undo``
patches the template back to an old revision's) makes that old ReplicaSet the new one again, with the
next revision number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.controller_manager import deployment_status as ds
from services.controller_manager import deployment_util as du
from services.controller_manager.claim import Claimer
from services.controller_manager.controller import Context, Controller
from services.controller_manager.deployment_sync import DeploymentSync
from services.controller_manager.informers import CONTROLLER_UID_INDEX, by_controller_uid
from services.controller_manager.objects import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    Object,
    annotations_of,
    controller_ref,
    is_deleting,
    is_pod_terminal,
    labels_of,
    meta,
    namespace_of,
    selector_matches,
    uid_of,
)
from shared.informer import NAMESPACE_INDEX, Informer, key_of
from shared.logging import get_logger
from shared.workqueue import Result

log = get_logger(__name__)


class DeploymentController(Controller):
    name = "deployment"
    workers = 4

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.events = ctx.recorder.for_component("deployment-controller")
        self.deployments: Informer = ctx.informers.get(DEPLOYMENTS)
        self.replicasets = ctx.informers.ensure_index(REPLICASETS, CONTROLLER_UID_INDEX, by_controller_uid)
        self.pods = ctx.informers.ensure_index(PODS, CONTROLLER_UID_INDEX, by_controller_uid)
        self.claimer = Claimer(self.client, DEPLOYMENTS, REPLICASETS)
        self.sync = DeploymentSync(self.client, self.events, self.clock)
        self.deployments.add_handler(
            on_add=lambda d: self.enqueue(key_of(d)),
            on_update=lambda old, new: self.enqueue(key_of(new)),
            on_delete=lambda d: self.enqueue(key_of(d)),
        )
        self.replicasets.add_handler(
            on_add=self._rs_changed,
            on_update=self._rs_updated,
            on_delete=self._rs_changed,
        )
        self.pods.add_handler(on_delete=self._pod_deleted)

    # --- handlers ------------------------------------------------------------------------------------

    def _owner_key(self, obj: Object, kind: str, informer: Informer) -> str | None:
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        owner = informer.get(namespace_of(obj), str(ref.get("name")))
        return key_of(owner) if owner is not None and uid_of(owner) == ref.get("uid") else None

    def _rs_changed(self, rs: Object) -> None:
        owner = self._owner_key(rs, "Deployment", self.deployments)
        if owner is not None:
            self.enqueue(owner)
        elif controller_ref(rs) is None:
            for d in self.deployments.by_index(NAMESPACE_INDEX, namespace_of(rs)):
                if selector_matches(du.spec(d).get("selector"), labels_of(rs)):
                    self.enqueue(key_of(d))

    def _rs_updated(self, old: Object, new: Object) -> None:
        self._rs_changed(old)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Object) -> None:
        # Only Recreate waits for pods to be gone; the ReplicaSet's status covers everything else.
        rs_key = self._owner_key(pod, "ReplicaSet", self.replicasets)
        rs = self.replicasets.get_by_key(rs_key) if rs_key else None
        owner = self._owner_key(rs, "Deployment", self.deployments) if rs is not None else None
        d = self.deployments.get_by_key(owner) if owner else None
        if d is not None and not du.is_rolling(d):
            self.enqueue(key_of(d))

    # --- reconcile -----------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result:
        d = self.deployments.get_by_key(key)
        if d is None:
            return Result()
        selector = du.spec(d).get("selector")
        if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
            message = "This deployment is selecting all pods. A non-empty selector is required."
            self.events.warning(d, "SelectingAll", message)
            return Result()

        def matches(rs: Mapping[str, Any]) -> bool:
            return selector_matches(selector, labels_of(rs))

        candidates = self.replicasets.by_index(NAMESPACE_INDEX, namespace_of(d))
        all_rs = await self.claimer.claim(d, matches, candidates)
        if is_deleting(d):
            return await self._status_only(d, all_rs)
        d = await self._check_paused(d)
        if du.spec(d).get("paused"):
            return await self._scale_only(d, all_rs, cleanup=True)
        if self._scaling_event(d, all_rs):
            return await self._scale_only(d, all_rs, cleanup=False)
        if du.is_rolling(d):
            return await self._rolling(d, all_rs)
        return await self._recreate(d, all_rs)

    def _scaling_event(self, d: Object, all_rs: list[Object]) -> bool:
        for rs in all_rs:
            if du.replicas(rs) <= 0:
                continue
            desired = annotations_of(rs).get(du.DESIRED_REPLICAS)
            if desired is not None and desired != str(du.replicas(d)):
                return True
        return False

    async def _check_paused(self, d: Object) -> Object:
        """``d`` with the Progressing condition saying whether it is paused (written if it changed)."""
        if ds.deadline(d) is None:
            return d
        status = dict(du.status(d))
        cond = ds.get_condition(status, ds.PROGRESSING)
        if cond is not None and cond.get("reason") == ds.TIMED_OUT:
            return d
        paused, shown = bool(du.spec(d).get("paused")), cond is not None and cond.get("reason") == ds.PAUSED
        now = self.clock.now()
        if paused and not shown:
            new = ds.new_condition(ds.PROGRESSING, "Unknown", ds.PAUSED, "Deployment is paused", now)
        elif not paused and shown:
            new = ds.new_condition(ds.PROGRESSING, "Unknown", ds.RESUMED, "Deployment is resumed", now)
        else:
            return d
        ds.remove_condition(status, ds.PROGRESSING)
        ds.set_condition(status, new)
        await self.sync.write_status(d, status)
        return {**d, "status": status}  # a copy: objects in the cache are shared and read-only

    async def _status_only(self, d: Object, all_rs: list[Object]) -> Result:
        new_rs, _ = await self.sync.new_replica_set(d, all_rs, create=False)
        await self.sync.write_status(d, ds.calculate(d, all_rs, new_rs, self.clock.now()))
        return Result()

    async def _scale_only(self, d: Object, all_rs: list[Object], *, cleanup: bool) -> Result:
        new_rs, old = await self.sync.new_replica_set(d, all_rs, create=False)
        await self.sync.proportional(d, new_rs, old)
        if cleanup:
            await self.sync.cleanup(d, old)
        await self.sync.write_status(d, ds.calculate(d, all_rs, new_rs, self.clock.now()))
        return Result()

    async def _rolling(self, d: Object, all_rs: list[Object]) -> Result:
        new_rs, old = await self.sync.new_replica_set(d, all_rs, create=True)
        assert new_rs is not None
        all_rs = [new_rs, *old]
        if await self._reconcile_new(d, all_rs, new_rs) or await self._reconcile_old(d, all_rs, old, new_rs):
            return await self._rollout_status(d, all_rs, new_rs)
        status = ds.calculate(d, all_rs, new_rs, self.clock.now())
        if ds.complete(d, status):
            await self.sync.cleanup(d, old)
        return await self._rollout_status(d, all_rs, new_rs)

    async def _reconcile_new(self, d: Object, all_rs: list[Object], new_rs: Object) -> bool:
        want = du.replicas(d)
        if du.replicas(new_rs) == want:
            return False
        size = want if du.replicas(new_rs) > want else du.new_rs_replicas(d, all_rs, new_rs)
        resized, _ = await self.sync.scale(d, new_rs, size)
        return resized

    async def _reconcile_old(
        self, d: Object, all_rs: list[Object], old: list[Object], new_rs: Object
    ) -> bool:
        if du.total_spec_replicas(old) == 0:
            return False
        budget = du.max_scaled_down(d, all_rs, new_rs)
        if budget <= 0:
            return False
        active_old = [rs for rs in old if du.replicas(rs) > 0]
        cleanup = du.unhealthy_cleanup(active_old, budget)
        cleaned = await self.sync.scale_all(d, cleanup)
        if cleaned:
            return True  # re-plan on fresh state: the cache still shows the old sizes
        return await self.sync.scale_all(d, du.old_scale_down(d, all_rs, active_old)) > 0

    async def _recreate(self, d: Object, all_rs: list[Object]) -> Result:
        new_rs, old = await self.sync.new_replica_set(d, all_rs, create=False)
        everything = ([new_rs] if new_rs is not None else []) + old
        if await self.sync.scale_all(d, [(rs, 0) for rs in old if du.replicas(rs) > 0]):
            return await self._rollout_status(d, everything, new_rs)
        if self._old_pods_running(old):
            return await self._rollout_status(d, everything, new_rs)
        if new_rs is None:
            new_rs, old = await self.sync.new_replica_set(d, all_rs, create=True)
            assert new_rs is not None
        everything = [new_rs, *old]
        await self.sync.scale(d, new_rs, du.replicas(d))
        if ds.complete(d, ds.calculate(d, everything, new_rs, self.clock.now())):
            await self.sync.cleanup(d, old)
        return await self._rollout_status(d, everything, new_rs)

    def _old_pods_running(self, old: list[Object]) -> bool:
        for rs in old:
            for pod in self.pods.by_index(CONTROLLER_UID_INDEX, uid_of(rs)):
                if not is_pod_terminal(pod):
                    return True
        return False

    async def _rollout_status(self, d: Object, all_rs: list[Object], new_rs: Object | None) -> Result:
        now = self.clock.now()
        status = ds.rollout_status(d, all_rs, new_rs, now)
        await self.sync.write_status(d, status)
        if int(meta(d).get("generation") or 0) and not ds.complete(d, status):
            after = ds.requeue_after(d, status, now)
            if after is not None:
                return Result(requeue_after=after)
        return Result()
