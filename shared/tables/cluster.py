"""kubectl's columns for services, endpoint slices, namespaces, leases and events, with their cells."""

from __future__ import annotations

from datetime import datetime

from shared.tables.columns import AGE, NAME, NONE, Cells, Column, Object, age, dig, name_of, or_none, since

# --- services ---------------------------------------------------------------------------------------------


def _external_ips(svc: Object) -> str:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    external = [str(a) for a in spec.get("externalIPs") or []]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "ExternalName":
        return str(spec.get("externalName") or NONE)
    ingress = dig(svc, "status", "loadBalancer", "ingress") or []
    # As kubectl: the load balancer's own addresses first, then the service's external IPs.
    found = [str(i.get("ip") or i.get("hostname") or "") for i in ingress] + external
    return ",".join(a for a in found if a) or "<pending>"


def _ports(svc: Object) -> str:
    shown = []
    for port in dig(svc, "spec", "ports") or []:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        shown.append(f"{port.get('port')}{node_port}/{port.get('protocol') or 'TCP'}")
    return ",".join(shown) or NONE


def service_cells(svc: Object, now: datetime) -> Cells:
    spec = svc.get("spec") or {}
    selector = spec.get("selector") or {}
    return [
        name_of(svc),
        str(spec.get("type") or "ClusterIP"),
        or_none(spec.get("clusterIP")),
        _external_ips(svc),
        _ports(svc),
        age(svc, now),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
    ]


SERVICE_COLUMNS = (
    NAME,
    Column("Type", description="The type of the service."),
    Column("Cluster-IP", description="The cluster IP of the service."),
    Column("External-IP", description="The external IPs of the service."),
    Column("Port(s)", description="The ports exposed by the service."),
    AGE,
    Column("Selector", priority=1, description="Route traffic to pods with these labels."),
)


# --- endpoint slices --------------------------------------------------------------------------------------


def endpoint_slice_cells(eps: Object, now: datetime) -> Cells:
    ports = eps.get("ports")
    if ports is None:
        ports_cell = "<unset>"
    else:
        ports_cell = ",".join(str(p.get("port", "<unset>")) for p in ports) or NONE
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    endpoints_cell = ",".join(addresses[:3]) or "<unset>"
    if len(addresses) > 3:
        endpoints_cell += f" + {len(addresses) - 3} more..."
    return [name_of(eps), str(eps.get("addressType") or ""), ports_cell, endpoints_cell, age(eps, now)]


ENDPOINT_SLICE_COLUMNS = (
    NAME,
    Column("AddressType", description="The type of address carried by this slice."),
    Column("Ports", description="The ports of the endpoints."),
    Column("Endpoints", description="The addresses of the endpoints."),
    AGE,
)


# --- namespaces and leases --------------------------------------------------------------------------------


def namespace_cells(ns: Object, now: datetime) -> Cells:
    return [name_of(ns), str(dig(ns, "status", "phase") or "Active"), age(ns, now)]


NAMESPACE_COLUMNS = (NAME, Column("Status", description="The status of the namespace."), AGE)


def lease_cells(lease: Object, now: datetime) -> Cells:
    return [name_of(lease), str(dig(lease, "spec", "holderIdentity") or ""), age(lease, now)]


LEASE_COLUMNS = (NAME, Column("Holder", description="The holder of the lease."), AGE)


# --- events -----------------------------------------------------------------------------------------------


def event_cells(event: Object, now: datetime) -> Cells:
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    origin = str(source.get("component") or event.get("reportingComponent") or "")
    if source.get("host"):
        origin += f", {source['host']}"
    last = event.get("lastTimestamp") or event.get("eventTime") or dig(event, "metadata", "creationTimestamp")
    first = event.get("firstTimestamp") or event.get("eventTime") or last
    return [
        since(last, now),
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        str(involved.get("fieldPath") or ""),
        origin,
        str(event.get("message") or "").strip(),
        since(first, now),
        int(event.get("count") or 1),
        name_of(event),
    ]


EVENT_COLUMNS = (
    Column("Last Seen", description="When the event was last seen."),
    Column("Type", description="The type of the event."),
    Column("Reason", description="Why the event happened."),
    Column("Object", description="The object the event is about."),
    Column("Subobject", priority=1, description="The part of the object the event is about."),
    Column("Source", priority=1, description="The component reporting the event."),
    Column("Message", description="A description of the event."),
    Column("First Seen", priority=1, description="When the event was first seen."),
    Column("Count", "integer", priority=1, description="How many times the event happened."),
    Column("Name", priority=1, format="name", description="The event's name."),
)
