"""The lessor: leases with a TTL, the keys attached to each, and (on the leader only) when each runs out.

A lease has two kinds of state. Its id, granted TTL and attached keys are replicated: every member
changes them only by applying commands (grant, revoke, expire, and puts/deletes that attach or detach
keys), so they are the same everywhere and go into snapshots. Its *deadline* is local to the leader
(the *primary* lessor): only the leader's clock decides that a lease expired, and it then proposes a
``lease_expire`` command, so that applying stays deterministic. Followers keep no deadlines; a member
that becomes leader gives every lease a fresh TTL (:meth:`Lessor.promote`) because it cannot know how
much of it the old leader had used up, as etcd does. Keepalives are leader-local too: they only move a
deadline, so they are not replicated (a new leader's fresh TTL covers keepalives the old one saw).

Time is always an argument (``now``, seconds from any monotonic clock); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.etcd.mvcc.errors import (
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseTTLTooLargeError,
    NotPrimaryError,
)

NO_LEASE = 0
MIN_LEASE_TTL = 2
"""etcd's default minimum: 1.5 election timeouts of its default 1 s, rounded up. Shorter grants get this."""
MAX_LEASE_TTL = 9_000_000_000
EXPIRED_RETRY_INTERVAL = 3.0
"""After naming a lease as expired, wait this long before naming it again (its revocation may be lost)."""


@dataclass(slots=True)
class Lease:
    id: int
    ttl: int
    """The granted TTL in seconds (after raising it to the minimum)."""
    keys: set[str] = field(default_factory=set)
    expiry: float | None = None
    """Leader-local deadline; None on followers, and on a leader until it first looks at the lease."""
    retry_at: float | None = None
    """Leader-local: when :meth:`Lessor.expired` may name this lease again."""


@dataclass(frozen=True, slots=True)
class TimeToLive:
    id: int
    ttl: int
    """Remaining whole seconds; -1 when the lease does not exist (etcd's answer, not an error)."""
    granted_ttl: int
    keys: list[str] | None = None


class Lessor:
    """Leases by id. Replicated changes: grant, revoke, attach, detach. Leader-local: the rest."""

    def __init__(self, min_ttl: int = MIN_LEASE_TTL, retry_interval: float = EXPIRED_RETRY_INTERVAL) -> None:
        self.min_ttl = min_ttl
        self.retry_interval = retry_interval
        self.primary = False
        self._leases: dict[int, Lease] = {}

    def __len__(self) -> int:
        return len(self._leases)

    def lookup(self, lease_id: int) -> Lease | None:
        return self._leases.get(lease_id)

    def leases(self) -> list[Lease]:
        return [self._leases[i] for i in sorted(self._leases)]

    # --- replicated: called only while applying a command ----------------------------------------------

    def allocate_id(self, seed: int) -> int:
        """A free id derived from ``seed`` (the command's Raft index): the same on every member."""
        lease_id = max(seed, 1)
        while lease_id in self._leases:
            lease_id += 1
        return lease_id

    def grant(self, lease_id: int, ttl: int, now: float | None = None) -> Lease:
        """Create a lease; ``now`` starts its deadline if this member is the leader."""
        if lease_id == NO_LEASE:
            raise LeaseNotFoundError()
        if ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLargeError()
        if lease_id in self._leases:
            raise LeaseExistsError()
        lease = Lease(lease_id, max(ttl, self.min_ttl))
        if self.primary and now is not None:
            lease.expiry = now + lease.ttl
        self._leases[lease_id] = lease
        return lease

    def revoke(self, lease_id: int) -> list[str]:
        """Remove a lease; returns its keys, sorted, for the store to delete in one revision."""
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise LeaseNotFoundError()
        # Sorted, so every member deletes them in the same order (sub revisions follow it).
        return sorted(lease.keys)

    def attach(self, lease_id: int, key: str) -> None:
        lease = self._leases.get(lease_id)
        if lease is None:
            raise LeaseNotFoundError()
        lease.keys.add(key)

    def detach(self, lease_id: int, key: str) -> None:
        """Forget that ``key`` belongs to the lease; a lease already gone is not an error (revoke raced)."""
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.keys.discard(key)

    def state(self) -> list[list[int]]:
        """The replicated part minus the keys (which the store's key-values carry): ``[[id, ttl], …]``."""
        return [[lease.id, lease.ttl] for lease in self.leases()]

    def restore(self, state: list[list[int]]) -> None:
        """Replace every lease (keys are re-attached by the caller); deadlines restart lazily on a leader."""
        self._leases = {lease_id: Lease(lease_id, ttl) for lease_id, ttl in state}

    # --- leader-local ---------------------------------------------------------------------------------

    def promote(self, now: float, extend: float = 0.0) -> None:
        """Become the primary lessor: every lease gets a fresh TTL from ``now`` (plus ``extend``)."""
        self.primary = True
        for lease in self._leases.values():
            lease.expiry = now + lease.ttl + extend
            lease.retry_at = None

    def demote(self) -> None:
        """Stop deciding expiry: deadlines are forgotten until the next :meth:`promote`."""
        self.primary = False
        for lease in self._leases.values():
            lease.expiry = None
            lease.retry_at = None

    def _deadline(self, lease: Lease, now: float) -> float:
        # A lease restored from a snapshot (or granted without a clock) starts its TTL when first seen.
        if lease.expiry is None:
            lease.expiry = now + lease.ttl
        return lease.expiry

    def keepalive(self, lease_id: int, now: float) -> int:
        """Renew a lease for its full TTL; returns the TTL. Leader only."""
        if not self.primary:
            raise NotPrimaryError()
        lease = self._leases.get(lease_id)
        # An expired lease is as good as revoked: its revocation is decided, maybe already proposed.
        if lease is None or self._deadline(lease, now) <= now:
            raise LeaseNotFoundError()
        lease.expiry = now + lease.ttl
        lease.retry_at = None
        return lease.ttl

    def time_to_live(self, lease_id: int, now: float, keys: bool = False) -> TimeToLive:
        """Remaining and granted TTL (and the attached keys); the remaining TTL is the leader's to tell."""
        lease = self._leases.get(lease_id)
        if lease is None:
            return TimeToLive(lease_id, -1, 0, [] if keys else None)
        remaining = lease.ttl
        if self.primary:
            remaining = max(0, int(self._deadline(lease, now) - now))
        return TimeToLive(lease_id, remaining, lease.ttl, sorted(lease.keys) if keys else None)

    def expired(self, now: float, limit: int | None = None) -> list[int]:
        """Ids of leases whose deadline passed, earliest first, for the leader to propose ``lease_expire``.

        A lease named here is not named again for ``retry_interval`` seconds, so a tick loop does not
        propose it over and over while the first proposal commits; if that proposal is lost, it comes back.
        ``limit`` caps how many are named at once (etcd rate-limits revocations the same way).
        """
        if not self.primary:
            return []
        due = [
            (deadline, lease.id)
            for lease in self._leases.values()
            if (deadline := self._deadline(lease, now)) <= now
            and (lease.retry_at is None or lease.retry_at <= now)
        ]
        due.sort()
        if limit is not None:
            due = due[:limit]
        for _, lease_id in due:
            self._leases[lease_id].retry_at = now + self.retry_interval
        return [lease_id for _, lease_id in due]
