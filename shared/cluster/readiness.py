"""Readiness checks: when is a freshly started cluster up, judged from outside as a client would judge it.

A program is ready when supervisord reports it ``RUNNING`` and, for components that have one, its probe
passes: a nats-server is ready when a real nats-py client connects to it and round-trips a PING; an
etcd member when it answers its status subject naming a Raft leader; an API server when it answers micro
discovery. The cluster is ready when every program is, a message published on any server reaches a
subscriber on every other (the routes work), every host's Node is Ready, and one scheduler and one
controller manager hold their leader Leases.

The probes log in as the cluster's ``admin`` NATS identity: they read the store's members directly, which no
other identity may (``shared.cluster.natsperms``). ``Login`` puts those credentials into server URLs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout

from shared import bus, subjects
from shared.apiclient import ApiClient, resource
from shared.cluster.render import Program
from shared.cluster.supervisor import FATAL, RUNNING, Supervisor
from shared.errors import ApiError
from shared.topology import NATS, Topology

ETCD = "etcd"
APISERVER = "apiserver"
KUBELET = "kubelet"
LEADER_LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}
"""The Lease in kube-system each leader-elected component holds while it leads."""
NODES = resource("", "v1", "nodes")
LEASES = resource("coordination.k8s.io", "v1", "leases")

Progress = Callable[[str], None]
Login = Callable[[Sequence[str]], list[str]]
"""Server URLs → the same URLs carrying the prober's credentials."""
Probe = Callable[[Topology, Program, Login], Awaitable[None]]


def anonymous(urls: Sequence[str]) -> list[str]:
    """The ``Login`` of a cluster without credentials."""
    return list(urls)


class NotReady(Exception):
    """A program or the cluster did not become ready; ``program`` names the culprit when there is one."""

    def __init__(self, message: str, program: str | None = None) -> None:
        super().__init__(message)
        self.program = program


async def _ignore(_: Exception) -> None:
    """nats-py reports connection errors through this callback too; a probe reports them itself."""


async def connect_once(url: str, timeout: float = 2.0) -> Client:
    """One connection to exactly ``url``, without reconnects, failing fast; credentials as ``bus.connect``."""
    servers, auth = bus.credentials([url])
    client: Client = await nats.connect(
        servers=servers,
        **auth,
        name="kubenats-cluster-probe",
        allow_reconnect=False,
        max_reconnect_attempts=0,
        connect_timeout=max(1, int(timeout)),
        error_cb=_ignore,
    )
    return client


async def probe_nats(topology: Topology, program: Program, login: Login) -> None:
    (url,) = login([topology.nats_url(topology.replica(program.placement.host))])
    client = await connect_once(url)
    try:
        await client.flush(timeout=2)
    finally:
        await client.close()


async def probe_etcd(topology: Topology, program: Program, login: Login) -> None:
    """An etcd member is ready when it answers its own status subject and knows a Raft leader."""
    (url,) = login([topology.nats_url(topology.replica(program.placement.host))])
    client = await connect_once(url)
    try:
        reply = await bus.request(
            client, subjects.etcd_member(program.placement.host, "status"), {}, timeout=1
        )
    finally:
        await client.close()
    if not reply.get("leader"):
        raise NotReady(f"etcd member {program.placement.host} has no leader yet (term {reply.get('term')})")


async def probe_apiserver(topology: Topology, program: Program, login: Login) -> None:
    """An API server replica is ready when it answers micro discovery naming itself."""
    (url,) = login([topology.nats_url(topology.replica(program.placement.host))])
    client = await connect_once(url)
    try:
        inbox = client.new_inbox()
        replies = await client.subscribe(inbox)
        await client.publish(subjects.micro_ping(APISERVER), b"", reply=inbox)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                message = await replies.next_msg(timeout=max(0.01, deadline - time.monotonic()))
            except NatsTimeout:
                break
            if not message.data:
                continue  # a "no responders" status: no replica serves yet
            if json.loads(message.data).get("metadata", {}).get("replica") == program.placement.host:
                return
    finally:
        await client.close()
    raise NotReady(f"API server {program.placement.host} does not answer yet")


# Probes by component; a component without one is ready when supervisord says RUNNING. Later components
# (kubelet: its Node is Ready; …) register theirs here.
PROBES: dict[str, Probe] = {NATS: probe_nats, ETCD: probe_etcd, APISERVER: probe_apiserver}


async def wait_programs(
    topology: Topology,
    programs: Sequence[Program],
    supervisor: Supervisor,
    deadline: float,
    progress: Progress,
    login: Login = anonymous,
) -> None:
    """Wait until every program is RUNNING and passes its probe; ``NotReady`` when one cannot."""
    started = time.monotonic()
    pending = {p.name: p for p in programs}
    last_error: dict[str, str] = {}
    while pending:
        states = {info.name: info for info in supervisor.processes()}
        for name, program in list(pending.items()):
            info = states.get(name)
            if info is None:
                raise NotReady(f"{name} is not in the supervisord config", name)
            if info.state == FATAL:
                raise NotReady(f"{name} exited too quickly and will not be restarted ({FATAL})", name)
            if info.state != RUNNING:
                last_error[name] = f"supervisord state {info.state}"
                continue
            probe = PROBES.get(program.placement.component)
            if probe is not None:
                try:
                    await probe(topology, program, login)
                except Exception as error:
                    last_error[name] = f"{type(error).__name__}: {error}"
                    continue
            del pending[name]
            progress(f"{name} ready ({time.monotonic() - started:.1f} s)")
        if not pending:
            return
        if time.monotonic() >= deadline:
            # Blame a program supervisord could not keep running before one that runs but is slow to
            # answer: the slow one is usually waiting on the broken one.
            not_running = sorted(n for n in pending if states.get(n) is None or states[n].state != RUNNING)
            name = (not_running or sorted(pending))[0]
            raise NotReady(f"{name} did not become ready in time: {last_error.get(name, 'no answer')}", name)
        await asyncio.sleep(0.1)


