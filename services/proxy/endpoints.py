"""Which endpoint a Service request goes to: ready endpoints on this node first, then remote ones.

Pure: the proxy feeds it Services and EndpointSlices as they change and asks :meth:`ServiceTable.pick`
for each request. The rules are Kubernetes' for a Service with ``trafficDistribution: PreferSameNode``:

- only endpoints whose slice says ``ready`` (unknown counts as ready) are used, and an endpoint leaves
  the moment its slice drops it or marks it not ready; terminating endpoints are used only when there is
  nothing else, as kube-proxy's "terminating fallback" does;
- same-node endpoints first; remote ones only when no local one is ready;
- ``internalTrafficPolicy: Local`` uses local endpoints only — none means the request fails, as
  Kubernetes drops the packet;
- among equals, the one with the fewest requests in flight, ties taken in turn (round-robin).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    node: str
    pod: str = ""
    ready: bool = True
    terminating: bool = False


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    namespace: str
    name: str
    ports: frozenset[str]
    """How a request may name a Service port: its name, or its number as text."""
    local_only: bool = False
    first_port: str = ""


class NoEndpointsError(LookupError):
    """No endpoint can take the request; the message says why, in kube-proxy's terms."""


def service_info(service: Object) -> ServiceInfo:
    meta, spec = service.get("metadata", {}), service.get("spec", {})
    ports = frozenset(
        name
        for port in spec.get("ports") or []
        for name in (port.get("name", ""), str(port.get("port")))
        if name
    )
    first: Object = next(iter(spec.get("ports") or []), {})
    return ServiceInfo(
        meta.get("namespace", "default"),
        meta.get("name", ""),
        ports,
        spec.get("internalTrafficPolicy") == "Local",
        first.get("name", "") or str(first.get("port", "")),
    )


def slice_endpoints(endpoint_slice: Object, port_name: str) -> list[Endpoint]:
    """The endpoints of one slice for the named port (the slice's ports are target ports, by name)."""
    port = next(
        (p.get("port") for p in endpoint_slice.get("ports") or [] if (p.get("name") or "") == port_name), None
    )
    if port is None:
        return []
    out = []
    for endpoint in endpoint_slice.get("endpoints") or []:
        conditions = endpoint.get("conditions") or {}
        ready = conditions.get("ready") is not False
        terminating = conditions.get("terminating") is True
        pod = (endpoint.get("targetRef") or {}).get("name", "")
        for address in endpoint.get("addresses") or []:
            out.append(Endpoint(address, int(port), endpoint.get("nodeName") or "", pod, ready, terminating))
    return out


@dataclass
class ServiceTable:
    """The Services and EndpointSlices a proxy knows, and the requests in flight per endpoint."""

    node: str
    services: dict[tuple[str, str], Object] = field(default_factory=dict)
    slices: dict[tuple[str, str], dict[str, Object]] = field(default_factory=lambda: defaultdict(dict))
    in_flight: dict[Endpoint, int] = field(default_factory=dict)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    # --- feeding ---------------------------------------------------------------------------------

    def set_service(self, service: Object) -> None:
        meta = service["metadata"]
        self.services[(meta.get("namespace", "default"), meta["name"])] = service

    def remove_service(self, service: Object) -> None:
        meta = service["metadata"]
        self.services.pop((meta.get("namespace", "default"), meta["name"]), None)

    def set_slice(self, endpoint_slice: Object) -> None:
        key = self._slice_owner(endpoint_slice)
        if key is not None:
            self.slices[key][endpoint_slice["metadata"]["name"]] = endpoint_slice

    def remove_slice(self, endpoint_slice: Object) -> None:
        key = self._slice_owner(endpoint_slice)
        if key is not None:
            self.slices[key].pop(endpoint_slice["metadata"]["name"], None)

    @staticmethod
    def _slice_owner(endpoint_slice: Object) -> tuple[str, str] | None:
        meta = endpoint_slice.get("metadata", {})
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        return (meta.get("namespace", "default"), service) if service else None

    # --- choosing --------------------------------------------------------------------------------

    def endpoints(self, namespace: str, name: str, port: str = "") -> tuple[ServiceInfo, list[Endpoint]]:
        found = self.services.get((namespace, name))
        if found is None:
            raise NoEndpointsError(f'service "{namespace}/{name}" not found')
        info = service_info(found)
        wanted = port or info.first_port
        if wanted not in info.ports:
            raise NoEndpointsError(f'service "{namespace}/{name}" has no port "{wanted}"')
        # A slice's port carries the Service port's name ('' for a single unnamed port).
        port_name = _slice_port_name(found, wanted)
        everything = [
            e for s in self.slices.get((namespace, name), {}).values() for e in slice_endpoints(s, port_name)
        ]
        return info, everything

    def pick(self, namespace: str, name: str, port: str = "", exclude: Collection[Endpoint] = ()) -> Endpoint:
        """The endpoint for one request, never one in ``exclude`` (those that failed it already);
        raises :class:`NoEndpointsError` when there is none."""
        info, found = self.endpoints(namespace, name, port)
        candidates = [e for e in found if e not in exclude]
        usable = [e for e in candidates if e.ready and not e.terminating] or [
            e for e in candidates if e.terminating and e.ready
        ]
        local = [e for e in usable if e.node == self.node]
        if info.local_only:
            if not local:
                raise NoEndpointsError(
                    f'service "{namespace}/{name}" has internalTrafficPolicy Local and no ready endpoint '
                    f'on node "{self.node}"'
                )
            return self._least_loaded(local)
        chosen = local or usable
        if not chosen:
            raise NoEndpointsError(f'no endpoints available for service "{namespace}/{name}"')
        return self._least_loaded(chosen)

    def _least_loaded(self, endpoints: list[Endpoint]) -> Endpoint:
        load = {e: self.in_flight.get(e, 0) for e in endpoints}
        fewest = min(load.values())
        equals = sorted((e for e in endpoints if load[e] == fewest), key=lambda e: (e.ip, e.port))
        return equals[next(self._turn) % len(equals)]

    def started(self, endpoint: Endpoint) -> None:
        self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1

    def finished(self, endpoint: Endpoint) -> None:
        left = self.in_flight.get(endpoint, 0) - 1
        if left > 0:
            self.in_flight[endpoint] = left
        else:
            self.in_flight.pop(endpoint, None)


def _slice_port_name(service: Object, wanted: str) -> str:
    for port in service.get("spec", {}).get("ports") or []:
        if wanted in (port.get("name", ""), str(port.get("port"))):
            return str(port.get("name", ""))
    return ""
