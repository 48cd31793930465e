"""The search for a linearization of one key's operations: Wing & Gong's, with Lowe's memoisation.

A history is linearizable when every operation can be given a single instant between its invocation and
its return such that, taken in that order, the operations are a legal run of the sequential model.

The search (Wing & Gong; Lowe's just-in-time linearization and cache, as Porcupine does it) walks a
doubly linked list of call and return entries sorted by time. Invariants:

- The list holds exactly the operations not yet linearized. Scanning from its head, the calls met before
  the first return entry are the candidates to be linearized next: each was invoked before any remaining
  operation returned, so real time orders nothing remaining before it.
- Reaching a return entry means the operation it ends has not been linearized, yet it must come before
  anything later in the list: the current prefix is a dead end, and the search backtracks, undoing the
  latest choice and trying the next candidate after it.
- A prefix is fully described by the set of operations in it (a bitset) and the state they leave; the
  order that produced them no longer matters. So each (bitset, state) pair is explored once: the cache
  turns a search over orders into a search over sets.

Worked example, one key, initially absent (times in the brackets):

    a: write 1       [0, 10]
    b: read -> 1     [5, 30]
    c: read -> None  [20, 40]

The list is ``call a, call b, return a, call c, return b, return c``. ``a`` fits: linearize it (state 1),
and unlink its call and return; the list is ``call b, call c, return b, return c``. ``b`` reads 1: fits.
The list is ``call c, return c``; ``c`` reads None but the state is 1, so the scan moves on, meets
``return c`` and backs out ``b``, then ``a``. With ``a`` unplaced, ``b`` does not fit (state None), and
the scan meets ``return a`` with nothing left to undo: not linearizable. ``c`` began after ``a`` ended,
so it had to see 1.

The reductions of ``plan`` cut this short. Pins: ``c`` needs None and nothing writes None, so placing
``a`` strands ``c`` and is undone at once, without going deeper. Observers: had ``b`` been placed and
then undone, ``a`` would be undone with it, without trying ``a``'s other candidates (below).

Operations with an unknown outcome have a call entry and no return entry: nothing ever has to come
after them, so they are linearized where they help or not at all. The search succeeds once every
operation with a known outcome is linearized; the unknown ones left over never took effect.

Entries at the same instant sort calls before returns: an operation invoked at the very instant another
returned counts as concurrent with it, the benefit of the doubt a clock's resolution calls for.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import TypeAlias

from shared.linearizability.model import INITIAL, State
from shared.linearizability.plan import NONE, Plan

_CLOCK_EVERY = 1024  # search steps between two looks at the clock: reading it costs as much as a step

_Frame: TypeAlias = "tuple[int, State, _Frame | None, bool]"
"""The stack of choices, as a persistent linked list: (operation, state before it, the frame below,
whether the operation is an observer). Keeping the deepest frame seen costs one reference, and it is the
longest linearizable prefix."""


class Budget:
    """What the search may spend across all keys: a wall-clock deadline and a number of steps."""

    def __init__(self, started: float, timeout: float | None, max_steps: int | None) -> None:
        self.deadline = math.inf if timeout is None else started + timeout
        self.steps_left = sys.maxsize if max_steps is None else max_steps
        self.steps = 0

    def spend(self, steps: int) -> None:
        self.steps += steps
        self.steps_left -= steps


@dataclass(frozen=True, slots=True)
class Search:
    linearizable: bool | None
    """None when the budget ran out first."""
    prefix: list[int]
    """The longest linearizable prefix found that strands no operation, as indices, in order."""
    state: State
    """The register after the prefix."""


def search(plan: Plan, budget: Budget) -> Search:
    """Looks for a linearization of the plan's operations, as the module docstring describes."""
    n = len(plan.ops)
    steps_of, completed, observer = plan.steps, plan.completed, plan.observer
    twin_before, sets, needs = plan.twin_before, plan.sets, plan.needs

    # Node i < n is operation i's call, node n + i its return; then a head and a tail sentinel.
    head, tail = 2 * n, 2 * n + 1
    events = [(op.call, 0, i) for i, op in enumerate(plan.ops)]
    events += [(op.ret, 1, n + i) for i, op in enumerate(plan.ops) if op.ret is not None]
    events.sort()  # calls before returns at the same instant
    nxt = [tail] * (2 * n + 2)
    prv = [head] * (2 * n + 2)
    last = head
    for _, _, node in events:
        nxt[last], prv[node], last = node, last, node
    nxt[last], prv[tail] = tail, last

    # Pins: writers[v] and readers[v] count the unplaced operations that may write value v and that
    # need to find it; v is an orphan while it has readers and no writers. A prefix strands a reader
    # when an orphan is not the current state: no extension of it can place that reader.
    writers = [0] * len(plan.value_ids)
    readers = [0] * len(plan.value_ids)
    for v in sets:
        if v != NONE:
            writers[v] += 1
    for v in needs:
        if v != NONE:
            readers[v] += 1
    orphans = sum(1 for v, count in enumerate(readers) if count and not writers[v])
    value_ids = plan.value_ids

    state: State = INITIAL
    linearized = 0  # bit i set: operation i is linearized
    placed = [False] * n
    cache: set[tuple[int, State]] = set()
    top: _Frame | None = None
    depth = best_depth = 0
    best: _Frame | None = None
    remaining = sum(completed)
    steps, limit = 0, budget.steps_left
    next_stop = min(limit, _CLOCK_EVERY)

    if orphans > _is_orphan(state, value_ids, readers, writers):
        return Search(False, [], state)  # a read returned a value nothing writes
    entry = _first_candidate(nxt[head], state, n, nxt, plan)
    while remaining:
        steps += 1
        if steps >= next_stop:
            if steps >= limit or time.monotonic() > budget.deadline:
                budget.spend(steps)
                return Search(None, _prefix(best), INITIAL if best is None else _state_after(best, plan))
            next_stop = min(limit, steps + _CLOCK_EVERY)
        if entry < n:
            twin = twin_before[entry]
            if twin != NONE and not placed[twin]:  # only the earliest unplaced twin is tried
                entry = nxt[entry]
                continue
            legal, after = steps_of[entry](state)
            if not legal:
                entry = nxt[entry]
                continue
            bits = linearized | (1 << entry)
            if (bits, after) not in cache:
                cache.add((bits, after))
                top = (entry, state, top, observer[entry])
                state, linearized = after, bits
                placed[entry] = True
                depth += 1
                # Unlink the call, then the return: undone in reverse order, the links come back.
                p, q = prv[entry], nxt[entry]
                nxt[p], prv[q] = q, p
                if completed[entry]:
                    r = n + entry
                    p, q = prv[r], nxt[r]
                    nxt[p], prv[q] = q, p
                    remaining -= 1
                if (v := sets[entry]) != NONE:
                    writers[v] -= 1
                    if not writers[v] and readers[v]:
                        orphans += 1
                if (v := needs[entry]) != NONE:
                    readers[v] -= 1
                    if not readers[v] and not writers[v]:
                        orphans -= 1
                if not orphans or orphans == _is_orphan(state, value_ids, readers, writers):
                    if depth > best_depth:
                        best, best_depth = top, depth
                    entry = _first_candidate(nxt[head], state, n, nxt, plan)
                    continue
                # The new prefix strands a read: back out of it at once.
            elif not observer[entry]:
                entry = nxt[entry]
                continue
            # else an observer fits, but the prefix it extends was explored and failed: so this one fails.
        # Backtrack: undo the latest choice, and the one before while the undone choice was an observer.
        while True:
            if top is None:
                budget.spend(steps)
                return Search(False, _prefix(best), INITIAL if best is None else _state_after(best, plan))
            entry, state, top, forced = top
            linearized ^= 1 << entry
            placed[entry] = False
            depth -= 1
            if completed[entry]:
                r = n + entry
                nxt[prv[r]] = prv[nxt[r]] = r
                remaining += 1
            nxt[prv[entry]] = prv[nxt[entry]] = entry
            if (v := needs[entry]) != NONE:
                if not readers[v] and not writers[v]:
                    orphans += 1
                readers[v] += 1
            if (v := sets[entry]) != NONE:
                if not writers[v] and readers[v]:
                    orphans -= 1
                writers[v] += 1
            if not forced:
                break
        entry = nxt[entry]
    budget.spend(steps)
    return Search(True, [], state)