async def wait_routes(
    urls: Sequence[str], deadline: float, progress: Progress, login: Login = anonymous
) -> None:
    """Wait until a message published on each server reaches a subscriber on every other server."""
    if len(urls) < 2:
        return
    clients: list[Client] = []
    try:
        for url in urls:
            try:
                clients.append(await connect_once(login([url])[0]))
            except Exception as error:
                raise NotReady(f"cannot connect to {url}: {type(error).__name__}: {error}") from None
        for receiver_index, receiver in enumerate(clients):
            subject = receiver.new_inbox()
            subscription = await receiver.subscribe(subject)
            await receiver.flush()
            missing = {i for i in range(len(clients)) if i != receiver_index}
            while missing:
                # Interest crosses a route asynchronously, so publish again until it has arrived.
                for sender_index in missing:
                    await clients[sender_index].publish(subject, str(sender_index).encode())
                    await clients[sender_index].flush()
                try:
                    while True:
                        message = await subscription.next_msg(timeout=0.1)
                        missing.discard(int(message.data))
                except NatsTimeout:
                    pass
                if missing and time.monotonic() >= deadline:
                    senders = ", ".join(urls[i] for i in sorted(missing))
                    receiver_url = urls[receiver_index]
                    raise NotReady(f"messages from {senders} do not reach {receiver_url}: routes down")
            await subscription.unsubscribe()
        pairs = len(urls) * (len(urls) - 1)
        progress(f"nats cluster routes ok ({pairs} server pairs deliver)")
    finally:
        for client in clients:
            await client.close()


def _enabled(topology: Topology, component: str) -> bool:
    found = topology.components.get(component)
    return found is not None and found.enabled


def _ready_nodes(nodes: list[dict[str, Any]]) -> set[str]:
    return {
        n["metadata"]["name"]
        for n in nodes
        for c in n.get("status", {}).get("conditions") or []
        if c.get("type") == "Ready" and c.get("status") == "True"
    }


async def _held(client: ApiClient, lease: str) -> str:
    """The holder of a leader-election Lease in kube-system, or '' when none holds it."""
    try:
        found = await client.get(LEASES, lease, "kube-system")
    except ApiError as error:
        if error.code == 404:
            return ""
        raise
    return str(found.get("spec", {}).get("holderIdentity") or "")


async def wait_control_loops(
    topology: Topology, token: str, deadline: float, progress: Progress, login: Login = anonymous
) -> None:
    """Wait until every host's Node is Ready and one scheduler and one controller manager lead."""
    client = await ApiClient.connect(login(topology.nats_urls()), token, name="kubenats-cluster-probe")
    try:
        expected = set(topology.hosts("node")) if _enabled(topology, KUBELET) else set()
        leases = [lease for component, lease in LEADER_LEASES.items() if _enabled(topology, component)]
        shown: set[str] = set()
        while True:
            ready = _ready_nodes((await client.list(NODES))["items"]) & expected
            holders = {lease: await _held(client, lease) for lease in leases}
            for line in _news(ready, expected, holders, shown):
                progress(line)
            if ready == expected and all(holders.values()):
                return
            if time.monotonic() >= deadline:
                missing = sorted(expected - ready)
                leaderless = sorted(lease for lease, holder in holders.items() if not holder)
                culprit = f"{missing[0]}-kubelet" if missing else None
                raise NotReady(f"not Ready: nodes {missing}; no leader: {leaderless}", culprit)
            await asyncio.sleep(0.3)
    finally:
        await client.close()


def _news(ready: set[str], expected: set[str], holders: dict[str, str], shown: set[str]) -> list[str]:
    lines = []
    if ready and f"nodes:{len(ready)}" not in shown:
        shown.add(f"nodes:{len(ready)}")
        lines.append(f"{len(ready)}/{len(expected)} nodes Ready")
    for lease, holder in holders.items():
        if holder and lease not in shown:
            shown.add(lease)
            lines.append(f"{lease} leader: {holder}")
    return lines


async def wait_ready(
    topology: Topology,
    programs: Sequence[Program],
    supervisor: Supervisor,
    timeout: float,
    progress: Progress,
    token: str | None = None,
    login: Login = anonymous,
) -> None:
    """Every program ready, the routes working, then (given a token) Nodes Ready and leaders elected."""
    deadline = time.monotonic() + timeout
    await wait_programs(topology, programs, supervisor, deadline, progress, login)
    await wait_routes(topology.nats_urls(), deadline, progress, login)
    if token is not None and _enabled(topology, APISERVER):
        await wait_control_loops(topology, token, deadline, progress, login)
