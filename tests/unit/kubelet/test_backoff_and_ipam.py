"""CrashLoopBackOff timing and pod IP allocation."""

from __future__ import annotations

import pytest

from services.kubelet.backoff import BackOff, BackOffPolicy
from services.kubelet.ipam import PodCIDRExhaustedError, PodIPAllocator


@pytest.mark.parametrize(
    ("streak", "delay"), [(0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (5, 160.0), (6, 300.0), (20, 300.0)]
)
def test_back_off_doubles_from_ten_seconds_to_five_minutes(streak: int, delay: float) -> None:
    assert BackOffPolicy().delay(streak) == delay


def test_scale_shrinks_every_delay() -> None:
    assert BackOffPolicy(scale=0.1).delay(2) == pytest.approx(2.0)


def test_restarts_follow_the_worked_example() -> None:
    backoff = BackOff(BackOffPolicy())
    restarts = []
    for started, finished in [(-1, 0), (0.5, 1), (11.5, 12), (32.5, 33)]:
        backoff.exited(started, finished)
        restarts.append(backoff.restart_at())
    assert restarts == [0, 11, 32, 73]
    assert backoff.waiting(72.9) and not backoff.waiting(73)
    assert backoff.message("web", "web-0", "default", "u1") == (
        "back-off 40s restarting failed container=web pod=web-0_default(u1)"
    )


def test_a_long_run_starts_a_fresh_streak() -> None:
    backoff = BackOff(BackOffPolicy())
    backoff.exited(0, 1)
    backoff.exited(1, 2)
    assert backoff.delay == 10
    backoff.exited(12, 12 + 600)
    assert backoff.delay == 0


def test_the_same_exit_seen_twice_counts_once() -> None:
    backoff = BackOff(BackOffPolicy())
    backoff.exited(0, 1)
    backoff.exited(1, 2)
    backoff.exited(1, 2)
    assert backoff.delay == 10


def test_five_minutes_shows_in_minutes() -> None:
    backoff = BackOff(BackOffPolicy(), streak=7)
    backoff.exited(0, 1)
    assert backoff.message("c", "p", "n", "u").startswith("back-off 5m0s ")


def test_pod_ips_are_unique_stable_per_uid_and_skip_the_gateway() -> None:
    ipam = PodIPAllocator("10.244.1.0/24")
    first, second = ipam.allocate("a"), ipam.allocate("b")
    assert (first, second) == ("10.244.1.2", "10.244.1.3")
    assert ipam.allocate("a") == first
    assert ipam.gateway == "10.244.1.1"


def test_released_ips_are_reused_only_after_the_others() -> None:
    ipam = PodIPAllocator("10.244.1.0/29")  # hosts .1-.6, pods get .2-.6
    ips = [ipam.allocate(str(n)) for n in range(5)]
    with pytest.raises(PodCIDRExhaustedError):
        ipam.allocate("full")
    ipam.release("0")
    assert ipam.allocate("new") == ips[0]
    assert len(ipam) == 5


def test_claim_takes_back_an_address_after_a_restart() -> None:
    ipam = PodIPAllocator("10.244.1.0/24")
    assert ipam.claim("a", "10.244.1.7")
    assert not ipam.claim("b", "10.244.1.7")
    assert not ipam.claim("c", "192.168.0.1")
    assert ipam.allocate("a") == "10.244.1.7"
