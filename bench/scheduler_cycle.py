"""A micro-benchmark of the scheduler's core: CPU time per scheduling cycle, in-process, without the bus.

    .venv/bin/python bench/scheduler_cycle.py [--nodes 1000] [--pods 500] [--runs 5] [--profile out.prof]

It builds a seeded synthetic cluster (``tests/unit/scheduler/synthetic.py``: varied node sizes, taints,
cordons, zones; pods with tolerations, node selectors, node affinity and topology spread), loads the
nodes into a ``SchedulerCache`` and replays the pods through the default ``Framework`` exactly as the
scheduler loop does (schedule, then assume onto the chosen node). Each run starts from a fresh cache;
the table gives the median over ``--runs`` of the process CPU time per cycle and the cycles per second
that implies, plus the time to parse a pod into a ``PodInfo`` (done once per pod, outside the cycle).
The decision checksum is printed so that two builds can be compared for identical decisions.
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import load, render_table

from services.scheduler.nodeinfo import PodInfo
from tests.unit.scheduler.synthetic import (
    checksum,
    default_framework,
    load_cache,
    replay,
    synthetic_cluster,
)


def one_run(nodes: int, pods: int, seed: int, profile: cProfile.Profile | None) -> tuple[float, float, str]:
    """(CPU seconds per cycle, CPU seconds per PodInfo parse, decision checksum) of one replay."""
    node_objs, pod_objs = synthetic_cluster(nodes, pods, seed)
    cache = load_cache(node_objs)
    framework = default_framework(seed)
    started = time.process_time()
    infos = [PodInfo.of(obj) for obj in pod_objs]
    parsed = time.process_time()
    if profile is not None:
        profile.enable()
    lines = replay(framework, cache, infos)
    if profile is not None:
        profile.disable()
    done = time.process_time()
    return (done - parsed) / pods, (parsed - started) / pods, checksum(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--profile", help="write a cProfile of the cycles of the last run to this file")
    args = parser.parse_args()
    cycles, parses, sums = [], [], set()
    for run in range(args.runs):
        profile = cProfile.Profile() if args.profile and run == args.runs - 1 else None
        cycle, parse, digest = one_run(args.nodes, args.pods, args.seed, profile)
        cycles.append(cycle)
        parses.append(parse)
        sums.add(digest)
        if profile is not None:
            profile.dump_stats(args.profile)
    cycle = statistics.median(cycles)
    rows = [
        ["nodes", "pods", "runs", "cycle ms (median)", "min", "max", "cycles/s", "PodInfo.of ms"],
        [
            str(args.nodes),
            str(args.pods),
            str(args.runs),
            f"{cycle * 1000:.3f}",
            f"{min(cycles) * 1000:.3f}",
            f"{max(cycles) * 1000:.3f}",
            f"{1 / cycle:.0f}",
            f"{statistics.median(parses) * 1000:.3f}",
        ],
    ]
    print(render_table(rows, left="r"))
    print(f"decisions checksum: {', '.join(sorted(sums))}")
    print(f"machine load: {load()}")


if __name__ == "__main__":
    main()
