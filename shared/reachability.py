"""What one control-plane replica's programs can reach while ``chaos.network.partition`` holds.

A partition is made at the bus level (ARCHITECTURE.md §4): every program that lives on a replica keeps a
:class:`Reachability`, which follows ``chaos.network.partition`` and ``chaos.reset``. It is used on both
sides of a request:

- a client (the API server's etcd client, a component's API client) stamps its requests with
  :data:`REPLICA_HEADER` and, while partitioned, addresses them to the replicas of its own group instead of
  a queue group that may hand them to a replica on the other side;
- a server (an etcd member, an API server) drops, unanswered, a request from a replica it cannot reach —
  what the network would have done — so the caller sees a timeout, as across a real partition.

Requests without the header (people's CLI, kubectl, workers not named in any group) reach everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared import subjects
from shared.logging import get_logger
from shared.partition import PartitionError, PartitionSpec, PartitionState, parse_partition

log = get_logger(__name__)

REPLICA_HEADER: Final = "Kubenats-Replica"
"""The replica a request comes from; servers that honour partitions drop requests from unreachable ones."""

Listener = Callable[[], None]


def caller_replica(headers: Mapping[str, str]) -> str | None:
    """The replica named by a request's headers (NATS keeps the sender's spelling of the name)."""
    wanted = REPLICA_HEADER.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


class Reachability:
    """The current partition as seen from ``replica``, kept up to date from the chaos subjects."""

    def __init__(self, nc: Client, replica: str) -> None:
        self.nc = nc
        self.replica = replica
        self.state = PartitionState()
        self._listeners: list[Listener] = []
        self._subscriptions: list[Subscription] = []

    async def start(self) -> None:
        self._subscriptions = [
            await self.nc.subscribe(subjects.chaos_network_partition(), cb=self._on_partition),
            await self.nc.subscribe(subjects.chaos_reset(), cb=self._on_reset),
        ]
        await self.nc.flush()

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions = []

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` whenever this replica's side changes (clients move their watches then)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def partitioned(self) -> bool:
        """Whether this replica is cut off from some others (a partition that does not name it is not)."""
        return self.state.group_of(self.replica) is not None

    def reaches(self, other: str) -> bool:
        return self.state.can_reach(self.replica, other)

    def admits(self, headers: Mapping[str, str]) -> bool:
        """Whether a request with these headers gets through to this replica."""
        caller = caller_replica(headers)
        return caller is None or self.reaches(caller)

    def headers(self) -> dict[str, str]:
        return {REPLICA_HEADER: self.replica}

    def targets(self) -> list[str]:
        """The replicas to address, this one first, while partitioned; empty when the queue group will do.

        Only the replicas of this one's group: a replica the partition names in no group is reachable,
        but nothing here knows it exists, so a partition meant for components names every replica (an
        experiment's ``rest`` does)."""
        group = self.state.group_of(self.replica)
        if group is None:
            return []
        return [self.replica, *(name for name in group if name != self.replica)]

    def partition(self, spec: PartitionSpec) -> None:
        """Take ``spec`` as the whole truth about the network (what ``chaos.network.partition`` says)."""
        side = self.state.group_of(self.replica)
        self.state.partition(spec)
        log.info("network partitioned", replica=self.replica, groups=self.state.groups())
        self._changed(side)

    def heal(self) -> None:
        """The network is whole again (``chaos.reset``)."""
        if not self.state.partitioned:
            return
        side = self.state.group_of(self.replica)
        self.state.reset()
        log.info("network partition healed", replica=self.replica)
        self._changed(side)

    async def _on_partition(self, msg: Msg) -> None:
        try:
            spec = parse_partition(msg.data)
        except PartitionError as error:
            log.warning("network partition ignored", replica=self.replica, error=str(error))
            return
        self.partition(spec)

    async def _on_reset(self, msg: Msg) -> None:
        self.heal()

    def _changed(self, side_before: list[str] | None) -> None:
        """Tell the listeners if this replica's side changed (a partition of others leaves it alone)."""
        if self.state.group_of(self.replica) == side_before:
            return
        for listener in list(self._listeners):
            listener()
