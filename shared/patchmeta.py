"""Kubernetes' patch metadata for the kinds kubenats serves: which lists merge, and by which key.

Strategic merge patch treats a list as a set of elements to merge only where the Go types say so
(``patchStrategy:"merge"``, ``patchMergeKey``): a pod's containers merge by ``name``, a container's ports by
``containerPort``, conditions by ``type``. Every other list is replaced whole, as are the lists of any kind
not described here. :func:`schema_for` gives a kind's metadata tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """One field: ``merge_key`` for a list of objects merged by that key, ``merge`` for a list of primitives
    merged as a set, ``schema`` for the field's object (or each list element's)."""

    merge_key: str | None = None
    merge: bool = False
    schema: Schema | None = None


Schema = Mapping[str, FieldMeta]


def _by(key: str, schema: Schema | None = None) -> FieldMeta:
    return FieldMeta(merge_key=key, merge=True, schema=schema)


def _obj(schema: Schema) -> FieldMeta:
    return FieldMeta(schema=schema)


_SET = FieldMeta(merge=True)

OBJECT_META: Schema = {"finalizers": _SET, "ownerReferences": _by("uid")}

CONTAINER: Schema = {
    "ports": _by("containerPort"),
    "env": _by("name"),
    "volumeMounts": _by("mountPath"),
    "volumeDevices": _by("devicePath"),
}

POD_SPEC: Schema = {
    "containers": _by("name", CONTAINER),
    "initContainers": _by("name", CONTAINER),
    "ephemeralContainers": _by("name", CONTAINER),
    "volumes": _by("name"),
    "imagePullSecrets": _by("name"),
    "hostAliases": _by("ip"),
    "topologySpreadConstraints": _by("topologyKey"),
    "resourceClaims": _by("name"),
    "schedulingGates": _by("name"),
}

CONDITIONS: Schema = {"conditions": _by("type")}

POD_STATUS: Schema = {
    "conditions": _by("type"),
    "podIPs": _by("ip"),
    "hostIPs": _by("ip"),
    "resourceClaimStatuses": _by("name"),
}

POD_TEMPLATE: Schema = {"metadata": _obj(OBJECT_META), "spec": _obj(POD_SPEC)}
WORKLOAD_SPEC: Schema = {"template": _obj(POD_TEMPLATE)}


def _kind(spec: Schema | None = None, status: Schema | None = None) -> Schema:
    fields: dict[str, FieldMeta] = {"metadata": _obj(OBJECT_META)}
    if spec is not None:
        fields["spec"] = _obj(spec)
    if status is not None:
        fields["status"] = _obj(status)
    return fields


KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Pod"): _kind(POD_SPEC, POD_STATUS),
    ("v1", "Node"): _kind({"podCIDRs": _SET}, {"conditions": _by("type"), "addresses": _by("type")}),
    ("v1", "Namespace"): _kind({"finalizers": _SET}, CONDITIONS),
    ("v1", "Service"): _kind({"ports": _by("port")}, CONDITIONS),
    ("v1", "Event"): _kind(),
    ("apps/v1", "Deployment"): _kind(WORKLOAD_SPEC, CONDITIONS),
    ("apps/v1", "ReplicaSet"): _kind(WORKLOAD_SPEC, CONDITIONS),
    ("coordination.k8s.io/v1", "Lease"): _kind(),
    ("discovery.k8s.io/v1", "EndpointSlice"): _kind(),
}


def schema_for(api_version: object, kind: object) -> Schema | None:
    """The patch metadata of a kind; None for a kind not described (its lists are all replaced)."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return KINDS.get((api_version, kind))
