"""NATS permissions per component role, and the ``authorization`` blocks of the rendered nats-server configs.

ARCHITECTURE.md §1: only the API server reads or writes the store; every other component talks to the API
server only. The servers enforce it: each program logs in as itself (``shared.cluster.natsauth``) and may
publish and subscribe only where its role needs to, so a kubelet's subscription to ``etcd.>`` or a proxy's
publish on ``raft.>`` is refused with a permissions violation, whatever its code tries.

What every role shares:

- requests go out on the subjects a role may publish on; their replies come back to the requester's own
  inboxes, ``_INBOX_OF.<identity>.>`` (``subjects.private_inbox_prefix``), the only inboxes it may read;
- a role that serves requests (a ``nats.micro`` service, a pod endpoint) has ``allow_responses``: it may
  answer each request it received once, on that request's reply subject, and publish on no other inbox;
- only the two roles that stream to subjects their clients name (watch ``deliver`` inboxes) may publish on
  inboxes at all: etcd members and API servers;
- ``etcd.>`` and ``raft.>`` are denied outright to every identity but ``admin``, the store's members and
  (``etcd.>`` requests only) the API servers, so no later, broader allow can open them by accident.

Subject patterns here are wildcards over the families ``shared.subjects`` builds (ARCHITECTURE.md §2–4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared import subjects
from shared.cluster.natsauth import ADMIN, ROUTE_USER, USER, NatsCredentials
from shared.topology import NATS, Placement, Topology

EVERYTHING = ">"
STORE = subjects.etcd_all()
RAFT = subjects.raft_all()
API = subjects.api_all()
WATCH = subjects.watch_all()
SERVICES = subjects.service_all()
PODS = subjects.pod_endpoints_all()
CHAOS = subjects.chaos_all()
NODES = subjects.nodes_all()
MICRO = subjects.micro_all()
DEFAULT_INBOXES = subjects.default_inboxes()
"""nats-py's and the nats CLI's default inboxes: only people's connections use them."""
PRIVATE_INBOXES = subjects.private_inboxes()
STORE_AND_RAFT = (STORE, RAFT)


def raft_of(member: str) -> str:
    """The Raft messages addressed to ``member`` in any Raft group: ``raft.*.<member>``."""
    return subjects.raft_member_all(member)


def node_all(node: str) -> str:
    """Every subject of one node: ``node.<node>.>``."""
    return f"{subjects.node(node)}.>"


def node_cri(node: str) -> str:
    """The container runtime's calls on ``node``: ``node.<node>.cri.>``."""
    return f"{subjects.node(node)}.cri.>"


ANY_NODE_CRI = "node.*.cri.>"


@dataclass(frozen=True)
class Permissions:
    """What one identity may publish and subscribe to; a deny wins over an allow."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    responses: bool = False
    """``allow_responses``: answer each request received, once, on its reply subject."""

    def to_config(self) -> dict[str, Any]:
        publish: dict[str, list[str]] = {"allow": list(self.publish)}
        subscribe: dict[str, list[str]] = {"allow": list(self.subscribe)}
        if self.publish_deny:
            publish["deny"] = list(self.publish_deny)
        if self.subscribe_deny:
            subscribe["deny"] = list(self.subscribe_deny)
        config: dict[str, Any] = {"publish": publish, "subscribe": subscribe}
        if self.responses:
            config["allow_responses"] = True
        return config


@dataclass(frozen=True)
class Role:
    """A role's grants for one host, before its own inbox and the store denial are added."""

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    responses: bool = False
    store: bool = False
    """Whether the role may touch ``etcd.>``/``raft.>`` at all (its allows say how)."""
    subscribe_deny: tuple[str, ...] = ()


