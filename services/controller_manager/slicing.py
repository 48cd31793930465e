"""What a Service's EndpointSlices should hold, and the fewest writes that get the current slices there.

Pure functions, after Kubernetes' EndpointSlice reconciler (``pkg/controller/endpointslice``):

* :func:`desired_endpoints` — one endpoint per pod the selector matches that has an IP and has not
  finished: ``ready`` (Ready and not terminating), ``serving`` (Ready), ``terminating`` (being deleted),
  ``nodeName`` and a ``targetRef`` to the pod. Each Service port resolves to a pod port (a number, or a
  named ``containerPort`` of that protocol); endpoints are grouped by the port list they resolve to,
  because one slice has one port list.
* :func:`plan` — endpoints stay in the slice they are in (so a change touches few slices), new ones fill
  slices with room before new slices are made, no slice holds more than ``max_per_slice``, emptied slices
  are deleted, and a Service without endpoints keeps one empty placeholder slice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.controller_manager.objects import (
    is_deleting,
    is_pod_ready,
    is_pod_terminal,
    labels_of,
    map_selector_matches,
    name_of,
    namespace_of,
    node_of,
    uid_of,
)

MAX_ENDPOINTS_PER_SLICE = 100
Object = dict[str, Any]
PortsKey = str


def resolve_port(service_port: Mapping[str, Any], pod: Mapping[str, Any]) -> int | None:
    """The pod port a Service port sends to: a number as is, a name looked up among the containers."""
    target = service_port.get("targetPort")
    protocol = service_port.get("protocol") or "TCP"
    if target is None or target == "":
        return int(service_port["port"])
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Object]:
    ports: list[Object] = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        resolved = resolve_port(service_port, pod)
        if resolved is None:
            continue  # a named port this pod does not have: the pod serves the Service's other ports
        port: Object = {
            "name": service_port.get("name") or "",
            "port": resolved,
            "protocol": service_port.get("protocol") or "TCP",
        }
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def ports_key(ports: Sequence[Mapping[str, Any]]) -> PortsKey:
    return json.dumps(sorted(ports, key=lambda p: (p.get("name") or "", p.get("port") or 0)), sort_keys=True)


def endpoint_for(pod: Mapping[str, Any], publish_not_ready: bool) -> Object:
    terminating = is_deleting(pod)
    ready = is_pod_ready(pod)
    endpoint: Object = {
        "addresses": [str((pod.get("status") or {}).get("podIP"))],
        "conditions": {
            "ready": publish_not_ready or (ready and not terminating),
            "serving": publish_not_ready or ready,
            "terminating": terminating,
        },
        "targetRef": {
            "kind": "Pod",
            "namespace": namespace_of(pod),
            "name": name_of(pod),
            "uid": uid_of(pod),
        },
    }
    if node_of(pod):
        endpoint["nodeName"] = node_of(pod)
    return endpoint


def desired_endpoints(
    service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> dict[PortsKey, tuple[list[Object], list[Object]]]:
    """``{ports key: (ports, endpoints)}`` for the pods the Service selects."""
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[PortsKey, tuple[list[Object], list[Object]]] = {}
    for pod in sorted(pods, key=name_of):
        if not map_selector_matches(selector, labels_of(pod)) or is_pod_terminal(pod):
            continue
        if not (pod.get("status") or {}).get("podIP"):
            continue
        ports = endpoint_ports(service, pod)
        key = ports_key(ports)
        groups.setdefault(key, (sorted(ports, key=lambda p: (p["name"], p["port"])), []))[1].append(
            endpoint_for(pod, publish)
        )
    return groups


def endpoint_id(endpoint: Mapping[str, Any]) -> str:
    ref = endpoint.get("targetRef") or {}
    return str(ref.get("uid") or ref.get("name") or ",".join(endpoint.get("addresses") or []))


@dataclass
class Plan:
    create: list[tuple[list[Object], list[Object]]] = field(default_factory=list)
    """(ports, endpoints) of each new slice."""
    update: list[tuple[Object, list[Object], list[Object]]] = field(default_factory=list)
    """(existing slice, ports, endpoints) of each slice whose content changes."""
    delete: list[Object] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def _by_id(endpoints: Sequence[Object]) -> list[Object]:
    return sorted(endpoints, key=lambda e: ((e.get("targetRef") or {}).get("name") or "", endpoint_id(e)))


def plan(
    existing: Sequence[Object],
    desired: Mapping[PortsKey, tuple[list[Object], list[Object]]],
    max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> Plan:
    result = Plan()
    slices = sorted(existing, key=name_of)
    if not any(endpoints for _, endpoints in desired.values()):
        return _placeholder(slices)
    for current in slices:
        if ports_key(current.get("ports") or []) not in desired:
            result.delete.append(current)
    for key, (ports, endpoints) in desired.items():
        remaining = {endpoint_id(e): e for e in endpoints}
        mine = [s for s in slices if ports_key(s.get("ports") or []) == key]
        contents: list[list[Object]] = []
        for current in mine:
            kept = [
                remaining.pop(i) for i in map(endpoint_id, current.get("endpoints") or []) if i in remaining
            ]
            contents.append(kept[:max_per_slice])
        leftovers = _by_id(list(remaining.values()))
        for kept in contents:
            room = max_per_slice - len(kept)
            kept.extend(leftovers[:room])
            leftovers = leftovers[room:]
        for current, kept in zip(mine, contents, strict=True):
            if not kept:
                result.delete.append(current)
            elif _by_id(kept) != _by_id(current.get("endpoints") or []) or current.get("ports") != ports:
                result.update.append((current, ports, _by_id(kept)))
        for start in range(0, len(leftovers), max_per_slice):
            result.create.append((ports, leftovers[start : start + max_per_slice]))
    return result


def _placeholder(slices: Sequence[Object]) -> Plan:
    """No endpoints: one empty slice stays (or is made), every other slice goes."""
    result = Plan()
    if not slices:
        result.create.append(([], []))
        return result
    first, *others = slices
    if first.get("endpoints") or first.get("ports"):
        result.update.append((first, [], []))
    result.delete.extend(others)
    return result
