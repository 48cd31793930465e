"""Validation of a pod's containers and init containers: names, images, ports, env, mounts, probes, resources.

The checks follow ``validateContainers`` and ``validateInitContainers`` in Kubernetes'
``pkg/apis/core/validation``, including their wording: a missing name is ``spec.containers[0].name:
Required value``, a repeated one ``spec.containers[1].name: Duplicate value: "web"``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from services.apiserver.validation.common import (
    dns_label,
    duplicate,
    forbidden,
    integer,
    invalid,
    items,
    mapping,
    nonnegative,
    not_found,
    not_supported,
    one_of,
    port_name,
    port_number,
    port_number_or_name,
    required,
    text,
)
from services.apiserver.validation.resources import resource_requirements
from shared.models import FieldError

PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
_ENV_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
_ENV_NAME = "a valid environment variable name must consist only of printable ASCII characters other than '='"
_INIT_ONLY_WITH_RESTART = "may not be set for init containers without restartPolicy=Always"


def _ports(value: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, entry in enumerate(items(value)):
        port, path = mapping(entry), f"{field}[{i}]"
        name = text(port.get("name"))
        if name:
            found = port_name(name)
            if found:
                errs += [invalid(f"{path}.name", name, msg) for msg in found]
            elif name in names:
                errs.append(duplicate(f"{path}.name", name))
            names.add(name)
        if not integer(port.get("containerPort")):
            errs.append(required(f"{path}.containerPort"))
        else:
            errs += port_number(port.get("containerPort"), f"{path}.containerPort")
        if integer(port.get("hostPort")):
            errs += port_number(port.get("hostPort"), f"{path}.hostPort")
        errs += one_of(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
    return errs


def _env(value: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, entry in enumerate(items(value)):
        var, path = mapping(entry), f"{field}[{i}]"
        name = text(var.get("name"))
        if not name:
            errs.append(required(f"{path}.name"))
        elif any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in name):
            errs.append(invalid(f"{path}.name", name, _ENV_NAME))
        if "valueFrom" in var and var["valueFrom"] is not None:
            errs += _env_source(mapping(var["valueFrom"]), text(var.get("value")), f"{path}.valueFrom")
    return errs


def _env_source(source: Any, value: str, field: str) -> list[FieldError]:
    given = [kind for kind in _ENV_SOURCES if source.get(kind) is not None]
    errs: list[FieldError] = []
    if "fieldRef" in given:
        ref = mapping(source["fieldRef"])
        if not text(ref.get("apiVersion")):
            errs.append(required(f"{field}.fieldRef.apiVersion"))
        elif not text(ref.get("fieldPath")):
            errs.append(required(f"{field}.fieldRef.fieldPath"))
    for kind in ("configMapKeyRef", "secretKeyRef"):
        if kind in given and not text(mapping(source[kind]).get("key")):
            errs.append(required(f"{field}.{kind}.key"))
    if not given:
        detail = "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
        errs.append(invalid(field, "", detail))
    elif value:
        errs.append(invalid(field, "", "may not be specified when `value` is not empty"))
    elif len(given) > 1:
        errs.append(invalid(field, "", "may not have more than one field specified at a time"))
    return errs


def _volume_mounts(value: Any, field: str, volumes: Collection[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    paths: set[str] = set()
    for i, entry in enumerate(items(value)):
        mount, path = mapping(entry), f"{field}[{i}]"
        name, mount_path = text(mount.get("name")), text(mount.get("mountPath"))
        if not name:
            errs.append(required(f"{path}.name"))
        if name not in volumes:
            errs.append(not_found(f"{path}.name", name))
        if not mount_path:
            errs.append(required(f"{path}.mountPath"))
        if mount_path in paths:
            errs.append(invalid(f"{path}.mountPath", mount_path, "must be unique"))
        paths.add(mount_path)
    return errs


def _handler(value: Any, field: str, kinds: Sequence[str]) -> list[FieldError]:
    """Exactly one handler (``exec``, ``httpGet`` …), itself valid."""
    handler = mapping(value)
    errs: list[FieldError] = []
    count = 0
    for kind in kinds:
        if handler.get(kind) is None:
            continue
        path, action = f"{field}.{kind}", mapping(handler[kind])
        if count:
            errs.append(forbidden(path, "may not specify more than 1 handler type"))
            continue
        count += 1
        if kind == "exec" and not items(action.get("command")):
            errs.append(required(f"{path}.command"))
        if kind == "httpGet":
            if not text(action.get("path")):
                errs.append(required(f"{path}.path"))
            errs += port_number_or_name(action.get("port"), f"{path}.port")
            if action.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(not_supported(f"{path}.scheme", action.get("scheme"), ("HTTP", "HTTPS")))
        if kind == "tcpSocket":
            errs += port_number_or_name(action.get("port"), f"{path}.port")
        if kind == "grpc":
            errs += port_number(action.get("port"), f"{path}.port")
    if not count:
        errs.append(required(field, "must specify a handler type"))
    return errs


def _probe(value: Any, field: str, kind: str) -> list[FieldError]:
    probe = mapping(value)
    errs = _handler(probe, field, _PROBE_HANDLERS)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errs += nonnegative(probe.get(key), f"{field}.{key}")
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and integer(grace) <= 0:
        errs.append(invalid(f"{field}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
    if kind in ("livenessProbe", "startupProbe") and integer(probe.get("successThreshold")) != 1:
        errs.append(invalid(f"{field}.successThreshold", integer(probe.get("successThreshold")), "must be 1"))
    if kind == "readinessProbe" and grace is not None:
        detail = "must not be set for readinessProbes"
        errs.append(invalid(f"{field}.terminationGracePeriodSeconds", grace, detail))
    return errs


def _probes_and_lifecycle(container: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    lifecycle = mapping(container.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            errs += _handler(lifecycle[hook], f"{field}.lifecycle.{hook}", _LIFECYCLE_HANDLERS)
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        if container.get(kind) is not None:
            errs += _probe(container[kind], f"{field}.{kind}", kind)
    return errs


def _common(container: Any, field: str, volumes: Collection[str], is_pod: bool) -> list[FieldError]:
    """What every container needs: a DNS-label name, an image, valid ports, env, mounts and resources."""
    name = text(container.get("name"))
    errs = [required(f"{field}.name")] if not name else dns_label(name, f"{field}.name")
    image = text(container.get("image"))
    if not image:
        errs.append(required(f"{field}.image"))
    elif is_pod and image != image.strip():
        errs.append(invalid(f"{field}.image", image, "must not have leading or trailing whitespace"))
    errs += one_of(
        f"{field}.terminationMessagePolicy", container.get("terminationMessagePolicy"), MESSAGE_POLICIES
    )
    errs += _ports(container.get("ports"), f"{field}.ports")
    errs += _env(container.get("env"), f"{field}.env")
    errs += _volume_mounts(container.get("volumeMounts"), f"{field}.volumeMounts", volumes)
    errs += one_of(f"{field}.imagePullPolicy", container.get("imagePullPolicy"), PULL_POLICIES)
    return errs + resource_requirements(container.get("resources"), f"{field}.resources")


def _host_port_conflicts(containers: list[Any], field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        for j, entry in enumerate(items(mapping(container).get("ports"))):
            port = mapping(entry)
            if not integer(port.get("hostPort")):
                continue
            key = f"{text(port.get('protocol'))}/{text(port.get('hostIP'))}/{integer(port.get('hostPort'))}"
            if key in seen:
                errs.append(duplicate(f"{field}[{i}].ports[{j}].hostPort", key))
            seen.add(key)
    return errs


def containers(value: Any, field: str, volumes: Collection[str], *, is_pod: bool) -> list[FieldError]:
    """``spec.containers``: at least one, names unique, no per-container ``restartPolicy``."""
    found = items(value)
    if not found:
        return [required(field)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, entry in enumerate(found):
        container, path = mapping(entry), f"{field}[{i}]"
        errs += _common(container, path, volumes, is_pod)
        name = text(container.get("name"))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
        errs += _probes_and_lifecycle(container, path)
        if container.get("restartPolicy") is not None:
            errs.append(forbidden(f"{path}.restartPolicy", "may not be set for non-init containers"))
    return errs + _host_port_conflicts(found, field)


def init_containers(
    value: Any, field: str, volumes: Collection[str], regular: Collection[str], *, is_pod: bool
) -> list[FieldError]:
    """``spec.initContainers``: names unique across all containers; probes and lifecycle hooks only on
    sidecars (``restartPolicy: Always``), the one restart policy an init container may have."""
    errs: list[FieldError] = []
    names = set(regular)
    for i, entry in enumerate(items(value)):
        container, path = mapping(entry), f"{field}[{i}]"
        errs += _common(container, path, volumes, is_pod)
        restart = container.get("restartPolicy")
        if restart is not None and restart != "Always":
            errs.append(not_supported(f"{path}.restartPolicy", restart, ("Always",)))
        name = text(container.get("name"))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        elif name:
            names.add(name)
        errs += _host_port_conflicts([container], field)
        if restart == "Always":
            errs += _probes_and_lifecycle(container, path)
            continue
        for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(key) is not None:
                errs.append(forbidden(f"{path}.{key}", _INIT_ONLY_WITH_RESTART))
    return errs


def container_names(value: Any) -> list[str]:
    return [text(mapping(entry).get("name")) for entry in items(value)]
