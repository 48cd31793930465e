"""kubectl's standard columns for services, endpoint slices, namespaces, leases and events.

The same contract as :mod:`services.apiserver.rest.printers`: column definitions, and pure functions from
an object and its humanised age to the row's cells.
"""

from __future__ import annotations

from services.apiserver.rest.printers import AGE, NAME, NONE, Cells, Obj, column, dig, name_of, or_none

# --- services ---------------------------------------------------------------------------------------------


def _external_ips(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "ExternalName":
        return str(spec.get("externalName") or NONE)
    ingress = dig(svc, "status", "loadBalancer", "ingress") or []
    found = external + [str(i.get("ip") or i.get("hostname") or "") for i in ingress]
    return ",".join(a for a in found if a) or "<pending>"


def _ports(svc: Obj) -> str:
    shown = []
    for port in dig(svc, "spec", "ports") or []:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        shown.append(f"{port.get('port')}{node_port}/{port.get('protocol') or 'TCP'}")
    return ",".join(shown) or NONE


def service_cells(svc: Obj, age: str) -> Cells:
    spec = svc.get("spec") or {}
    selector = spec.get("selector") or {}
    return [
        name_of(svc),
        str(spec.get("type") or "ClusterIP"),
        or_none(spec.get("clusterIP")),
        _external_ips(svc),
        _ports(svc),
        age,
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
    ]


SERVICE_COLUMNS = [
    NAME,
    column("Type", description="The type of the service."),
    column("Cluster-IP", description="The cluster IP of the service."),
    column("External-IP", description="The external IPs of the service."),
    column("Port(s)", description="The ports exposed by the service."),
    AGE,
    column("Selector", priority=1, description="Route traffic to pods with these labels."),
]


# --- endpoint slices --------------------------------------------------------------------------------------


def endpoint_slice_cells(eps: Obj, age: str) -> Cells:
    ports = eps.get("ports")
    if ports is None:
        ports_cell = "<unset>"
    else:
        ports_cell = ",".join(str(p.get("port", "<unset>")) for p in ports) or NONE
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    endpoints_cell = ",".join(addresses[:3]) or "<unset>"
    if len(addresses) > 3:
        endpoints_cell += f" + {len(addresses) - 3} more..."
    return [name_of(eps), str(eps.get("addressType") or ""), ports_cell, endpoints_cell, age]


ENDPOINT_SLICE_COLUMNS = [
    NAME,
    column("AddressType", description="The type of address carried by this slice."),
    column("Ports", description="The ports of the endpoints."),
    column("Endpoints", description="The addresses of the endpoints."),
    AGE,
]


# --- namespaces and leases --------------------------------------------------------------------------------


def namespace_cells(ns: Obj, age: str) -> Cells:
    return [name_of(ns), str(dig(ns, "status", "phase") or "Active"), age]


NAMESPACE_COLUMNS = [NAME, column("Status", description="The status of the namespace."), AGE]


def lease_cells(lease: Obj, age: str) -> Cells:
    return [name_of(lease), str(dig(lease, "spec", "holderIdentity") or ""), age]


LEASE_COLUMNS = [NAME, column("Holder", description="The holder of the lease."), AGE]


# --- events -----------------------------------------------------------------------------------------------


def event_cells(event: Obj, last_seen: str, first_seen: str) -> Cells:
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    origin = str(source.get("component") or event.get("reportingComponent") or "")
    if source.get("host"):
        origin += f", {source['host']}"
    return [
        last_seen,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}",
        str(involved.get("fieldPath") or ""),
        origin,
        str(event.get("message") or "").strip(),
        first_seen,
        int(event.get("count") or 1),
        name_of(event),
    ]


EVENT_COLUMNS = [
    column("Last Seen", description="When the event was last seen."),
    column("Type", description="The type of the event."),
    column("Reason", description="Why the event happened."),
    column("Object", description="The object the event is about."),
    column("Subobject", priority=1, description="The part of the object the event is about."),
    column("Source", priority=1, description="The component reporting the event."),
    column("Message", description="A description of the event."),
    column("First Seen", priority=1, description="When the event was first seen."),
    column("Count", "integer", priority=1, description="How many times the event happened."),
    column("Name", priority=1, fmt="name", description="The event's name."),
]
