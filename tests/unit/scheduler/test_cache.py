"""The scheduler cache: assumed pods count at once, a failed bind un-assumes, the informer confirms."""

from __future__ import annotations

import pytest

from services.scheduler.cache import SchedulerCache
from services.scheduler.config import SchedulerConfiguration
from services.scheduler.framework import ClusterEvent
from services.scheduler.plugins.registry import Handle
from services.scheduler.runtime import FitError, Framework
from tests.builders import make_pod

from .helpers import node, pod_info


def test_assumed_pod_counts_against_the_node_until_forgotten() -> None:
    cache = SchedulerCache()
    cache.set_node(node("n", cpu=2).obj())
    pod = pod_info(make_pod().name("p").requests(cpu="2"))
    cache.assume(pod, "n")
    info = cache.node("n")
    assert info is not None and info.requested.milli_cpu == 2000
    assert cache.is_assumed("default/p")
    assert cache.forget("default/p")
    assert info.requested.milli_cpu == 0


def test_back_to_back_decisions_see_binds_in_flight() -> None:
    cache = SchedulerCache()
    cache.set_node(node("n", cpu=2).obj())
    fw = Framework.from_config(SchedulerConfiguration(), Handle())
    first = pod_info(make_pod().name("a").requests(cpu="2"))
    cache.assume(first, fw.schedule(first, cache.snapshot()).node)
    with pytest.raises(FitError, match="1 Insufficient cpu"):
        fw.schedule(pod_info(make_pod().name("b").requests(cpu="1")), cache.snapshot())


def test_informer_confirms_an_assumed_pod_without_counting_it_twice() -> None:
    cache = SchedulerCache()
    cache.set_node(node("n", cpu=4).obj())
    cache.assume(pod_info(make_pod().name("p").requests(cpu="1")), "n")
    cache.add_pod(pod_info(make_pod().name("p").requests(cpu="1").node("n")))
    info = cache.node("n")
    assert info is not None and info.requested.milli_cpu == 1000 and len(info.pods) == 1
    assert not cache.is_assumed("default/p")
    assert not cache.forget("default/p")


def test_pod_bound_elsewhere_than_assumed_moves_to_its_real_node() -> None:
    cache = SchedulerCache()
    for name in ("a", "b"):
        cache.set_node(node(name).obj())
    cache.assume(pod_info(make_pod().name("p").requests(cpu="1")), "a")
    cache.add_pod(pod_info(make_pod().name("p").requests(cpu="1").node("b")))
    assert [len(cache.pods_on(n)) for n in ("a", "b")] == [0, 1]


def test_pods_on_a_node_not_seen_yet_count_once_it_appears() -> None:
    cache = SchedulerCache()
    cache.add_pod(pod_info(make_pod().name("early").requests(cpu="1").node("late")))
    assert cache.snapshot() == []
    events = cache.set_node(node("late", cpu=2).obj())
    assert events == {ClusterEvent.NODE_ADD}
    info = cache.node("late")
    assert info is not None and info.requested.milli_cpu == 1000


def test_node_update_reports_which_aspects_changed() -> None:
    cache = SchedulerCache()
    cache.set_node(node("n").obj())
    assert cache.set_node(node("n").obj()) == frozenset()
    assert cache.set_node(node("n").taint("x").obj()) == {ClusterEvent.NODE_TAINT}
    assert cache.set_node(node("n", cpu=8).taint("x").unschedulable().obj()) == {
        ClusterEvent.NODE_ALLOCATABLE,
        ClusterEvent.NODE_SCHEDULABLE,
    }
