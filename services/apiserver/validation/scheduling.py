"""Validation of the scheduling parts of a pod spec (tolerations, affinity, spread) and of node taints."""

from __future__ import annotations

from typing import Any

from services.apiserver.validation.common import (
    duplicate,
    forbidden,
    integer,
    invalid,
    is_int,
    items,
    label_selector,
    mapping,
    messages,
    not_supported,
    qualified_name,
    required,
    text,
)
from shared.models import ErrorType, FieldError, is_dns1123_label, is_valid_label_value

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _effect(value: str, field: str, allow_empty: bool) -> list[FieldError]:
    if not value:
        return [] if allow_empty else [required(field)]
    return [] if value in TAINT_EFFECTS else [not_supported(field, value, TAINT_EFFECTS)]


def tolerations(value: Any, field: str) -> list[FieldError]:
    """``ValidateTolerations``: an empty key needs ``Exists``; ``tolerationSeconds`` needs ``NoExecute``."""
    errs: list[FieldError] = []
    for i, entry in enumerate(items(value)):
        toleration, path = mapping(entry), f"{field}[{i}]"
        key, operator = text(toleration.get("key")), text(toleration.get("operator"))
        effect, val = text(toleration.get("effect")), text(toleration.get("value"))
        if key:
            errs += qualified_name(key, f"{path}.key")
        elif operator != "Exists":
            detail = (
                'operator must be Exists when `key` is empty, which means "match all values and all keys"'
            )
            errs.append(invalid(f"{path}.operator", operator, detail))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    f"{path}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if operator in ("", "Equal"):
            found = is_valid_label_value(val)
            if found:
                errs.append(invalid(f"{path}.operator", val, ";".join(found)))
        elif operator == "Exists":
            if val:
                errs.append(
                    invalid(f"{path}.operator", val, "value must be empty when `operator` is 'Exists'")
                )
        else:
            errs.append(not_supported(f"{path}.operator", operator, ("Equal", "Exists")))
        errs += _effect(effect, f"{path}.effect", allow_empty=True)
    return errs


def taints(value: Any, field: str) -> list[FieldError]:
    """A Node's taints: key and value as a label's, an effect, and each (key, effect) pair once."""
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(items(value)):
        taint, path = mapping(entry), f"{field}[{i}]"
        key, effect = text(taint.get("key")), text(taint.get("effect"))
        errs += qualified_name(key, f"{path}.key")
        found = is_valid_label_value(text(taint.get("value")))
        if found:
            errs.append(invalid(f"{path}.value", taint.get("value"), ";".join(found)))
        errs += _effect(effect, f"{path}.effect", allow_empty=False)
        if (key, effect) in seen:
            detail = "taints must be unique by key and effect pair"
            errs.append(FieldError(path, ErrorType.DUPLICATE, dict(taint), detail))
        seen.add((key, effect))
    return errs


def _node_selector_term(term_value: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    term = mapping(term_value)
    for j, entry in enumerate(items(term.get("matchExpressions"))):
        requirement, path = mapping(entry), f"{field}.matchExpressions[{j}]"
        operator, values = requirement.get("operator"), items(requirement.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(
                    required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                errs.append(forbidden(f"{path}.values", detail))
        elif operator in ("Gt", "Lt"):
            if len(values) != 1:
                detail = "must be specified single value when `operator` is 'Lt' or 'Gt'"
                errs.append(required(f"{path}.values", detail))
        else:
            errs.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
        errs += qualified_name(text(requirement.get("key")), f"{path}.key")
    for j, entry in enumerate(items(term.get("matchFields"))):
        requirement, path = mapping(entry), f"{field}.matchFields[{j}]"
        if requirement.get("key") != "metadata.name":
            errs.append(invalid(f"{path}.key", requirement.get("key"), "not a valid field selector key"))
    return errs


def _weight(value: Any, field: str) -> list[FieldError]:
    weight = integer(value)
    return [] if 1 <= weight <= 100 else [invalid(field, weight, "must be in the range 1-100")]


def _pod_affinity_term(term_value: Any, field: str) -> list[FieldError]:
    term = mapping(term_value)
    errs = label_selector(term.get("labelSelector"), f"{field}.labelSelector")
    for name in items(term.get("namespaces")):
        errs += messages(f"{field}.namespace", name, is_dns1123_label(text(name)))
    topology_key = text(term.get("topologyKey"))
    if not topology_key:
        errs.append(required(f"{field}.topologyKey", "can not be empty"))
    return errs + qualified_name(topology_key, f"{field}.topologyKey")


def _pod_affinity(value: Any, field: str) -> list[FieldError]:
    affinity = mapping(value)
    errs: list[FieldError] = []
    hard = f"{field}.requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(items(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))):
        errs += _pod_affinity_term(term, f"{hard}[{i}]")
    soft = f"{field}.preferredDuringSchedulingIgnoredDuringExecution"
    for i, entry in enumerate(items(affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        weighted = mapping(entry)
        errs += _weight(weighted.get("weight"), f"{soft}[{i}].weight")
        errs += _pod_affinity_term(weighted.get("podAffinityTerm"), f"{soft}[{i}].podAffinityTerm")
    return errs


def affinity(value: Any, field: str) -> list[FieldError]:
    spec = mapping(value)
    errs: list[FieldError] = []
    node = mapping(spec.get("nodeAffinity"))
    if "requiredDuringSchedulingIgnoredDuringExecution" in node:
        terms_path = f"{field}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        terms = items(
            mapping(node["requiredDuringSchedulingIgnoredDuringExecution"]).get("nodeSelectorTerms")
        )
        if not terms:
            errs.append(required(terms_path, "must have at least one node selector term"))
        for i, term in enumerate(terms):
            errs += _node_selector_term(term, f"{terms_path}[{i}]")
    preferred = f"{field}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"
    for i, entry in enumerate(items(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        weighted = mapping(entry)
        errs += _weight(weighted.get("weight"), f"{preferred}[{i}].weight")
        errs += _node_selector_term(weighted.get("preference"), f"{preferred}[{i}].preference")
    errs += _pod_affinity(spec.get("podAffinity"), f"{field}.podAffinity")
    return errs + _pod_affinity(spec.get("podAntiAffinity"), f"{field}.podAntiAffinity")


def topology_spread_constraints(value: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    constraints = [mapping(entry) for entry in items(value)]
    for i, constraint in enumerate(constraints):
        path = f"{field}[{i}]"
        max_skew = constraint.get("maxSkew")
        if not is_int(max_skew) or max_skew <= 0:
            errs.append(invalid(f"{path}.maxSkew", integer(max_skew), "must be greater than zero"))
        key, action = text(constraint.get("topologyKey")), constraint.get("whenUnsatisfiable")
        if not key:
            errs.append(required(f"{path}.topologyKey", "can not be empty"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(
                not_supported(f"{path}.whenUnsatisfiable", action, ("DoNotSchedule", "ScheduleAnyway"))
            )
        if any(
            text(o.get("topologyKey")) == key and o.get("whenUnsatisfiable") == action
            for o in constraints[i + 1 :]
        ):
            errs.append(duplicate(f"{path}.{{topologyKey, whenUnsatisfiable}}", f"{{{key}, {action}}}"))
        errs += label_selector(constraint.get("labelSelector"), f"{path}.labelSelector")
    return errs
