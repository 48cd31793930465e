"""Every NATS subject kubenats uses, built by one function per subject family (ARCHITECTURE.md §2–4).

No other module writes a subject string literal: a subject that changes, changes here. Each function
checks its tokens, because a name with a dot or a wildcard in it would silently address something else
(``pods.default.a.b`` is not the pod ``a.b``).
"""

from __future__ import annotations

import re
from typing import Final

ETCD_QUEUE: Final = "etcd"
"""Queue group every etcd member serves the client subjects in, so any one member answers."""
APISERVER_QUEUE: Final = "apiserver"
"""Queue group every API server replica serves in."""
PROXY_QUEUE: Final = "proxy"
"""Queue group of every node's kube-proxy for requests coming from outside the cluster."""

CLUSTER_SCOPE: Final = "_"
"""The namespace token of a cluster-scoped object in ``watch.…`` subjects (no namespace may be ``_``)."""

ETCD_KV_VERBS: Final = frozenset({"range", "put", "delete", "txn", "compact"})
ETCD_LEASE_VERBS: Final = frozenset({"grant", "revoke", "keepalive", "ttl"})
ETCD_WATCH_VERBS: Final = frozenset({"create", "cancel"})
CHAOS_KINDS: Final = frozenset({"node", "pod", "network", "process"})

_BAD_TOKEN = re.compile(r"[.*>\s]")


def token(value: str) -> str:
    """Return ``value`` if it can stand as one subject token; raise ValueError otherwise."""
    if not value or _BAD_TOKEN.search(value):
        raise ValueError(f"{value!r} cannot be a NATS subject token (empty, or has '.', '*', '>' or space)")
    return value


def _join(*tokens: str) -> str:
    return ".".join(token(t) for t in tokens)


def _verb(verb: str, allowed: frozenset[str], family: str) -> str:
    if verb not in allowed:
        raise ValueError(f"unknown {family} verb {verb!r}; expected one of {sorted(allowed)}")
    return verb


# --- etcd (§2) -------------------------------------------------------------------------------------


def etcd_kv(verb: str) -> str:
    """``etcd.kv.<verb>``: range, put, delete, txn, compact."""
    return _join("etcd", "kv", _verb(verb, ETCD_KV_VERBS, "etcd kv"))


def etcd_lease(verb: str) -> str:
    """``etcd.lease.<verb>``: grant, revoke, keepalive, ttl."""
    return _join("etcd", "lease", _verb(verb, ETCD_LEASE_VERBS, "etcd lease"))


def etcd_watch(verb: str) -> str:
    """``etcd.watch.<verb>``: create, cancel."""
    return _join("etcd", "watch", _verb(verb, ETCD_WATCH_VERBS, "etcd watch"))


def etcd_cluster_status() -> str:
    return "etcd.cluster.status"


def etcd_member(member_id: str, *rest: str) -> str:
    """``etcd.member.<id>.…``: requests addressed to one member (forwarded writes, its own status)."""
    return _join("etcd", "member", member_id, *rest)


def etcd_member_addressed(member_id: str, client_subject: str) -> str:
    """A client subject addressed to one member: ``etcd.kv.put`` → ``etcd.member.<id>.kv.put``."""
    family, *verb = client_subject.split(".")
    if family != "etcd" or not verb:
        raise ValueError(f"{client_subject!r} is not an etcd client subject")
    return etcd_member(member_id, *verb)


def etcd_member_all(member_id: str) -> str:
    """The wildcard a member subscribes to for requests addressed to itself."""
    return f"{etcd_member(member_id)}.>"


def raft(cluster: str, member_id: str) -> str:
    """``raft.<cluster>.<member-id>``: the Raft messages for one member."""
    return _join("raft", cluster, member_id)


def raft_demo(cluster: str, verb: str, member_id: str | None = None) -> str:
    """``raftdemo.<cluster>[.<member>].<verb>``: the Raft demo member's requests (tests, benchmarks)."""
    return _join("raftdemo", cluster, *([member_id] if member_id else []), verb)


