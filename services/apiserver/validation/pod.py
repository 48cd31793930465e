"""Validation of Pods and pod templates, and the rules for updating a Pod, as Kubernetes has them.

A Pod's spec is fixed once created, except for container images, ``activeDeadlineSeconds`` (only ever
shortened), added tolerations and removed scheduling gates. Anything else is refused with Kubernetes'
message, ``spec: Forbidden: pod updates may not change fields other than …``, followed by the paths that
changed. Unlike Kubernetes, ``spec.nodeName`` may also go from unset to set in an update (the binding
subresource is the usual way), and is immutable once set.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from services.apiserver.validation.common import (
    IMMUTABLE,
    MAX_INT32,
    Json,
    dns_label,
    dns_subdomain,
    duplicate,
    forbidden,
    inclusive_range,
    integer,
    invalid,
    is_int,
    items,
    labels,
    mapping,
    object_annotations,
    object_meta,
    one_of,
    quantity,
    required,
    show,
    text,
)
from services.apiserver.validation.containers import container_names, containers, init_containers
from services.apiserver.validation.resources import POD_LEVEL_RESOURCES, overhead, resource_requirements
from services.apiserver.validation.scheduling import affinity, tolerations, topology_spread_constraints
from shared.models import FieldError, Pod, Quantity, name_is_dns1123_subdomain, pod_requests

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
POD_UPDATE_FORBIDDEN = "pod updates may not change fields other than " + ",".join(UPDATABLE_POD_FIELDS)
_DIFF_LINES = 10


def _volumes(value: Any, field: str) -> tuple[set[str], list[FieldError]]:
    names: set[str] = set()
    errs: list[FieldError] = []
    for i, entry in enumerate(items(value)):
        name, path = text(mapping(entry).get("name")), f"{field}[{i}].name"
        found = [required(path)] if not name else dns_label(name, path)
        if name in names:
            found.append(duplicate(path, name))
        if not found:
            names.add(name)
        errs += found
    return names, errs


def _host_network_ports(spec: Json, field: str, is_pod: bool) -> list[FieldError]:
    # In a template an unset hostPort is fine: it is defaulted when the pod itself is created.
    errs: list[FieldError] = []
    for i, container in enumerate(items(spec.get("containers"))):
        for j, entry in enumerate(items(mapping(container).get("ports"))):
            host, port = integer(mapping(entry).get("hostPort")), integer(mapping(entry).get("containerPort"))
            if (is_pod or host) and host != port:
                path = f"{field}.containers[{i}].ports[{j}].hostPort"
                errs.append(invalid(path, host, "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _pod_level_resources(spec: Json, field: str) -> list[FieldError]:
    """Pod-level ``resources``: valid themselves, not below what the containers request together, and not
    below any one container's limit."""
    resources = mapping(spec.get("resources"))
    errs = resource_requirements(resources, field, pod_level=True)
    try:
        containers_only = {k: v for k, v in spec.items() if k not in ("resources", "overhead")}
        aggregate = pod_requests(Pod.model_validate({"spec": containers_only}))
    except ValidationError:
        return errs  # the schema check reports what could not be read
    requests = mapping(resources.get("requests"))
    for name, total in aggregate.items():
        if name not in POD_LEVEL_RESOURCES and not name.startswith("hugepages-"):
            continue
        own = quantity(requests[name], "")[0] if name in requests else Quantity(0)
        if own is not None and total > own:
            detail = f"must be greater than or equal to aggregate container requests of {total.canonical()}"
            errs.append(invalid(f"{field}.requests[{name}]", own.canonical(), detail))
    limits = mapping(resources.get("limits"))
    for i, container in enumerate(items(spec.get("containers"))):
        for name, raw in mapping(mapping(mapping(container).get("resources")).get("limits")).items():
            own, limit = quantity(limits[name], "")[0] if name in limits else None, quantity(raw, "")[0]
            if own is not None and limit is not None and limit > own:
                path = f"{field}.containers[{i}][{name}].limits"
                errs.append(
                    invalid(
                        path,
                        limit.canonical(),
                        f"must be less than or equal to pod limits of {own.canonical()}",
                    )
                )
    return errs


def pod_spec(value: Any, field: str, *, is_pod: bool) -> list[FieldError]:
    """``ValidatePodSpec``; ``is_pod`` adds the checks Kubernetes makes on a Pod but not on a template."""
    spec = mapping(value)
    errs: list[FieldError] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(f"{field}.terminationGracePeriodSeconds"))
    volumes, found = _volumes(spec.get("volumes"), f"{field}.volumes")
    errs += found
    errs += containers(spec.get("containers"), f"{field}.containers", volumes, is_pod=is_pod)
    regular = container_names(spec.get("containers"))
    errs += init_containers(
        spec.get("initContainers"), f"{field}.initContainers", volumes, regular, is_pod=is_pod
    )
    if spec.get("resources") is not None:
        errs += _pod_level_resources(spec, f"{field}.resources")
    if spec.get("hostNetwork") is True:
        errs += _host_network_ports(spec, field, is_pod)
    errs += one_of(f"{field}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    errs += one_of(f"{field}.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES)
    errs += labels(spec.get("nodeSelector"), f"{field}.nodeSelector")
    for key in ("serviceAccountName", "nodeName", "priorityClassName"):
        if text(spec.get(key)):
            errs += dns_subdomain(spec[key], f"{field}.{key}")
    deadline = spec.get("activeDeadlineSeconds")
    if is_int(deadline) and not 1 <= deadline <= MAX_INT32:
        errs.append(invalid(f"{field}.activeDeadlineSeconds", deadline, inclusive_range(1, MAX_INT32)))
    for key in ("hostname", "subdomain"):
        if text(spec.get(key)):
            errs += dns_label(spec[key], f"{field}.{key}")
    errs += tolerations(spec.get("tolerations"), f"{field}.tolerations")
    if spec.get("preemptionPolicy") is not None:
        errs += one_of(f"{field}.preemptionPolicy", spec["preemptionPolicy"], PREEMPTION_POLICIES)
    if spec.get("overhead") is not None:
        errs += overhead(spec["overhead"], f"{field}.overhead")
    errs += affinity(spec.get("affinity"), f"{field}.affinity")
    return errs + topology_spread_constraints(
        spec.get("topologySpreadConstraints"), f"{field}.topologySpreadConstraints"
    )