def component_role(component: str, host: str) -> Role:
    """The grants of ``component`` on ``host``; a component this table does not know is an API client."""
    own_node = node_all(host)
    roles = {
        # The store: client requests in queue group etcd, requests to itself, its Raft messages, watch
        # streams to its clients' inboxes; it forwards to and asks its peers; its Raft honours network
        # partitions (chaos).
        "etcd": Role(
            publish=(STORE, RAFT, PRIVATE_INBOXES, DEFAULT_INBOXES),
            subscribe=(STORE, raft_of(host), MICRO, CHAOS),
            responses=True,
            store=True,
        ),
        # The store's only client: serves api.>, streams watch events to clients' inboxes, publishes
        # every change for observers on watch.>, asks kubelets for pods' logs and nodes' stats; honours
        # network partitions (chaos).
        "apiserver": Role(
            publish=(
                STORE,
                WATCH,
                PRIVATE_INBOXES,
                DEFAULT_INBOXES,
                subjects.node_stats_all(),
                subjects.node_pod_logs_all(),
            ),
            subscribe=(API, MICRO, CHAOS),
            responses=True,
            store=True,
        ),
        "scheduler": Role(publish=(API,), subscribe=(CHAOS,)),
        "controller-manager": Role(publish=(API,), subscribe=(CHAOS,)),
        # Its node's agent: stats and logs endpoints on its node's subjects, drives its node's runtime,
        # acts on chaos. The runtime's and the proxy's subjects on that node are theirs, not its.
        "kubelet": Role(
            publish=(API, node_cri(host)),
            subscribe=(own_node, CHAOS, MICRO),
            responses=True,
            subscribe_deny=(node_cri(host), subjects.node_services(host), f"{subjects.node(host)}.proxy.>"),
        ),
        # CRI calls from its kubelet; its pods serve on pod.<ip>.<port> and call Services through the
        # node's proxy.
        "runtime": Role(
            publish=(subjects.node_services(host),),
            subscribe=(node_cri(host), PODS, CHAOS, MICRO),
            responses=True,
        ),
        # Service requests from outside (queue group proxy) and from its node, forwarded to pod endpoints;
        # Services and EndpointSlices from the API server.
        "proxy": Role(
            publish=(API, PODS),
            subscribe=(SERVICES, subjects.node_services(host), subjects.node_proxy_stats(host), CHAOS, MICRO),
            responses=True,
        ),
    }
    return roles.get(component, Role(publish=(API,)))


def program_permissions(placement: Placement) -> Permissions:
    role = component_role(placement.component, placement.host)
    inbox = f"{subjects.private_inbox_prefix(placement.program)}.>"
    deny = () if role.store else STORE_AND_RAFT
    return Permissions(
        publish=role.publish,
        subscribe=(inbox, *role.subscribe),
        publish_deny=deny,
        subscribe_deny=(*deny, *role.subscribe_deny),
        responses=role.responses,
    )


def people_permissions(identity: str) -> Permissions:
    """``admin`` may do anything; ``user`` what the CLI and the README's everyday ``nats`` lines need."""
    if identity == ADMIN:
        return Permissions(publish=(EVERYTHING,), subscribe=(EVERYTHING,))
    if identity != USER:
        raise ValueError(f"{identity!r} is not one of the people's identities ({ADMIN}, {USER})")
    return Permissions(
        # Requests to the API, to Services (also as made on a node), to node stats and logs; chaos.
        publish=(API, SERVICES, NODES, CHAOS, MICRO),
        # The nats CLI's default inboxes too: no component's replies travel there.
        subscribe=(f"{subjects.private_inbox_prefix(USER)}.>", DEFAULT_INBOXES, WATCH, CHAOS),
        # Only the kubelet drives a runtime.
        publish_deny=(*STORE_AND_RAFT, ANY_NODE_CRI),
        subscribe_deny=STORE_AND_RAFT,
    )


def _entry(identity: str, password: str, permissions: Permissions) -> dict[str, Any]:
    return {"user": identity, "password": password, "permissions": permissions.to_config()}


def authorization_block(topology: Topology, credentials: NatsCredentials) -> str:
    """The ``authorization`` block of a server's config: every identity and its permissions.

    The users list is JSON (which the NATS config format accepts), one entry per identity. No user is the
    default one, so a client without credentials is refused.
    """
    users = [_entry(p, credentials.password(p), people_permissions(p)) for p in (ADMIN, USER)]
    users += [
        _entry(p.program, credentials.password(p.program), program_permissions(p))
        for p in topology.placements()
        if p.component != NATS
    ]
    lines = ",\n".join(f"    {json.dumps(user)}" for user in users)
    return (
        "# Who may connect, and what each identity may publish and subscribe to\n"
        "# (shared/cluster/natsperms.py): every program logs in as itself, people as `user` or `admin`;\n"
        "# a client without credentials is refused. Passwords: auth/nats.json in the state dir.\n"
        f"authorization {{\n  timeout: 2\n  users: [\n{lines}\n  ]\n}}\n"
    )


def route_authorization(credentials: NatsCredentials) -> str:
    """The ``cluster.authorization`` block: a route must log in too, or anyone could route around it all."""
    user, password = json.dumps(ROUTE_USER), json.dumps(credentials.route_password)
    return f"authorization {{\n    user: {user}\n    password: {password}\n    timeout: 2\n  }}"