# --- API server (§3) -------------------------------------------------------------------------------


def api(group: str, version: str, resource: str, verb: str) -> str:
    """``api.<group>.<version>.<resource>.<verb>``; the legacy group is ``core``.

    Groups with dots (``coordination.k8s.io``) keep only their first label as the token, because a
    dot would split the subject: ``api.coordination.v1.leases.get``.
    """
    return _join("api", api_group_token(group), version, resource, verb)


def api_all() -> str:
    """Every API subject: the shared ones and those addressed to one replica (for permissions)."""
    return "api.>"


def api_requests() -> str:
    """The subjects every API server replica serves in the queue group: exactly five tokens."""
    return "api.*.*.*.*"


def api_replica(replica: str, group: str, version: str, resource: str, verb: str) -> str:
    """``api.replica.<replica>.<group>.<version>.<resource>.<verb>``: a request for one replica alone.

    Components address the replicas they can reach this way while the network is partitioned
    (``shared.reachability``); the extra tokens keep these out of :func:`api_requests`' queue group.
    """
    return _join("api", "replica", token(replica), api_group_token(group), version, resource, verb)


def api_replica_all(replica: str) -> str:
    """The wildcard a replica subscribes to for requests addressed to itself."""
    return f"{_join('api', 'replica', token(replica))}.>"


def api_unaddressed(subject: str) -> str:
    """The shared subject of a replica-addressed one (``api.replica.cp-1.core.v1.pods.get`` →
    ``api.core.v1.pods.get``); any other subject unchanged."""
    parts = subject.split(".")
    if len(parts) > 3 and parts[0] == "api" and parts[1] == "replica":
        return _join("api", *parts[3:])
    return subject


def api_group_token(group: str) -> str:
    """The subject token for an API group: ``""`` → ``core``, ``discovery.k8s.io`` → ``discovery``."""
    if group in ("", "core"):
        return "core"
    return group.split(".", 1)[0]


def name_token(name: str) -> str:
    """An object's name as one subject token: its dots become ``_``, which no Kubernetes name contains.

    Most kinds allow DNS subdomain names (``ip-10-0-0-1.ec2.internal``, an event's ``web-0.17a2…``), and a
    dot would split the subject: ``watch.core.v1.nodes._.ip-10-0-0-1_ec2_internal``.
    """
    return token(name.replace(".", "_"))


def watch_event(group: str, version: str, resource: str, namespace: str, name: str) -> str:
    """``watch.<group>.<version>.<resource>.<namespace>.<name>``: every change, for observers.

    The name is written by :func:`name_token` (dots as ``_``)."""
    return _join(
        "watch", api_group_token(group), version, resource, namespace or CLUSTER_SCOPE, name_token(name)
    )


def watch_events_of(group: str, version: str, resource: str) -> str:
    """The wildcard matching every change of one resource, e.g. ``watch.core.v1.pods.>``."""
    return f"{_join('watch', api_group_token(group), version, resource)}.>"


# --- nodes, services, chaos (§4) -------------------------------------------------------------------


def node(node_name: str, *rest: str) -> str:
    """``node.<node>.…``: a node's own subjects."""
    return _join("node", node_name, *rest)


def node_cri(node_name: str, call: str) -> str:
    """``node.<node>.cri.<call>``: the container runtime's CRI-shaped calls."""
    return node(node_name, "cri", call)


def node_stats(node_name: str) -> str:
    return node(node_name, "stats")


def node_stats_all() -> str:
    """Every node's stats endpoint (the API server asks them all for metrics.k8s.io)."""
    return "node.*.stats"


def node_pod_logs_all() -> str:
    """Every node's logs endpoint (the API server forwards pods/log to the pod's node)."""
    return "node.*.logs"


def node_proxy_stats(node_name: str) -> str:
    return node(node_name, "proxy", "stats")


