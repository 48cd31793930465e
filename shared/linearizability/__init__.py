"""Linearizability checking for key-value histories: record what clients did, then check it.

Fault tests record every client operation in a :class:`History` while processes are killed, paused and
partitioned, then :func:`check` it against a register per key::

    history = History()
    op_id = history.invoke("client-1", Write("k", "v1"))
    ...  # send the request
    history.ok(op_id)  # or history.fail(op_id), or history.info(op_id) on a timeout
    result = check(history, timeout=10.0)
    assert result.linearizable, result.explain()
"""

from shared.linearizability.checker import DEFAULT_TIMEOUT, check
from shared.linearizability.history import (
    Cas,
    ClientId,
    Delete,
    History,
    Op,
    Operation,
    Read,
    Status,
    Value,
    Write,
)
from shared.linearizability.model import INITIAL, UNOBSERVED, State
from shared.linearizability.partition import partition
from shared.linearizability.result import Blocked, CheckResult, Verdict, Violation

__all__ = [
    "DEFAULT_TIMEOUT",
    "INITIAL",
    "UNOBSERVED",
    "Blocked",
    "Cas",
    "CheckResult",
    "ClientId",
    "Delete",
    "History",
    "Op",
    "Operation",
    "Read",
    "State",
    "Status",
    "Value",
    "Verdict",
    "Violation",
    "Write",
    "check",
    "partition",
]
