"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's ``tools/leaderelection`` does it.

Every replica runs a :class:`LeaderElector` on the same Lease; at most one holds it at a time::

    lock = ApiLeaseLock(client, "kube-system", "kube-scheduler", identity="cp-1")
    elector = LeaderElector(lock, LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2))
    while not stop.is_set():
        await elector.run(lead, stop)  # lead() runs while this replica leads, and is cancelled when it stops

The rules, all client-go's:

* A candidate tries every ``retry_period`` (with jitter). It takes the Lease when nobody holds it
  (``holderIdentity`` empty, as after a clean release) or when the record it sees has not changed for
  ``leaseDurationSeconds``. That time is measured on the candidate's own monotonic clock from the moment it
  first saw the current record, never by comparing ``renewTime`` with its wall clock: replicas' clocks may
  disagree, but they all measure durations alike.
* Every write is a compare-and-swap on the Lease's ``resourceVersion``, so two candidates that both see an
  expired lease cannot both win.
* The leader renews every ``retry_period``. If no renewal has succeeded for ``renew_deadline`` it stops
  leading at once; since ``renew_deadline < lease_duration``, it has stopped before anybody else can see the
  lease expire.
* Taking the Lease from another holder increments ``leaseTransitions``; renewing keeps ``acquireTime``.
* On a clean stop the leader writes an empty ``holderIdentity`` so that a standby takes over at its next try
  instead of waiting for the lease to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from shared.apiclient import ApiClient, resource
from shared.clock import Clock, RealClock
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import Lease, to_dict

log = get_logger(__name__)

LEASES = resource("coordination.k8s.io", "v1", "leases")
JITTER_FACTOR = 1.2
"""client-go's: retries wait ``retry_period`` plus up to this much more of it, and ``renew_deadline``
must exceed ``JITTER_FACTOR × retry_period``."""

T = TypeVar("T")


@dataclass(frozen=True)
class LeaderElectionConfig:
    """Timings in seconds; Kubernetes' components default to 15 / 10 / 2. Checked when constructed."""

    lease_duration: float = 15.0
    """How long a standby waits, after it last saw the Lease change, before it takes it over."""
    renew_deadline: float = 10.0
    """How long the leader keeps trying to renew before it gives up leading."""
    retry_period: float = 2.0
    """How often the leader renews and a standby tries to acquire."""

    def __post_init__(self) -> None:
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            raise ValueError("lease duration, renew deadline and retry period must be greater than zero")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"lease duration ({self.lease_duration}s) must be greater than renew deadline "
                f"({self.renew_deadline}s)"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError(
                f"renew deadline ({self.renew_deadline}s) must be greater than {JITTER_FACTOR} × retry "
                f"period ({self.retry_period}s)"
            )


