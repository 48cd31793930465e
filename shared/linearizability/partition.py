"""Splitting a history into one sub-history per key, keeping only the operations that constrain it.

By P-compositionality (Horn & Kroening) a key-value history is linearizable exactly when each key's
sub-history is, because registers for different keys share nothing. The search is exponential in the
worst case; splitting by key keeps its inputs small, and pruning what cannot matter keeps them smaller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from shared.linearizability.history import Cas, Delete, Operation, Read, Status, Write


def partition(operations: Iterable[Operation]) -> dict[str, list[Operation]]:
    """Each key's operations that constrain the search, in invocation order.

    Dropped: failed operations (they never happened), reads with an unknown outcome (they observed
    nothing), and unknown writes and deletes that nothing could have observed (``drop_unobservable``).
    """
    by_key: dict[str, list[Operation]] = {}
    for operation in sorted(operations, key=lambda op: (op.call, op.id)):
        if operation.status is Status.FAIL:
            continue
        if operation.status is Status.INFO and isinstance(operation.op, Read):
            continue
        by_key.setdefault(operation.key, []).append(operation)
    return {key: drop_unobservable(ops) for key, ops in by_key.items()}


def observed_values(ops: Iterable[Operation]) -> set[object]:
    """The values a key's operations saw or relied on: what its reads returned and its cas expected."""
    observed: set[object] = set()
    for op in ops:
        if isinstance(op.op, Read) and op.status is Status.OK:
            observed.add(op.result)
        elif isinstance(op.op, Cas):
            observed.add(op.op.expected)
    return observed


def drop_unobservable(ops: Sequence[Operation]) -> list[Operation]:
    """Drops the unknown writes and deletes that nothing could have observed.

    One can be dropped when no read returned the value it sets, no cas expected that value, and no cas
    that failed returned after it was invoked. Then in any linearization that includes it, the operations
    between it and the next write, delete or successful cas would have seen its value: no completed read
    or cas can have, and unknown cas operations met it as a no-op and can be left out too. Removing it
    leaves a linearization. Timed-out writes in fault tests are mostly of this kind, and each one left in
    can double the sets the search explores.

    Example: ``write 5`` times out and no read ever returns 5. Whether it took effect or not, no
    completed operation can tell, so the check goes the same without it.
    """
    observed = observed_values(ops)
    last_failed_cas = max(
        (op.ret for op in ops if isinstance(op.op, Cas) and op.result is False and op.ret is not None),
        default=-math.inf,
    )

    def unobservable(op: Operation) -> bool:
        if op.status is not Status.INFO or not isinstance(op.op, Write | Delete):
            return False
        sets = op.op.value if isinstance(op.op, Write) else None
        return sets not in observed and op.call > last_failed_cas

    return [op for op in ops if not unobservable(op)]
