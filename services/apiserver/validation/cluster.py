"""Validation of the smaller kinds: Namespaces, Nodes, Leases, Events and EndpointSlices.

Node taints are reported under ``spec.taints`` (Kubernetes, by an old slip, names them
``metadata.taints``); everything else follows Kubernetes' paths and wording.
"""

from __future__ import annotations

import ipaddress

from services.apiserver.validation.common import (
    Json,
    cidr,
    dns_label,
    dns_subdomain,
    duplicate,
    finalizer_name,
    forbidden,
    immutable,
    invalid,
    is_int,
    items,
    labels,
    mapping,
    nonnegative,
    object_meta,
    one_of,
    qualified_name,
    required,
    text,
)
from services.apiserver.validation.containers import PROTOCOLS
from services.apiserver.validation.resources import node_resources
from services.apiserver.validation.scheduling import taints
from shared.models import FieldError, name_is_dns1123_label, name_is_dns1123_subdomain

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
EVENT_TYPES = ("Normal", "Warning")
_UNCHANGEABLE_CIDR = 'node updates may not change podCIDR except from "" to valid'
_UNCHANGEABLE_PROVIDER = 'node updates may not change providerID except from "" to valid'


def validate_namespace(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=False, name_check=name_is_dns1123_label)
    for finalizer in items(mapping(obj.get("spec")).get("finalizers")):
        errs += finalizer_name(text(finalizer), "spec.finalizers", "spec.finalizers")
    return errs


def validate_namespace_update(new: Json, old: Json) -> list[FieldError]:
    return validate_namespace(new)


def validate_node(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=False, name_check=name_is_dns1123_subdomain)
    spec, status = mapping(obj.get("spec")), mapping(obj.get("status"))
    errs += taints(spec.get("taints"), "spec.taints")
    errs += node_resources(status.get("capacity"), "status.capacity")
    errs += node_resources(status.get("allocatable"), "status.allocatable")
    cidrs = items(spec.get("podCIDRs"))
    for i, value in enumerate(cidrs):
        errs += cidr(value, f"spec.podCIDRs[{i}]")
    if len(cidrs) > 1:
        families = {ipaddress.ip_network(c, strict=False).version for c in cidrs if not cidr(c, "")}
        if len(cidrs) > 2 or len(families) != 2:
            errs.append(
                invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family")
            )
    return errs


def validate_node_update(new: Json, old: Json) -> list[FieldError]:
    """Once a node has a pod CIDR or a provider ID, they stay; addresses are listed once each."""
    errs = validate_node(new)
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    old_cidrs = items(old_spec.get("podCIDRs"))
    if old_cidrs and items(new_spec.get("podCIDRs")) != old_cidrs:
        errs.append(forbidden("spec.podCIDRs", _UNCHANGEABLE_CIDR))
    old_provider = text(old_spec.get("providerID"))
    if old_provider and new_spec.get("providerID") != old_provider:
        errs.append(forbidden("spec.providerID", _UNCHANGEABLE_PROVIDER))
    if new_spec.get("externalID") != old_spec.get("externalID"):
        errs.append(forbidden("spec.externalID", "may not be updated"))
    seen: list[object] = []
    for i, address in enumerate(items(mapping(new.get("status")).get("addresses"))):
        if address in seen:
            errs.append(duplicate(f"status.addresses[{i}]", address))
        seen.append(address)
    return errs


def validate_lease(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=True, name_check=name_is_dns1123_subdomain)
    spec = mapping(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    errs += nonnegative(spec.get("leaseTransitions"), "spec.leaseTransitions")
    if text(spec.get("preferredHolder")) and not text(spec.get("strategy")):
        errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs


def validate_lease_update(new: Json, old: Json) -> list[FieldError]:
    return validate_lease(new)


def validate_event(obj: Json) -> list[FieldError]:
    """core/v1 Events. An old-style event (no ``eventTime``) must live in its object's namespace; a new-style
    one must say who reported it and what happened."""
    errs = object_meta(obj.get("metadata"), namespaced=True, name_check=name_is_dns1123_subdomain)
    namespace = text(mapping(obj.get("metadata")).get("namespace"))
    involved = text(mapping(obj.get("involvedObject")).get("namespace"))
    mismatch = invalid("involvedObject.namespace", involved, "does not match event.namespace")
    if not obj.get("eventTime"):
        if (not involved and namespace not in ("", "default")) or (involved and involved != namespace):
            errs.append(mismatch)
        return errs
    if not involved and namespace not in ("default", "kube-system"):
        errs.append(mismatch)
    component = text(obj.get("reportingComponent"))
    errs += (
        [required("reportingComponent")] if not component else qualified_name(component, "reportingComponent")
    )
    for key in ("reportingInstance", "action", "reason"):
        if not text(obj.get(key)):
            errs.append(required(key))
    if obj.get("type") not in EVENT_TYPES:
        errs.append(invalid("type", "", f"has invalid value: {text(obj.get('type'))}"))
    return errs


def validate_event_update(new: Json, old: Json) -> list[FieldError]:
    # core/v1 puts no further limits on updates: the event recorder rewrites count and timestamps.
    return validate_event(new)


def _addresses(endpoint: Json, address_type: object, field: str) -> list[FieldError]:
    addresses = items(endpoint.get("addresses"))
    if not addresses:
        return [required(field, "must contain at least 1 address")]
    errs: list[FieldError] = []
    for i, address in enumerate(addresses):
        path = f"{field}[{i}]"
        if address_type in ("IPv4", "IPv6"):
            try:
                parsed = ipaddress.ip_address(text(address))
            except ValueError:
                parsed = None
            version = 4 if address_type == "IPv4" else 6
            if parsed is None or parsed.version != version:
                errs.append(invalid(path, address, f"must be a valid {address_type} address"))
        elif address_type == "FQDN":
            errs += dns_subdomain(text(address), path)
    return errs


def validate_endpoint_slice(obj: Json) -> list[FieldError]:
    errs = object_meta(obj.get("metadata"), namespaced=True, name_check=name_is_dns1123_subdomain)
    address_type = obj.get("addressType")
    errs += one_of("addressType", address_type, ADDRESS_TYPES)
    for i, entry in enumerate(items(obj.get("endpoints"))):
        endpoint, path = mapping(entry), f"endpoints[{i}]"
        errs += _addresses(endpoint, address_type, f"{path}.addresses")
        if endpoint.get("nodeName") is not None:
            errs += dns_subdomain(text(endpoint["nodeName"]), f"{path}.nodeName")
        if endpoint.get("hostname") is not None:
            errs += dns_label(text(endpoint["hostname"]), f"{path}.hostname")
        errs += labels(endpoint.get("deprecatedTopology"), f"{path}.deprecatedTopology")
    names: set[str] = set()
    for i, entry in enumerate(items(obj.get("ports"))):
        port, path = mapping(entry), f"ports[{i}]"
        name = text(port.get("name"))
        if name:
            errs += dns_label(name, f"{path}.name")
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
        errs += one_of(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
        if port.get("appProtocol") is not None:
            errs += qualified_name(text(port["appProtocol"]), f"{path}.appProtocol")
    return errs


def validate_endpoint_slice_update(new: Json, old: Json) -> list[FieldError]:
    return validate_endpoint_slice(new) + immutable(
        new.get("addressType"), old.get("addressType"), "addressType"
    )
