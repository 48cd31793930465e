"""Expectations: what a controller has asked the API server for and not yet seen in its informer cache.

After a ReplicaSet controller creates 3 pods, its cache shows them only when their watch events arrive. A
reconcile in between would count too few pods and create 3 more. So, as Kubernetes'
``ControllerExpectations`` (``pkg/controller/controller_utils.go``), the controller records "3 creations
expected" before it writes, the pod informer's handlers lower the count as the pods appear, and the
controller does not manage replicas for that key until the count is down to zero — or until the record
is older than :data:`EXPECTATIONS_TIMEOUT`, in case an event was lost for good.

Deletions are tracked by pod key (``UIDTrackingControllerExpectations``): a pod marked for deletion and
later removed is observed once, not twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 5 * 60.0
"""Kubernetes' ``ExpectationsTimeout``: after this a record no longer blocks the controller."""


@dataclass
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    """Per controller key: expected creations (a count) and expected deletions (a set of pod keys)."""

    def __init__(self, monotonic: Callable[[], float], timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self._monotonic = monotonic
        self._timeout = timeout
        self._records: dict[str, _Record] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is outstanding for ``key``, nothing was ever recorded, or the record expired."""
        record = self._records.get(key)
        if record is None:
            return True
        if record.adds <= 0 and not record.deletes:
            return True
        return self._monotonic() - record.stamp > self._timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._records[key] = _Record(adds=count, stamp=self._monotonic())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        self._records[key] = _Record(adds=0, deletes=set(pod_keys), stamp=self._monotonic())

    def creation_observed(self, key: str) -> None:
        """A pod the controller created has appeared (or a creation failed and will not appear)."""
        record = self._records.get(key)
        if record is not None:
            record.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """``pod_key`` was seen marked for deletion or gone; counts once however often it is seen."""
        record = self._records.get(key)
        if record is not None:
            record.deletes.discard(pod_key)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected for ``key``."""
        record = self._records.get(key)
        return (0, 0) if record is None else (max(record.adds, 0), len(record.deletes))

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