@dataclass(frozen=True)
class LeaseRecord:
    """The election's part of a Lease's ``spec``."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    lease_transitions: int = 0


class LeaseLock(Protocol):
    """Where the record lives. Writes must be compare-and-swap against the version last read."""

    async def get(self) -> tuple[LeaseRecord, str] | None:
        """The current record and an opaque version of it (the resourceVersion), or None if absent."""
        ...

    async def create(self, record: LeaseRecord) -> bool:
        """Create the Lease; False when it exists already (somebody else created it first)."""
        ...

    async def update(self, record: LeaseRecord, version: str) -> bool:
        """Replace the record if it is still at ``version``; False on a conflict."""
        ...

    def describe(self) -> str:
        """``namespace/name``, for logs."""
        ...


# --- the pure decisions --------------------------------------------------------------------------------


IDENTITY_SEPARATOR = "_"


def unique_identity(replica: str) -> str:
    """``cp-1_3f2a9c1e``: a process's identity, as client-go makes ``<hostname>_<uuid>``.

    Each process needs its own: a replica restarted by its supervisor must not take over the Lease its
    dead predecessor held as if it were still the same leader (the standbys would never get a turn, and
    the new process would start leading without the old one's lease having run out)."""
    return f"{replica}{IDENTITY_SEPARATOR}{uuid.uuid4().hex[:8]}"


def replica_of(identity: str) -> str:
    """The replica a holder identity names: ``cp-1`` for ``cp-1_3f2a9c1e`` (and for a bare ``cp-1``)."""
    return identity.split(IDENTITY_SEPARATOR, 1)[0]


def held_by_other(record: LeaseRecord, identity: str, observed_at: float, now: float) -> bool:
    """Whether another holder's lease is still valid: ``observed_at`` is when this candidate first saw
    ``record`` (its monotonic clock), ``now`` the same clock now."""
    if not record.holder_identity or record.holder_identity == identity:
        return False
    return observed_at + record.lease_duration_seconds > now


def next_record(current: LeaseRecord | None, identity: str, duration: float, now: datetime) -> LeaseRecord:
    """The record to write to acquire or renew: renewing keeps ``acquireTime`` and the transitions count,
    taking over from another holder (or from nobody, after a release) counts one more transition."""
    mine = LeaseRecord(
        holder_identity=identity,
        lease_duration_seconds=max(1, round(duration)),
        acquire_time=now,
        renew_time=now,
        lease_transitions=0,
    )
    if current is None:
        return mine
    if current.holder_identity == identity:
        return replace(
            mine, acquire_time=current.acquire_time or now, lease_transitions=current.lease_transitions
        )
    return replace(mine, lease_transitions=current.lease_transitions + 1)


def released(current: LeaseRecord, now: datetime) -> LeaseRecord:
    """What a leader writes on a clean stop: nobody holds the lease, so anyone may take it at once."""
    return replace(current, holder_identity="", lease_duration_seconds=1, renew_time=now)


# --- the elector -----------------------------------------------------------------------------------------


class LeaderElector:
    """Campaigns for, holds and releases one Lease. One :meth:`run` at a time per elector."""

    def __init__(
        self,
        lock: LeaseLock,
        identity: str,
        config: LeaderElectionConfig | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        self.lock = lock
        self.identity = identity
        self.config = config or LeaderElectionConfig()
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.on_new_leader = on_new_leader
        self.leader = ""
        """The holder this replica last saw ("" for none)."""
        self._observed: LeaseRecord | None = None
        self._observed_version = ""
        self._observed_at = 0.0
        self._leading = False

    @property
    def is_leader(self) -> bool:
        """True from a successful acquire until leadership is lost or released."""
        return self._leading

    async def run(
        self,
        lead: Callable[[], Coroutine[Any, Any, None]],
        stop: asyncio.Event,
        on_stopped_leading: Callable[[], Awaitable[None] | None] | None = None,
    ) -> bool:
        """Campaign until this replica leads, run ``lead()`` as a task while it does, and return when it no
        longer does. ``lead`` is cancelled the moment leadership ends, before ``on_stopped_leading`` runs.

        Returns True when it ended because ``stop`` was set (the lease is then released if held), False
        when leadership was lost (renewal failed for ``renew_deadline``) or ``lead`` returned by itself
        (the lease is then released too, so that another replica takes over at once)."""
        if not await self._acquire(stop):
            return True
        task = asyncio.create_task(lead(), name=f"lead-{self.lock.describe()}")
        renewing = asyncio.create_task(self._renew_until_lost(stop), name="renew")
        try:
            await asyncio.wait({task, renewing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._leading = False
            for pending in (task, renewing):
                pending.cancel()
            results = await asyncio.gather(task, renewing, return_exceptions=True)
        if isinstance(results[0], BaseException) and not isinstance(results[0], asyncio.CancelledError):
            log.error("leader work failed", lease=self.lock.describe(), error=repr(results[0]))
        lost = renewing.done() and not renewing.cancelled() and results[1] is False
        if not lost:
            await self._release()
        log.info("stopped leading", lease=self.lock.describe(), identity=self.identity, lost=lost)
        if on_stopped_leading is not None:
            result = on_stopped_leading()
            if asyncio.iscoroutine(result):
                await result
        return stop.is_set() and not lost

    # --- acquire and renew ---------------------------------------------------------------------------

    async def _acquire(self, stop: asyncio.Event) -> bool:
        log.info("attempting to acquire leader lease", lease=self.lock.describe(), identity=self.identity)
        while not stop.is_set():
            if await self._bounded(self.try_acquire_or_renew(), self.config.renew_deadline):
                self._leading = True
                log.info("acquired leader lease", lease=self.lock.describe(), identity=self.identity)
                return True
            pause = self.config.retry_period * (1 + (JITTER_FACTOR - 1) * self.rng.random())
            await self._wait_or_stop(stop, pause)
        return False

    async def _renew_until_lost(self, stop: asyncio.Event) -> bool:
        """Renew every retry period; True when ``stop`` is set, False when renewal failed too long."""
        last_renewed = self.clock.monotonic()
        while True:
            if await self._wait_or_stop(stop, self.config.retry_period):
                return True
            remaining = last_renewed + self.config.renew_deadline - self.clock.monotonic()
            if remaining > 0 and await self._bounded(self.try_acquire_or_renew(), remaining):
                last_renewed = self.clock.monotonic()
                continue
            if self.clock.monotonic() - last_renewed >= self.config.renew_deadline:
                log.warning("failed to renew lease", lease=self.lock.describe(), identity=self.identity)
                return False

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: read the Lease, and write ourselves into it if it is ours or free or expired."""
        now_wall, now = self.clock.now(), self.clock.monotonic()
        try:
            current = await self.lock.get()
            if current is None:
                record = next_record(None, self.identity, self.config.lease_duration, now_wall)
                if not await self.lock.create(record):
                    return False
                self._observe(record, "", now)
                return True
            record, version = current
            self._observe(record, version, now)
            if held_by_other(record, self.identity, self._observed_at, now):
                return False
            wanted = next_record(record, self.identity, self.config.lease_duration, now_wall)
            if not await self.lock.update(wanted, version):
                return False
        except Exception as error:  # a failed attempt is retried; only its duration matters
            log.warning("lease request failed", lease=self.lock.describe(), error=repr(error))
            return False
        # The version of our own write is unknown until the next read; the record is ours either way.
        self._observe(wanted, "", self.clock.monotonic())
        return True

    def _observe(self, record: LeaseRecord, version: str, now: float) -> None:
        if record != self._observed or (version and version != self._observed_version):
            self._observed, self._observed_at = record, now
            if version:
                self._observed_version = version
        if record.holder_identity != self.leader:
            self.leader = record.holder_identity
            if record.holder_identity:
                log.info("new leader observed", lease=self.lock.describe(), leader=record.holder_identity)
            if self.on_new_leader is not None:
                self.on_new_leader(record.holder_identity)

    async def _release(self) -> None:
        """Write an empty holder if the Lease is still ours; errors only delay the next leader."""
        try:
            current = await self.lock.get()
            if current is None or current[0].holder_identity != self.identity:
                return
            if await self.lock.update(released(current[0], self.clock.now()), current[1]):
                log.info("released leader lease", lease=self.lock.describe(), identity=self.identity)
        except Exception as error:
            log.warning("lease release failed", lease=self.lock.describe(), error=repr(error))

    # --- waiting on the injected clock ---------------------------------------------------------------

    async def _bounded(self, attempt: Coroutine[Any, Any, bool], seconds: float) -> bool:
        """The attempt's result, or False if it takes longer than ``seconds`` on the elector's clock."""
        task = asyncio.ensure_future(attempt)
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        return task.result()

    async def _wait_or_stop(self, stop: asyncio.Event, seconds: float) -> bool:
        """Sleep ``seconds`` on the clock; True at once if ``stop`` is set."""
        stopped = asyncio.ensure_future(stop.wait())
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({stopped, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            timer.cancel()
        return stop.is_set()


# --- the Lease through the API server --------------------------------------------------------------------


class ApiLeaseLock:
    """A :class:`LeaseLock` on ``coordination.k8s.io/v1`` Lease ``namespace/name`` through the API server.

    Updates carry the resourceVersion read by the previous :meth:`get`, so the API server refuses (409)
    a write based on a stale read. Fields of the Lease this lock does not manage are kept."""

    def __init__(self, client: ApiClient, namespace: str, name: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self._last: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def get(self) -> tuple[LeaseRecord, str] | None:
        try:
            obj = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as error:
            if error.code == 404:
                self._last = None
                return None
            raise
        self._last = obj
        return record_of(obj), str(obj.get("metadata", {}).get("resourceVersion", ""))

    async def create(self, record: LeaseRecord) -> bool:
        lease = Lease.model_validate({"metadata": {"name": self.name, "namespace": self.namespace}})
        body = {**to_dict(lease), "spec": spec_of(record)}
        try:
            self._last = await self.client.create(body, self.namespace)
        except ApiError as error:
            if error.code == 409:
                return False
            raise
        return True

    async def update(self, record: LeaseRecord, version: str) -> bool:
        base = dict(self._last or {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"})
        meta = {**base.get("metadata", {}), "name": self.name, "namespace": self.namespace}
        meta["resourceVersion"] = version
        body = {**base, "metadata": meta, "spec": {**base.get("spec", {}), **spec_of(record)}}
        try:
            self._last = await self.client.update(body)
        except ApiError as error:
            if error.code in (404, 409):
                return False
            raise
        return True


def record_of(obj: dict[str, Any]) -> LeaseRecord:
    spec = Lease.model_validate(obj).spec
    return LeaseRecord(
        holder_identity=spec.holder_identity or "",
        lease_duration_seconds=spec.lease_duration_seconds or 0,
        acquire_time=spec.acquire_time,
        renew_time=spec.renew_time,
        lease_transitions=spec.lease_transitions or 0,
    )


def spec_of(record: LeaseRecord) -> dict[str, Any]:
    lease = Lease.model_validate(
        {
            "spec": {
                "holderIdentity": record.holder_identity,
                "leaseDurationSeconds": record.lease_duration_seconds,
                "acquireTime": record.acquire_time,
                "renewTime": record.renew_time,
                "leaseTransitions": record.lease_transitions,
            }
        }
    )
    spec: dict[str, Any] = to_dict(lease)["spec"]
    return {key: value for key, value in spec.items() if value is not None}


__all__ = [
    "ApiLeaseLock",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeaseLock",
    "LeaseRecord",
    "held_by_other",
    "next_record",
    "released",
]
