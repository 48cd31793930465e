"""Defaulting: the fields Kubernetes fills in on a write before validating, applied to wire-form dicts.

``apply_defaults(resource, obj)`` returns a defaulted copy and never changes ``obj``; fields it does not
know are carried over untouched. It is idempotent: defaulting a defaulted object changes nothing. It
gathers what several Kubernetes steps do:

* the scheme's defaulters (``pkg/apis/core/v1/defaults.go``, ``pkg/apis/apps/v1/defaults.go``):
  ``restartPolicy: Always``, ``imagePullPolicy``, probe timings, Service ``type: ClusterIP``, Deployment
  strategy …;
* the registry strategies' ``PrepareForCreate``: a Pod's ``status.phase: Pending`` and ``qosClass``, a
  Namespace's ``kubernetes`` finalizer and ``Active`` phase, a Service's IP family fields as a
  single-stack IPv4 cluster sets them (the cluster IP itself is the admission step's);
* the admission plugins that only add fields: DefaultTolerationSeconds (pods tolerate ``not-ready`` and
  ``unreachable`` nodes for ``toleration_seconds``) and Priority (``priority: 0`` and
  ``preemptionPolicy: PreemptLowerPriority`` unless a system priority class is named).

Values of the wrong JSON type are left as they are, for validation to report.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from shared.models import Quantity, QuantityError

__all__ = ["DEFAULT_TOLERATION_SECONDS", "apply_defaults", "image_tag", "qos_class"]

DEFAULT_TOLERATION_SECONDS = 300
"""How long a pod stays bound to a not-ready or unreachable node (kube-apiserver's default, 5 minutes)."""

Obj = dict[str, Any]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
DEFAULT_FILE_MODE = 0o644
_VOLUME_MODES = ("secret", "configMap", "downwardAPI", "projected")
_QOS_RESOURCES = ("cpu", "memory")


def apply_defaults(
    resource: str, obj: Mapping[str, Any], *, toleration_seconds: int = DEFAULT_TOLERATION_SECONDS
) -> Obj:
    """A defaulted deep copy of ``obj``, a ``resource`` (``"pods"``, ``"deployments"`` …) in wire form.

    Resources without defaults (leases, events, unknown ones) come back as a plain copy.
    """
    out = copy.deepcopy(dict(obj))
    if resource == "pods":
        _pod(out, toleration_seconds)
    else:
        _DEFAULTERS.get(resource, _nothing)(out)
    return out


# --- helpers -------------------------------------------------------------------------------------------


def _child(parent: Obj, key: str) -> Obj | None:
    """``parent[key]``, created as ``{}`` when absent; None when it is there but not an object."""
    value = parent.setdefault(key, {})
    return value if isinstance(value, dict) else None


def _dicts(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _nothing(obj: Obj) -> None:
    """Nodes, leases and events: nothing beyond what their own sections below say."""


def image_tag(image: str) -> str:
    """The tag Kubernetes reads from an image reference: ``nginx`` → ``latest``, ``nginx:1.25`` → ``1.25``,
    ``registry:5000/app`` → ``latest``, ``app@sha256:…`` → no tag (a digest pins it)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


# --- pods ----------------------------------------------------------------------------------------------


def _http_get(handler: Any) -> None:
    if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
        handler["httpGet"].setdefault("path", "/")
        handler["httpGet"].setdefault("scheme", "HTTP")


def _container(container: Obj) -> None:
    if "imagePullPolicy" not in container and isinstance(container.get("image", ""), str):
        # A tag that can move (latest, or none, which means latest) is pulled every time.
        container["imagePullPolicy"] = (
            "Always" if image_tag(container.get("image", "")) == "latest" else "IfNotPresent"
        )
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in _dicts(container.get("ports")):
        port.setdefault("protocol", "TCP")
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(kind)
        if isinstance(probe, dict):
            for key, value in (
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
            ):
                probe.setdefault(key, value)
            _http_get(probe)
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        _http_get(lifecycle.get("postStart"))
        _http_get(lifecycle.get("preStop"))
    for var in _dicts(container.get("env")):
        value_from = var.get("valueFrom")
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            value_from["fieldRef"].setdefault("apiVersion", "v1")


def _volume(volume: Obj) -> None:
    if set(volume) <= {"name"}:
        volume["emptyDir"] = {}  # a volume with no source is a scratch directory
    for kind in _VOLUME_MODES:
        if isinstance(volume.get(kind), dict):
            volume[kind].setdefault("defaultMode", DEFAULT_FILE_MODE)
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")


def _pod_spec(spec: Obj) -> None:
    """``SetDefaults_PodSpec``: what every pod spec gets, a template's included."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        _container(container)
    for volume in _dicts(spec.get("volumes")):
        _volume(volume)


def _tolerates(tolerations: list[Obj], taint_key: str) -> bool:
    # As DefaultTolerationSeconds reads it: any toleration for the key (or for every key) whose effect
    # includes NoExecute counts, whatever its operator or seconds.
    return any(
        t.get("key", "") in ("", taint_key) and t.get("effect", "") in ("", "NoExecute") for t in tolerations
    )


def _default_tolerations(spec: Obj, seconds: int) -> None:
    tolerations = spec.get("tolerations") or []
    if not isinstance(tolerations, list):
        return
    current = _dicts(tolerations)
    for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if not _tolerates(current, key):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
            )
    spec["tolerations"] = tolerations


def qos_class(spec: Mapping[str, Any]) -> str:
    """``Guaranteed`` when every container limits cpu and memory and requests exactly that, ``BestEffort``
    when nothing requests or limits cpu or memory, ``Burstable`` otherwise (``qos.GetPodQOS``)."""
    containers = _dicts(spec.get("containers")) + _dicts(spec.get("initContainers"))
    any_set, guaranteed = False, True
    for container in containers:
        resources = _mapping(container.get("resources"))
        requests, limits = _mapping(resources.get("requests")), _mapping(resources.get("limits"))
        wanted = {k: v for k, v in requests.items() if k in _QOS_RESOURCES and _nonzero(v)}
        capped = {k: v for k, v in limits.items() if k in _QOS_RESOURCES and _nonzero(v)}
        any_set = any_set or bool(wanted or capped)
        if set(capped) != set(_QOS_RESOURCES) or any(
            _amount(wanted.get(k)) != _amount(capped[k]) for k in capped
        ):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _amount(value: Any) -> Any:
    try:
        return Quantity(value.strip() if isinstance(value, str) else value).amount
    except (QuantityError, TypeError, ValueError):
        return None


def _nonzero(value: Any) -> bool:
    amount = _amount(value)
    return amount is not None and amount != 0


def _pod(pod: Obj, toleration_seconds: int) -> None:
    spec = _child(pod, "spec")
    if spec is None:
        return
    _pod_spec(spec)
    # SetDefaults_Pod, which pods get and templates do not: a limit without a request requests the limit.
    for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        resources = container.get("resources")
        if isinstance(resources, dict) and isinstance(resources.get("limits"), dict) and resources["limits"]:
            requests = resources.setdefault("requests", {})
            if isinstance(requests, dict):
                for name, limit in resources["limits"].items():
                    requests.setdefault(name, copy.deepcopy(limit))
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
            for port in _dicts(container.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    _default_tolerations(spec, toleration_seconds)
    class_name = spec.get("priorityClassName")
    spec.setdefault(
        "priority", SYSTEM_PRIORITY_CLASSES.get(class_name, 0) if isinstance(class_name, str) else 0
    )
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    status = _child(pod, "status")
    if status is not None:
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", qos_class(spec))


# --- workloads -----------------------------------------------------------------------------------------


def _template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.setdefault("spec", {}), dict):
        _pod_spec(template["spec"])


def _deployment(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    strategy = _child(spec, "strategy")
    if strategy is not None:
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _child(strategy, "rollingUpdate")
            if rolling is not None:
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("minReadySeconds", 0)
    _template(spec)


def _replica_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    _template(spec)


# --- services, namespaces, nodes, endpoint slices ------------------------------------------------------


def _service(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = _child(spec, "sessionAffinityConfig")
        client_ip = _child(config, "clientIP") if config is not None else None
        if client_ip is not None:
            client_ip.setdefault("timeoutSeconds", 10800)
    kind = spec.setdefault("type", "ClusterIP")
    for port in _dicts(spec.get("ports")):
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    if (kind in ("NodePort", "LoadBalancer") or spec.get("externalIPs")) and not spec.get(
        "externalTrafficPolicy"
    ):
        spec["externalTrafficPolicy"] = "Cluster"
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if kind != "ExternalName":
        # A single-stack IPv4 cluster. A headless Service without a selector has its endpoints written by
        # hand, possibly of both families, so Kubernetes asks for dual stack there.
        headless_manual = spec.get("clusterIP") == "None" and not spec.get("selector")
        spec.setdefault("ipFamilyPolicy", "RequireDualStack" if headless_manual else "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
    if isinstance(spec.get("clusterIP"), str) and spec["clusterIP"] and "clusterIPs" not in spec:
        spec["clusterIPs"] = [spec["clusterIP"]]
    status = _child(obj, "status")
    if status is not None:
        status.setdefault("loadBalancer", {})


def _namespace(obj: Obj) -> None:
    meta = _child(obj, "metadata")
    if meta is not None and isinstance(meta.get("name"), str) and meta["name"]:
        labels = _child(meta, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = meta["name"]
    spec = _child(obj, "spec")
    # Only when absent, and never once deletion began: the namespace controller removes the finalizer to
    # finish a deletion, and a later write must not bring it back.
    if spec is not None and "deletionTimestamp" not in (meta or {}):
        spec.setdefault("finalizers", ["kubernetes"])
    status = _child(obj, "status")
    if status is not None:
        status.setdefault("phase", "Active")


def _node(obj: Obj) -> None:
    """A Node has no spec defaults; a status with a capacity but no allocatable allocates all of it."""
    status = obj.get("status")
    if isinstance(status, dict) and isinstance(status.get("capacity"), dict) and "allocatable" not in status:
        status["allocatable"] = copy.deepcopy(status["capacity"])


def _endpoint_slice(obj: Obj) -> None:
    # Endpoint conditions stay as given: an unset "ready" means unknown, which consumers read as ready.
    for port in _dicts(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "deployments": _deployment,
    "replicasets": _replica_set,
    "services": _service,
    "namespaces": _namespace,
    "nodes": _node,
    "endpointslices": _endpoint_slice,
}
