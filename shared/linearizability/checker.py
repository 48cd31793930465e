"""The linearizability checker's entry point: splits a history by key, searches each, explains a failure.

By P-compositionality a key-value history is linearizable exactly when each key's sub-history is
(``partition``); each is searched for a linearization against a register (``search``), smallest first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from shared.linearizability.history import History, Operation
from shared.linearizability.model import mismatch
from shared.linearizability.partition import partition
from shared.linearizability.plan import NONE, Plan, plan
from shared.linearizability.result import Blocked, CheckResult, Verdict, Violation
from shared.linearizability.search import Budget, Search, search

DEFAULT_TIMEOUT = 60.0


def check(
    history: History | Iterable[Operation],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    max_steps: int | None = None,
) -> CheckResult:
    """Whether ``history`` is linearizable with respect to a register per key, initially absent.

    Keys are checked smallest first and the check stops at the first key found not linearizable. The
    budget covers the whole check: ``timeout`` seconds of wall-clock time and ``max_steps`` search steps
    (``None`` for no limit). When it runs out the verdict is ``UNKNOWN`` (unless a violation was already
    found), with the undecided keys listed.
    """
    started = time.monotonic()
    operations = history.operations() if isinstance(history, History) else list(history)
    partitions = partition(operations)
    budget = Budget(started, timeout, max_steps)
    order = sorted(partitions, key=lambda key: (len(partitions[key]), key))
    verdict, violation, unknown = Verdict.LINEARIZABLE, None, tuple[str, ...]()
    for n, key in enumerate(order):
        key_plan = plan(partitions[key])
        outcome = search(key_plan, budget)
        if outcome.linearizable is None:
            verdict, unknown = Verdict.UNKNOWN, tuple(order[n:])
            break
        if not outcome.linearizable:
            verdict, violation = Verdict.NOT_LINEARIZABLE, _violation(key, key_plan, outcome)
            break
    return CheckResult(
        verdict,
        violation,
        unknown,
        keys=len(partitions),
        operations=len(operations),
        steps=budget.steps,
        elapsed=time.monotonic() - started,
        origin=min((operation.call for operation in operations), default=0),
    )


def _violation(key: str, key_plan: Plan, outcome: Search) -> Violation:
    """The explanation: the operations real time allows next after the prefix, and why each is refused.

    The prefix is the longest the search found; a candidate that fitted after it without stranding a
    read would mostly have made a longer one. So each candidate does not fit the register, or placing it
    strands a read, or (where the search proved it useless without trying) it fits and leads nowhere.
    When even the empty prefix strands a read, that read is the culprit.
    """
    ops, state = key_plan.ops, outcome.state
    placed = set(outcome.prefix)
    prefix = tuple(ops[i] for i in outcome.prefix)
    unplaced = sum(1 for i, op in enumerate(ops) if i not in placed and op.ret is not None)
    stranded = key_plan.stranded(placed, state)
    if stranded is not None:
        reason = "nothing writes the value it returned, and the register does not hold it"
        return Violation(key, prefix, state, (Blocked(ops[stranded], reason),), unplaced)
    rest = [i for i in range(len(ops)) if i not in placed]
    first_return = min(ret for i in rest if (ret := ops[i].ret) is not None)
    blocked = []
    for i in rest:
        twin = key_plan.twin_before[i]
        if ops[i].call > first_return or (twin != NONE and twin not in placed):
            continue  # not a candidate; or a twin of one, which says the same
        refused = mismatch(state, ops[i])
        if refused is not None:
            blocked.append(Blocked(ops[i], refused))
            continue
        victim = key_plan.stranded(placed | {i}, key_plan.steps[i](state)[1])
        if victim is None:
            blocked.append(Blocked(ops[i], "it fits, yet no linearization continues after it"))
        else:
            reason = "it fits, but after it this operation could never be placed:"
            blocked.append(Blocked(ops[i], reason, ops[victim]))
    return Violation(key, prefix, state, tuple(blocked), unplaced)
