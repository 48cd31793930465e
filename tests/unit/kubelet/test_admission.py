"""Node-side admission: requests of admitted pods plus the new one against allocatable."""

from __future__ import annotations

import pytest

from services.kubelet.admission import admit, used_resources
from shared.models import Quantity
from tests.builders import make_pod

ALLOCATABLE = {"cpu": Quantity("2"), "memory": Quantity("1Gi"), "pods": Quantity("3")}


def _pod(cpu: str = "0", memory: str = "0") -> object:
    return make_pod().requests(cpu=cpu, memory=memory).obj()


@pytest.mark.parametrize(
    ("admitted", "new", "reason", "message"),
    [
        ([], ("1", "512Mi"), "", ""),
        ([("1", "0"), ("1", "0")], ("0", "0"), "", ""),
        (
            [("1500m", "0")],
            ("600m", "0"),
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000",
        ),
        (
            [],
            ("0", "2Gi"),
            "OutOfmemory",
            "Node didn't have enough resource: memory, requested: 2147483648, used: 0, capacity: 1073741824",
        ),
        (
            [("0", "0")] * 3,
            ("0", "0"),
            "OutOfpods",
            "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3",
        ),
        # cpu is checked before memory, as Kubernetes does
        (
            [],
            ("3", "2Gi"),
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000",
        ),
    ],
)
def test_admission_compares_requests_with_allocatable(
    admitted: list[tuple[str, str]], new: tuple[str, str], reason: str, message: str
) -> None:
    result = admit(_pod(*new), [_pod(*a) for a in admitted], ALLOCATABLE)  # type: ignore[arg-type]
    assert result.admitted is (reason == "")
    assert (result.reason, result.message) == (reason, message)


def test_extended_resource_the_node_lacks_is_refused() -> None:
    pod = make_pod().requests({"example.com/gpu": 1}).obj()
    result = admit(pod, [], ALLOCATABLE)
    assert result.reason == "OutOfexample.com/gpu"


def test_used_resources_sums_cpu_in_millicores_and_memory_in_bytes() -> None:
    pods = [_pod("250m", "1Mi"), _pod("1", "1Mi")]
    assert used_resources(pods) == {"cpu": 1250, "memory": 2 * 1024 * 1024}  # type: ignore[arg-type]
