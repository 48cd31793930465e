"""Validation of Services: ports, type, session affinity, traffic policies and cluster IPs.

The cluster IP itself is allocated by the API server's admission step; here it is only checked for
shape, and once set it may not change (``spec.clusterIP: Invalid value: "10.96.0.2": field is immutable``),
except when the Service turns into or out of an ``ExternalName`` one, which has no cluster IP.
"""

from __future__ import annotations

from services.apiserver.validation.common import (
    Json,
    dns_label,
    dns_subdomain,
    duplicate,
    forbidden,
    immutable,
    integer,
    invalid,
    ip_address,
    items,
    labels,
    mapping,
    not_supported,
    object_meta,
    one_of,
    port_number,
    port_number_or_name,
    qualified_name,
    required,
    text,
)
from services.apiserver.validation.containers import PROTOCOLS
from shared.models import FieldError, name_is_dns1035_label

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
MAX_AFFINITY_SECONDS = 86400


def _ports(spec: Json) -> list[FieldError]:
    errs: list[FieldError] = []
    ports = [mapping(p) for p in items(spec.get("ports"))]
    names: set[str] = set()
    seen: set[tuple[str, int]] = set()
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        path, name = f"spec.ports[{i}]", text(port.get("name"))
        if len(ports) > 1 and not name:
            errs.append(required(f"{path}.name"))
        elif name:
            errs += dns_label(name, f"{path}.name")
            if name in names:
                errs.append(duplicate(f"{path}.name", name))
            names.add(name)
        errs += port_number(port.get("port"), f"{path}.port")
        errs += one_of(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
        errs += port_number_or_name(port.get("targetPort"), f"{path}.targetPort")
        if port.get("appProtocol") is not None:
            errs += qualified_name(text(port["appProtocol"]), f"{path}.appProtocol")
        protocol, node_port = text(port.get("protocol")), integer(port.get("nodePort"))
        if node_port and spec.get("type") == "ClusterIP":
            errs.append(forbidden(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'"))
        if node_port and (protocol, node_port) in node_ports:
            errs.append(duplicate(f"{path}.nodePort", node_port))
        node_ports.add((protocol, node_port))
        key = (protocol, integer(port.get("port")))
        if key in seen:
            errs.append(duplicate(path, {"port": key[1], "protocol": key[0]}))
        seen.add(key)
    return errs


def _session_affinity(spec: Json) -> list[FieldError]:
    affinity = spec.get("sessionAffinity")
    errs = one_of("spec.sessionAffinity", affinity, SESSION_AFFINITIES)
    config = spec.get("sessionAffinityConfig")
    path = "spec.sessionAffinityConfig"
    if affinity == "ClientIP":
        timeout = mapping(mapping(config).get("clientIP")).get("timeoutSeconds")
        if timeout is None:
            errs.append(required(f"{path}.clientIP.timeoutSeconds", "when session affinity type is ClientIP"))
        elif not 0 < integer(timeout) <= MAX_AFFINITY_SECONDS:
            detail = f"must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"
            errs.append(invalid(f"{path}.clientIP.timeoutSeconds", timeout, detail))
    elif affinity == "None" and config is not None:
        errs.append(forbidden(path, "must not be set when session affinity is None"))
    return errs


def _cluster_ips(spec: Json) -> list[FieldError]:
    errs: list[FieldError] = []
    cluster_ip, cluster_ips = text(spec.get("clusterIP")), items(spec.get("clusterIPs"))
    if cluster_ips and cluster_ip and cluster_ips[0] != cluster_ip:
        errs.append(invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`"))
    for i, ip in enumerate(cluster_ips or ([cluster_ip] if cluster_ip else [])):
        if ip == "None" and i == 0:
            continue
        errs += ip_address(ip, f"spec.clusterIPs[{i}]")
    kind = spec.get("type")
    if cluster_ip == "None" and kind in ("LoadBalancer", "NodePort"):
        errs.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    for i, family in enumerate(items(spec.get("ipFamilies"))):
        if family not in IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    return errs


def _by_type(spec: Json) -> list[FieldError]:
    kind = spec.get("type")
    errs = one_of("spec.type", kind, SERVICE_TYPES)
    if kind == "ExternalName":
        for key, path in (("clusterIPs", "spec.clusterIPs"), ("ipFamilies", "spec.ipFamilies")):
            if items(spec.get(key)):
                errs.append(forbidden(path, "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = text(spec.get("externalName")).removesuffix(".")
        errs += dns_subdomain(cname, "spec.externalName") if cname else [required("spec.externalName")]
    accessible = kind in ("LoadBalancer", "NodePort") or bool(items(spec.get("externalIPs")))
    external = spec.get("externalTrafficPolicy")
    if not accessible:
        if external:
            detail = "may only be set for externally-accessible services"
            errs.append(invalid("spec.externalTrafficPolicy", external, detail))
    else:
        errs += one_of("spec.externalTrafficPolicy", external, TRAFFIC_POLICIES)
    internal = spec.get("internalTrafficPolicy")
    if internal is None and kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(required("spec.internalTrafficPolicy"))
    elif internal is not None and internal not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    allocate = spec.get("allocateLoadBalancerNodePorts")
    if allocate is not None and kind != "LoadBalancer":
        errs.append(
            forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    if allocate is None and kind == "LoadBalancer":
        errs.append(required("spec.allocateLoadBalancerNodePorts"))
    return errs


def validate_service(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=True, name_check=name_is_dns1035_label)
    spec = mapping(obj.get("spec"))
    headless = spec.get("clusterIP") == "None"
    if not items(spec.get("ports")) and not headless and spec.get("type") != "ExternalName":
        errs.append(required("spec.ports"))
    errs += _ports(spec)
    errs += labels(spec.get("selector"), "spec.selector")
    errs += _session_affinity(spec)
    errs += _cluster_ips(spec)
    for i, ip in enumerate(items(spec.get("externalIPs"))):
        errs += ip_address(ip, f"spec.externalIPs[{i}]")
    return errs + _by_type(spec)


def validate_service_update(new: Json, old: Json) -> list[FieldError]:
    errs: list[FieldError] = []
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    crosses_external_name = "ExternalName" in (new_spec.get("type"), old_spec.get("type"))
    old_ip = text(old_spec.get("clusterIP"))
    if old_ip and not crosses_external_name:
        errs += immutable(text(new_spec.get("clusterIP")), old_ip, "spec.clusterIP")
    return errs + validate_service(new)
