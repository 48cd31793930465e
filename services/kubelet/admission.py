"""Pod admission on the node: does a pod fit beside the pods already admitted, as the real kubelet decides.

Kubernetes' kubelet runs the scheduler's resource fit again before it starts a pod
(``pkg/kubelet/lifecycle/predicate.go``), because the scheduler may have raced or been bypassed (a pod
bound by hand, ``spec.nodeName`` set at creation). The pod count is checked first, then every requested
resource; the first that does not fit rejects the pod with reason ``OutOf<resource>`` and the message
``Node didn't have enough resource: cpu, requested: 3000, used: 1100, capacity: 3900`` (cpu in
millicores, everything else in units), which the kubelet reports as ``Pod was rejected: <message>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.models import (
    RESOURCE_CPU,
    RESOURCE_EPHEMERAL_STORAGE,
    RESOURCE_MEMORY,
    RESOURCE_PODS,
    Pod,
    Quantity,
    ResourceList,
    pod_requests,
)

REJECTED_PREFIX = "Pod was rejected: "


@dataclass(frozen=True, slots=True)
class AdmitResult:
    admitted: bool
    reason: str = ""
    message: str = ""


ADMITTED = AdmitResult(True)


def _amount(name: str, quantity: Quantity | None) -> int:
    if quantity is None:
        return 0
    return quantity.milli_value() if name == RESOURCE_CPU else quantity.value()


def _insufficient(name: str, requested: int, used: int, capacity: int) -> AdmitResult:
    message = (
        f"Node didn't have enough resource: {name}, requested: {requested}, used: {used}, "
        f"capacity: {capacity}"
    )
    return AdmitResult(False, f"OutOf{name}", message)


def _check_order(name: str) -> tuple[int, str]:
    # Kubernetes' fit checks cpu, memory and ephemeral storage before extended resources.
    first = (RESOURCE_CPU, RESOURCE_MEMORY, RESOURCE_EPHEMERAL_STORAGE)
    return (first.index(name), "") if name in first else (len(first), name)


def used_resources(pods: Iterable[Pod]) -> dict[str, int]:
    """Sum of the requests of ``pods`` in admission units (cpu millicores, the rest whole units)."""
    used: dict[str, int] = {}
    for pod in pods:
        for name, quantity in pod_requests(pod).items():
            used[name] = used.get(name, 0) + _amount(name, quantity)
    return used


def admit(pod: Pod, admitted: Iterable[Pod], allocatable: Mapping[str, Quantity]) -> AdmitResult:
    """Whether ``pod`` fits on a node with ``allocatable`` that already runs ``admitted`` (non-terminal
    pods, not including ``pod``). Only resources the node declares are checked, except that a pod asking
    for an extended resource the node lacks is rejected too."""
    others = list(admitted)
    pods_capacity = _amount(RESOURCE_PODS, allocatable.get(RESOURCE_PODS))
    if RESOURCE_PODS in allocatable and len(others) + 1 > pods_capacity:
        return _insufficient(RESOURCE_PODS, 1, len(others), pods_capacity)
    used = used_resources(others)
    wanted: ResourceList = pod_requests(pod)
    for name in sorted(wanted, key=_check_order):
        requested = _amount(name, wanted[name])
        if requested == 0:
            continue
        capacity = _amount(name, allocatable.get(name))
        if requested + used.get(name, 0) > capacity:
            return _insufficient(name, requested, used.get(name, 0), capacity)
    return ADMITTED
