"""Subject builders produce ARCHITECTURE.md's subjects and refuse tokens that would address elsewhere."""

from __future__ import annotations

import pytest

from shared import subjects


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (subjects.etcd_kv("range"), "etcd.kv.range"),
        (subjects.etcd_kv("txn"), "etcd.kv.txn"),
        (subjects.etcd_lease("keepalive"), "etcd.lease.keepalive"),
        (subjects.etcd_watch("create"), "etcd.watch.create"),
        (subjects.etcd_cluster_status(), "etcd.cluster.status"),
        (subjects.etcd_member("cp-2", "put"), "etcd.member.cp-2.put"),
        (subjects.etcd_member_all("cp-2"), "etcd.member.cp-2.>"),
        (subjects.etcd_member_addressed("cp-2", "etcd.kv.put"), "etcd.member.cp-2.kv.put"),
        (subjects.etcd_member_addressed("cp-2", "etcd.cluster.status"), "etcd.member.cp-2.cluster.status"),
        (subjects.raft("kv", "cp-1"), "raft.kv.cp-1"),
        (subjects.api("", "v1", "pods", "create"), "api.core.v1.pods.create"),
        (subjects.api("apps", "v1", "deployments", "list"), "api.apps.v1.deployments.list"),
        (subjects.api("coordination.k8s.io", "v1", "leases", "update"), "api.coordination.v1.leases.update"),
        (subjects.api_replica("cp-1", "", "v1", "pods", "get"), "api.replica.cp-1.core.v1.pods.get"),
        (subjects.api_replica_all("cp-1"), "api.replica.cp-1.>"),
        (subjects.api_unaddressed("api.replica.cp-1.core.v1.pods.get"), "api.core.v1.pods.get"),
        (subjects.api_unaddressed("api.core.v1.pods.get"), "api.core.v1.pods.get"),
        (subjects.watch_event("", "v1", "pods", "default", "web-0"), "watch.core.v1.pods.default.web-0"),
        (subjects.watch_event("", "v1", "nodes", "", "worker-1"), "watch.core.v1.nodes._.worker-1"),
        (
            subjects.watch_event("", "v1", "events", "default", "web-0.1a2b"),
            "watch.core.v1.events.default.web-0_1a2b",
        ),
        (subjects.watch_events_of("", "v1", "pods"), "watch.core.v1.pods.>"),
        (subjects.node_cri("worker-1", "run_pod_sandbox"), "node.worker-1.cri.run_pod_sandbox"),
        (subjects.node_stats("worker-1"), "node.worker-1.stats"),
        (subjects.node_proxy_stats("worker-1"), "node.worker-1.proxy.stats"),
        (subjects.service("default", "redis"), "svc.default.redis"),
        (subjects.chaos("node", "worker-2", "crash"), "chaos.node.worker-2.crash"),
        (subjects.chaos("pod", "default", "web-0", "kill"), "chaos.pod.default.web-0.kill"),
        (subjects.chaos_network_partition(), "chaos.network.partition"),
        (subjects.chaos_reset(), "chaos.reset"),
    ],
)
def test_builder_produces_documented_subject(built: str, expected: str) -> None:
    assert built == expected


@pytest.mark.parametrize("bad", ["", "a.b", "a*", ">", "a b", "tab\there"])
def test_token_with_dot_wildcard_or_space_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be a NATS subject token"):
        subjects.service("default", bad)


def test_unknown_etcd_verb_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown etcd kv verb"):
        subjects.etcd_kv("get")


def test_unknown_chaos_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown chaos kind"):
        subjects.chaos("disk", "x", "fill")


def test_replica_addressed_api_subjects_stay_out_of_the_shared_queue_group() -> None:
    # The queue group's wildcard matches exactly five tokens: a request for one replica has seven.
    shared_tokens = len(subjects.api_requests().split("."))
    assert len(subjects.api("", "v1", "pods", "get").split(".")) == shared_tokens
    assert len(subjects.api_replica("cp-1", "", "v1", "pods", "get").split(".")) != shared_tokens


def test_only_etcd_client_subjects_can_be_addressed_to_a_member() -> None:
    with pytest.raises(ValueError, match="not an etcd client subject"):
        subjects.etcd_member_addressed("cp-1", "api.core.v1.pods.get")