def node_service(node_name: str, namespace: str, name: str) -> str:
    """``node.<node>.svc.<namespace>.<service>``: a Service request made on a node, to that node's proxy."""
    return node(node_name, "svc", namespace, name)


def pod_endpoint(ip: str, port: int) -> str:
    """``pod.<ip>.<port>``: a serving pod's address, the IP's dots and colons written as ``-``.

    Pod IPs are unique in the cluster, as on a real pod network, so the subject needs no node.
    """
    return _join("pod", ip.replace(".", "-").replace(":", "-"), str(port))


def pod_endpoints_all() -> str:
    return "pod.>"


def service(namespace: str, name: str) -> str:
    """``svc.<namespace>.<service>``: a request to a Service, served by kube-proxy."""
    return _join("svc", namespace, name)


SERVICE_PORT_HEADER: Final = "Service-Port"
"""The header naming a Service request's port (name or number; without it kube-proxy takes the first)."""


def service_all() -> str:
    """Every Service request from outside the cluster, as every node's proxy subscribes (queue ``proxy``)."""
    return "svc.>"


def node_services(node_name: str) -> str:
    """Every Service request made on one node, as that node's proxy subscribes."""
    return f"{node(node_name, 'svc')}.>"


def chaos(kind: str, *target_and_action: str) -> str:
    """``chaos.<kind>.<name…>.<action>``: ``chaos.node.worker-2.crash``, ``chaos.pod.default.web-0.kill``."""
    if kind not in CHAOS_KINDS:
        raise ValueError(f"unknown chaos kind {kind!r}; expected one of {sorted(CHAOS_KINDS)}")
    return _join("chaos", kind, *target_and_action)


def chaos_network_partition() -> str:
    return "chaos.network.partition"


def chaos_reset() -> str:
    return "chaos.reset"


def chaos_all() -> str:
    return "chaos.>"


# --- wildcards for permissions and observers --------------------------------------------------------


def etcd_all() -> str:
    """Every store subject (client requests, member-addressed requests)."""
    return "etcd.>"


def raft_all() -> str:
    """Every Raft message of every cluster and member."""
    return "raft.>"


def raft_member_all(member_id: str) -> str:
    """The Raft messages for one member, in any Raft cluster: ``raft.*.<member>``."""
    return f"raft.*.{token(member_id)}"


def watch_all() -> str:
    """Every change the API servers publish for observers."""
    return "watch.>"


def nodes_all() -> str:
    """Every node's subjects."""
    return "node.>"


def micro_all() -> str:
    """``nats.micro`` discovery (``$SRV.PING|INFO|STATS…``): services answer it, ``nats micro ls`` asks it."""
    return "$SRV.>"


DEFAULT_INBOX_PREFIX: Final = "_INBOX"
"""nats-py's and the nats CLI's default inboxes: one namespace any subscriber could read."""
PRIVATE_INBOX_PREFIX: Final = "_INBOX_OF"
"""First token of the inboxes of a connection with a user: ``_INBOX_OF.<user>.<id>``, so NATS permissions
can let each identity read its own replies only."""


def default_inboxes() -> str:
    return f"{DEFAULT_INBOX_PREFIX}.>"


def private_inboxes() -> str:
    """Every identity's private inboxes (a responder that streams to its clients publishes there)."""
    return f"{PRIVATE_INBOX_PREFIX}.>"


def private_inbox_prefix(user: str) -> str:
    """The inbox prefix of ``user``'s connections: ``_INBOX_OF.<user>``."""
    return _join(PRIVATE_INBOX_PREFIX, user)


def micro_ping(service_name: str) -> str:
    """``$SRV.PING.<service>``: every instance of a ``nats.micro`` service answers with its identity."""
    return f"$SRV.PING.{token(service_name)}"


def node_pod_logs(node_name: str) -> str:
    """``node.<node>.logs``: the logs of the containers of the node's pods, answered by its kubelet."""
    return node(node_name, "logs")


def chaos_network_latency() -> str:
    return "chaos.network.latency"
