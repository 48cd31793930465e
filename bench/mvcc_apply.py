"""Benchmark of the etcd member's MVCC state machine alone: apply throughput and range latency.

No Raft and no NATS: committed entries go straight to ``KVStateMachine.apply``, so these figures are
the ceiling the state machine puts on the whole member. Every figure is the median of several runs.

    .venv/bin/python bench/mvcc_apply.py [--keys 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from functools import partial

from services.etcd.mvcc import (
    ALL_KEYS,
    CompactRequest,
    Compare,
    CompareResult,
    CompareTarget,
    KVStateMachine,
    PutRequest,
    RangeRequest,
    TxnRequest,
    encode_command,
    prefix_range_end,
)

VALUE = "x" * 256  # about the size of a small Kubernetes object's JSON
PREFIX = "/registry/pods/default/"


def key(i: int) -> str:
    return f"{PREFIX}pod-{i:07d}"


def put(i: int) -> bytes:
    return encode_command(PutRequest(key(i), VALUE))


def create_if_absent(i: int) -> bytes:
    """Kubernetes' create: put only if the key's mod_revision is 0 (it does not exist)."""
    k = f"/registry/new/{i:07d}"
    absent = Compare(k, CompareTarget.MOD_REVISION, CompareResult.EQUAL, 0)
    return encode_command(TxnRequest([absent], [PutRequest(k, VALUE)]))


def restore(data: bytes) -> None:
    KVStateMachine().restore(data)


def loaded(n: int) -> KVStateMachine:
    sm = KVStateMachine()
    for i in range(n):
        sm.apply(i + 1, put(i))
    return sm


def apply_rate(sm: KVStateMachine, entries: list[bytes]) -> float:
    """Entries applied per second. Entries are encoded beforehand: the proposer does that, not apply."""
    first = sm.applied_index + 1
    t0 = time.perf_counter()
    for i, data in enumerate(entries):
        sm.apply(first + i, data)
    return len(entries) / (time.perf_counter() - t0)


def latency_us(fn: Callable[[], object], repeat: int) -> float:
    """Median of ``repeat`` timed calls, in microseconds."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description="MVCC state machine apply throughput and range latency")
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n, runs = args.keys, args.runs

    print(f"MVCC state machine: {n:,} keys, {len(VALUE)}-byte values, median of {runs} runs")
    puts = [put(i) for i in range(n)]
    creates = [create_if_absent(i) for i in range(n)]
    overwritten = loaded(n)
    throughput = [
        ("put, new keys", lambda: apply_rate(KVStateMachine(), puts)),
        (f"put, overwriting {n:,} keys", lambda: apply_rate(overwritten, puts)),
        ("txn create-if-absent", lambda: apply_rate(KVStateMachine(), creates)),
    ]
    print("apply throughput (entries/s)")
    for name, measure in throughput:
        print(f"  {name:<36}{median(runs, measure):>12,.0f}")

    # Half the keys have two versions, so past-revision reads have history to search.
    sm = loaded(n)
    half = sm.revision
    for i in range(0, n, 2):
        sm.apply(sm.applied_index + 1, encode_command(PutRequest(key(i), VALUE + "2")))
    rng = random.Random(1)
    picks = iter([key(rng.randrange(n)) for _ in range(1000)] * (runs + 1) * 2)
    pods = (PREFIX, prefix_range_end(PREFIX))
    latency: list[tuple[str, Callable[[], object], int]] = [
        ("get one key", lambda: sm.range(RangeRequest(next(picks))), 1000),
        ("get one key at a past revision", lambda: sm.range(RangeRequest(next(picks), revision=half)), 1000),
        ("prefix, limit 500", lambda: sm.range(RangeRequest(*pods, limit=500)), 20),
        ("prefix, count_only", lambda: sm.range(RangeRequest(*pods, count_only=True)), 5),
        ("all keys", lambda: sm.range(RangeRequest(ALL_KEYS, ALL_KEYS)), 5),
        ("all keys at a past revision", lambda: sm.range(RangeRequest(ALL_KEYS, ALL_KEYS, revision=half)), 5),
        ("all keys, reply body (to_wire)", lambda: sm.range(RangeRequest(ALL_KEYS, ALL_KEYS)).to_wire(), 3),
    ]
    print(f"range latency over {n:,} keys (µs)")
    for name, fn, repeat in latency:
        print(f"  {name:<36}{median(runs, partial(latency_us, fn, repeat)):>12,.1f}")

    data = sm.snapshot()
    print(f"snapshot of {n:,} keys, {sm.revision - 1:,} versions, {len(data) / 1e6:.1f} MB (ms)")
    print(f"  {'snapshot()':<36}{median(runs, lambda: latency_us(sm.snapshot, 1) / 1e3):>12,.1f}")
    print(f"  {'restore()':<36}{median(runs, lambda: latency_us(partial(restore, data), 1) / 1e3):>12,.1f}")
    compact = encode_command(CompactRequest(sm.revision))
    once = latency_us(lambda: sm.apply(sm.applied_index + 1, compact), 1) / 1e3
    print(f"  {'compact to the current revision':<36}{once:>12,.1f}  (once)")


if __name__ == "__main__":
    main()