def _is_orphan(state: State, value_ids: dict[object, int], readers: list[int], writers: list[int]) -> int:
    """1 if the current value is an orphan, 0 if not: an orphan strands nothing while it is the value."""
    v = value_ids.get(state, NONE)
    return 1 if v != NONE and readers[v] and not writers[v] else 0


def _first_candidate(entry: int, state: State, n: int, nxt: list[int], plan: Plan) -> int:
    """Where the scan of a new prefix starts: at an observer that fits, if there is one, else at ``entry``.

    Observers first: a completed read or failed cas leaves the state as it is. If one fits right after a
    prefix and any linearization extends that prefix, then one places it right there: moving it earlier
    changes no state, and real time allows it, as it is among the candidates. So it is tried alone, and
    when the search backs out of it, it backs out of the prefix too.
    """
    candidate = entry
    while candidate < n:
        if plan.observer[candidate] and plan.steps[candidate](state)[0]:
            return candidate
        candidate = nxt[candidate]
    return entry


def _prefix(frame: _Frame | None) -> list[int]:
    prefix = []
    while frame is not None:
        prefix.append(frame[0])
        frame = frame[2]
    prefix.reverse()
    return prefix


def _state_after(frame: _Frame, plan: Plan) -> State:
    entry, before, _, _ = frame
    return plan.steps[entry](before)[1]
