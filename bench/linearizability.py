"""Benchmark of the linearizability checker on histories shaped like a fault test's.

Clients run one operation at a time against a simulated linearizable store: each operation takes effect
at a random instant inside its interval, so every history is linearizable, and the checker has to find
that out. A fraction of operations time out (unknown outcome, taking effect or not), and some
workloads pause a few operations for a hundred times their usual latency. The checker's
figures are the median of several runs; generating the histories is not timed.

    .venv/bin/python bench/linearizability.py [--runs 5] [--ops 10000]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass

from shared.linearizability import Cas, CheckResult, Delete, History, Op, Read, Write, check

US = 1_000  # the history's clock counts nanoseconds


@dataclass(frozen=True)
class Workload:
    name: str
    ops: int
    keys: int
    clients: int
    values: int | None = None
    """Size of the value domain; None: every write writes a fresh value, as Jepsen tests do."""
    timeouts: float = 0.01
    paused: float = 0.0
    """Fraction of operations that take a hundred times longer, as when a member is paused mid-request."""


def simulate(workload: Workload, seed: int) -> History:
    """A linearizable history, from an event simulation of clients against one sequential store.

    Each operation takes effect at a random instant inside its interval; a timed-out one at a random
    instant after its invocation, or never, while its client moves on. A cas expects the value its client
    last read at that key, as a real read-modify-write client does.
    """
    rng = random.Random(seed)
    history = History()
    store: dict[str, object] = {}
    seen: dict[tuple[int, str], object] = {}
    results: dict[int, object] = {}
    events: list[tuple[int, int, str, int, int]] = []  # time, tiebreak, kind, client, op id
    tiebreak = itertools.count()
    ops: dict[int, tuple[int, Op]] = {}
    budget = [workload.ops // workload.clients] * workload.clients
    fresh = itertools.count(1)
    for client in range(workload.clients):
        heapq.heappush(events, (rng.randrange(0, 100 * US), next(tiebreak), "invoke", client, -1))
    while events:
        now, _, kind, client, op_id = heapq.heappop(events)
        if kind == "invoke":
            if budget[client] == 0:
                continue
            budget[client] -= 1
            op = _choose(rng, workload, client, seen, next(fresh))
            op_id = history.invoke(f"c{client}", op, at=now)
            ops[op_id] = (client, op)
            duration = int(rng.lognormvariate(0, 1) * 200 * US)  # median 0.2 ms, a long tail
            if rng.random() < workload.paused:
                duration *= 100
            if rng.random() < workload.timeouts:
                history.info(op_id)
                if rng.random() < 0.5:
                    heapq.heappush(
                        events,
                        (now + rng.randrange(20 * duration + 1), next(tiebreak), "apply", client, op_id),
                    )
                heapq.heappush(events, (now + 5 * duration, next(tiebreak), "think", client, -1))
            else:
                heapq.heappush(
                    events, (now + rng.randrange(duration + 1), next(tiebreak), "apply", client, op_id)
                )
                heapq.heappush(events, (now + duration, next(tiebreak), "return", client, op_id))
        elif kind == "apply":
            results[op_id] = _apply(store, ops[op_id][1])
        elif kind == "return":
            op, result = ops[op_id][1], results.pop(op_id)
            history.ok(op_id, result, at=now)
            if isinstance(op, Read):
                seen[client, op.key] = result
            heapq.heappush(events, (now + rng.randrange(50 * US), next(tiebreak), "invoke", client, -1))
        else:  # think: the client gave up on a timed-out operation and carries on
            heapq.heappush(events, (now, next(tiebreak), "invoke", client, -1))
    return history


def _choose(
    rng: random.Random, workload: Workload, client: int, seen: dict[tuple[int, str], object], fresh: int
) -> Op:
    key = f"k{rng.randrange(workload.keys)}"
    value = fresh if workload.values is None else rng.randrange(workload.values)
    roll = rng.random()
    if roll < 0.5:
        return Read(key)
    if roll < 0.8:
        return Write(key, value)
    if roll < 0.97:
        return Cas(key, seen.get((client, key)), value)
    return Delete(key)


def _apply(store: dict[str, object], op: Op) -> object:
    match op:
        case Read(key=key):
            return store.get(key)
        case Write(key=key, value=value):
            store[key] = value
        case Delete(key=key):
            store.pop(key, None)
        case Cas(key=key, expected=expected, new=new):
            if store.get(key) != expected:
                return False
            store[key] = new
            return True
    return None


def measure(workload: Workload, runs: int) -> tuple[float, CheckResult]:
    history = simulate(workload, seed=1)
    timings = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = check(history, timeout=None)
        timings.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(timings), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ops", type=int, default=10_000)
    args = parser.parse_args()
    workloads = [
        Workload("100 keys, 8 clients", args.ops, keys=100, clients=8),
        Workload("100 keys, 16 clients", args.ops, keys=100, clients=16),
        Workload("100 keys, 16 clients, 5% timeouts", args.ops, keys=100, clients=16, timeouts=0.05),
        Workload("100 keys, 16 clients, 3 values", args.ops, keys=100, clients=16, values=3),
        Workload("10 keys, 16 clients", args.ops, keys=10, clients=16),
        Workload("1 key, 16 clients", args.ops, keys=1, clients=16),
        Workload("1 key, 16 clients, 3 values", args.ops, keys=1, clients=16, values=3),
        Workload("1 key, 16 clients, 2% paused", args.ops, keys=1, clients=16, paused=0.02),
    ]
    print(f"median of {args.runs} runs on {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'workload':<40} {'ops':>7} {'steps':>9} {'median s':>9}  verdict")
    for workload in workloads:
        seconds, result = measure(workload, args.runs)
        print(
            f"{workload.name:<40} {result.operations:>7} {result.steps:>9} {seconds:>9.3f}  "
            f"{result.verdict.value}"
        )


if __name__ == "__main__":
    main()
