"""Validation of Deployments and ReplicaSets (apps/v1), including the selector that may never change.

The template must carry the labels the selector asks for, or Kubernetes' message follows:
``spec.template.metadata.labels: Invalid value: {"app":"b"}: `selector` does not match template `labels```.
"""

from __future__ import annotations

from typing import Any

from services.apiserver.validation.common import (
    Json,
    forbidden,
    immutable,
    integer,
    invalid,
    is_int,
    label_selector,
    mapping,
    nonnegative,
    not_supported,
    object_meta,
    parse_selector,
    percent,
    required,
    string_map,
)
from services.apiserver.validation.pod import pod_template
from shared.models import FieldError, name_is_dns1123_subdomain

STRATEGY_TYPES = ("Recreate", "RollingUpdate")


def _selector_and_template(spec: Json) -> list[FieldError]:
    errs: list[FieldError] = []
    selector = spec.get("selector")
    if selector is None:
        errs.append(required("spec.selector"))
    else:
        errs += label_selector(selector, "spec.selector")
        given = mapping(selector)
        if not mapping(given.get("matchLabels")) and not given.get("matchExpressions"):
            # Kubernetes says "deployment" here for ReplicaSets too; kept, so clients see the same text.
            errs.append(invalid("spec.selector", selector, "empty selector is invalid for deployment"))
    template = mapping(spec.get("template"))
    template_labels = string_map(mapping(template.get("metadata")).get("labels"))
    parsed = parse_selector(selector) if selector is not None else None
    if parsed is not None and not parsed.is_empty() and not parsed.matches(template_labels):
        labels_value = mapping(template.get("metadata")).get("labels")
        errs.append(
            invalid(
                "spec.template.metadata.labels", labels_value, "`selector` does not match template `labels`"
            )
        )
    errs += pod_template(template, "spec.template")
    template_spec = mapping(template.get("spec"))
    restart = template_spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        detail = "activeDeadlineSeconds in ReplicaSet is not Supported"
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds", detail))
    return errs


def _int_or_percent(value: Any, field: str) -> list[FieldError]:
    if isinstance(value, str):
        return [invalid(field, value, msg) for msg in percent(value)]
    if is_int(value):
        return nonnegative(value, field)
    return [invalid(field, value, "must be an integer or percentage (e.g '5%')")]


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str) and not percent(value):
        return int(value[:-1])
    return integer(value)


def _strategy(value: Any) -> list[FieldError]:
    strategy = mapping(value)
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [
                forbidden(
                    "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
                )
            ]
        return []
    if kind != "RollingUpdate":
        return [not_supported("spec.strategy", value, STRATEGY_TYPES)]
    if strategy.get("rollingUpdate") is None:
        return [required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")]
    rolling, path = mapping(strategy["rollingUpdate"]), "spec.strategy.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = _int_or_percent(unavailable, f"{path}.maxUnavailable") + _int_or_percent(surge, f"{path}.maxSurge")
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        errs.append(invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    if isinstance(unavailable, str) and not percent(unavailable) and _int_or_percent_value(unavailable) > 100:
        errs.append(invalid(f"{path}.maxUnavailable", unavailable, "must not be greater than 100%"))
    return errs


def validate_deployment(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=True, name_check=name_is_dns1123_subdomain)
    spec = mapping(obj.get("spec"))
    errs += nonnegative(integer(spec.get("replicas")), "spec.replicas")
    errs += _selector_and_template(spec)
    errs += _strategy(spec.get("strategy"))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if is_int(deadline):
        errs += nonnegative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= integer(spec.get("minReadySeconds")):
            errs.append(
                invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
            )
    return errs


def validate_replica_set(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=True, name_check=name_is_dns1123_subdomain)
    spec = mapping(obj.get("spec"))
    errs += nonnegative(integer(spec.get("replicas")), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    return errs + _selector_and_template(spec)


def _selector_update(new: Json, old: Json) -> list[FieldError]:
    # apps/v1 made the selector immutable: changing it would orphan the pods the old one selected.
    new_selector = mapping(new.get("spec")).get("selector")
    return immutable(new_selector, mapping(old.get("spec")).get("selector"), "spec.selector")


def validate_deployment_update(new: Json, old: Json) -> list[FieldError]:
    return validate_deployment(new) + _selector_update(new, old)


def validate_replica_set_update(new: Json, old: Json) -> list[FieldError]:
    return validate_replica_set(new) + _selector_update(new, old)
