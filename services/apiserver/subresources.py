"""The subresources beyond status: a pod's binding and eviction, a workload's scale.

- ``pods/binding`` (create): the scheduler's decision. Sets ``spec.nodeName`` once — a pod already
  bound is a 409 — and the ``PodScheduled`` condition.
- ``pods/eviction`` (create): a graceful delete on behalf of a controller or a drain.
- ``deployments/scale``, ``replicasets/scale`` (get, update, patch): an ``autoscaling/v1`` ``Scale``
  view of ``spec.replicas``.
"""

from __future__ import annotations

from typing import Any

from services.apiserver.objects import Object, deep, now_rfc3339, success_status
from services.apiserver.registry import Registry
from shared.errors import ApiError
from shared.models import LabelSelector, ResourceType
from shared.patch import PatchError, apply_patch
from shared.selectors import from_label_selector

SCALABLE = frozenset({"deployments", "replicasets"})


async def bind(
    registry: Registry, rt: ResourceType, namespace: str, name: str, body: Object | None
) -> Object:
    if rt.plural != "pods":
        raise ApiError(404, f"the server could not find the requested resource ({rt.plural}/binding)")
    target = (body or {}).get("target") or {}
    node = target.get("name")
    if not isinstance(node, str) or not node:
        raise ApiError(422, 'Binding "" is invalid: target.name: Required value')
    if (body or {}).get("metadata", {}).get("name", name) != name:
        raise ApiError(400, "the name of the binding does not match the name on the request")

    async def assign(current: Object) -> Object:
        bound = current.get("spec", {}).get("nodeName")
        if bound:
            raise ApiError(409, f'pod {name} is already assigned to node "{bound}"', reason="Conflict")
        if "deletionTimestamp" in current.get("metadata", {}):
            raise ApiError(
                409, f"pod {name} is being deleted, cannot be assigned to a host", reason="Conflict"
            )
        new = deep(current)
        new.setdefault("spec", {})["nodeName"] = node
        conditions = [
            c for c in new.setdefault("status", {}).get("conditions", []) if c.get("type") != "PodScheduled"
        ]
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339(registry.now())}
        )
        new["status"]["conditions"] = conditions
        return new

    await registry.write(rt, namespace, name, assign)
    return success_status(201)


async def evict(
    registry: Registry, rt: ResourceType, namespace: str, name: str, body: Object | None
) -> Object:
    if rt.plural != "pods":
        raise ApiError(404, f"the server could not find the requested resource ({rt.plural}/eviction)")
    options = (body or {}).get("deleteOptions") or {}
    grace = options.get("gracePeriodSeconds")
    await registry.delete(rt, namespace, name, grace if isinstance(grace, int) else None)
    return success_status(201)


def scale_of(rt: ResourceType, obj: Object) -> Object:
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector")
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": str(from_label_selector(LabelSelector.model_validate(selector))) if selector else "",
        },
    }


async def get_scale(registry: Registry, rt: ResourceType, namespace: str, name: str) -> Object:
    _scalable(rt)
    return scale_of(rt, await registry.get(rt, namespace, name))


async def update_scale(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    scale: Object | None,
    patch: Any = None,
    patch_type: str = "",
) -> Object:
    """Set ``spec.replicas`` from a Scale (or from a patch of the Scale)."""
    _scalable(rt)

    async def resize(current: Object) -> Object:
        wanted = scale
        if patch is not None:
            try:
                patched = apply_patch(scale_of(rt, current), patch, patch_type)
            except PatchError as error:
                raise ApiError(error.code, error.message) from None
            wanted = patched if isinstance(patched, dict) else None
        replicas = (wanted or {}).get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                "must be greater than or equal to 0",
                reason="Invalid",
            )
        rv = (wanted or {}).get("metadata", {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise registry.conflict(rt, name)
        new = deep(current)
        new.setdefault("spec", {})["replicas"] = replicas
        return registry.prepare_update(rt, new, current)

    updated = await registry.write(rt, namespace, name, resize)
    return scale_of(rt, updated)


def _scalable(rt: ResourceType) -> None:
    if rt.plural not in SCALABLE:
        raise ApiError(404, f"the server could not find the requested resource ({rt.plural}/scale)")


__all__ = ["bind", "evict", "get_scale", "scale_of", "update_scale"]