def pod_template(value: Any, field: str) -> list[FieldError]:
    """``ValidatePodTemplateSpec``. Kubernetes names the template's labels ``<field>.labels`` (without
    ``metadata``), and so do these errors."""
    template = mapping(value)
    meta = mapping(template.get("metadata"))
    errs = labels(meta.get("labels"), f"{field}.labels")
    errs += object_annotations(meta.get("annotations"), f"{field}.annotations")
    errs += pod_spec(template.get("spec"), f"{field}.spec", is_pod=False)
    if items(mapping(template.get("spec")).get("ephemeralContainers")):
        errs.append(
            forbidden(f"{field}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template")
        )
    return errs


def validate_pod(pod: Json) -> list[FieldError]:
    errs = object_meta(pod.get("metadata"), namespaced=True, name_check=name_is_dns1123_subdomain)
    return errs + pod_spec(pod.get("spec"), "spec", is_pod=True)


def _same_key(target: dict[str, Any], source: Json, key: str) -> None:
    if key in source:
        target[key] = copy.deepcopy(source[key])
    else:
        target.pop(key, None)


def _toleration_updates(new: list[Any], old: list[Any]) -> list[FieldError]:
    def without_seconds(toleration: Any) -> dict[str, Any]:
        return {k: v for k, v in mapping(toleration).items() if k != "tolerationSeconds"}

    remaining = [without_seconds(t) for t in new]
    for toleration in old:
        if without_seconds(toleration) not in remaining:
            detail = "existing toleration can not be modified except its tolerationSeconds"
            return [forbidden("spec.tolerations", detail)]
    return []


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _diff(old: Any, new: Any, path: str) -> list[str]:
    """The paths where two JSON values differ, with both values: ``spec.dnsPolicy: "A" -> "B"``. As in
    Kubernetes' semantic equality, an absent, null, empty list and empty object are all the same."""
    if _empty(old) and _empty(new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            line
            for key in sorted(old.keys() | new.keys())
            for line in _diff(old.get(key), new.get(key), f"{path}.{key}")
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            line
            for i, (o, n) in enumerate(zip(old, new, strict=True))
            for line in _diff(o, n, f"{path}[{i}]")
        ]
    return [] if old == new else [f"{path}: {show(old)} -> {show(new)}"]


def validate_pod_update(new: Json, old: Json) -> list[FieldError]:
    errs = validate_pod(new)
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    for key in ("containers", "initContainers"):
        if len(items(new_spec.get(key))) != len(items(old_spec.get(key))):
            return [*errs, forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
    deadline, old_deadline = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if not is_int(deadline) or not 0 <= deadline <= MAX_INT32:
            return [*errs, invalid("spec.activeDeadlineSeconds", deadline, inclusive_range(0, MAX_INT32))]
        if is_int(old_deadline) and old_deadline < deadline:
            return [
                *errs,
                invalid(
                    "spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value"
                ),
            ]
    elif old_deadline is not None:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    errs += _toleration_updates(items(new_spec.get("tolerations")), items(old_spec.get("tolerations")))
    old_gates = {text(mapping(g).get("name")) for g in items(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(items(new_spec.get("schedulingGates"))):
        name = text(mapping(gate).get("name"))
        if name not in old_gates:
            detail = f"only deletion is allowed, but found new scheduling gate '{name}'"
            errs.append(forbidden(f"spec.schedulingGates[{i}].name", detail))
    if text(old_spec.get("nodeName")) and new_spec.get("nodeName") != old_spec.get("nodeName"):
        errs.append(invalid("spec.nodeName", new_spec.get("nodeName"), IMMUTABLE))
    # Put back what may change, then whatever still differs is a change that is not allowed.
    munged = copy.deepcopy(dict(new_spec))
    for key in ("containers", "initContainers"):
        for container, before in zip(items(munged.get(key)), items(old_spec.get(key)), strict=True):
            if isinstance(container, dict):
                _same_key(container, mapping(before), "image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates", "nodeName"):
        _same_key(munged, old_spec, key)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if is_int(old_grace) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    changes = _diff(dict(old_spec), munged, "spec")
    if changes:
        shown = changes[:_DIFF_LINES] + (
            [f"… and {len(changes) - _DIFF_LINES} more"] if len(changes) > _DIFF_LINES else []
        )
        errs.append(forbidden("spec", POD_UPDATE_FORBIDDEN + "\n" + "\n".join(f"  {line}" for line in shown)))
    return errs
