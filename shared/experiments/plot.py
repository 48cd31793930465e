"""The PNG of a run: availability (share of requests that succeeded) and latency over time, fault at 0.

Two panels over the same time axis, one line per kind of operation; the fault, the heal point and the
recovery are vertical lines, the cluster's reactions are ticks, so the picture reads like the timeline.
With pod creation in the load, each pod's start-up latency (create request to Running) is a dot at the
time its create was sent.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt

from shared.experiments.figures import KINDS, availability_series
from shared.experiments.result import ExperimentResult

BIN_SECONDS = 0.5
COLOURS = {
    "write": "tab:blue",
    "read": "tab:green",
    "api": "tab:purple",
    "service": "tab:orange",
    "pod": "tab:brown",
}


# Pods are created a few a second at most: narrow bins would mostly be empty, so theirs are wider.
KIND_BIN_SECONDS = {"pod": 2.0}


def plot_result(result: ExperimentResult, path: Path) -> None:
    figure, (availability, latency) = plt.subplots(
        2, 1, sharex=True, figsize=(10, 6), constrained_layout=True
    )
    for kind in KINDS:
        width = KIND_BIN_SECONDS.get(kind, BIN_SECONDS)
        bins = availability_series([op for op in result.ops if op.kind == kind], width)
        mine = {round(b.start / width): b for b in bins}
        if not mine:
            continue
        # Every bin from first to last, so a stretch without answers breaks the lines (NaN) instead of
        # being drawn across.
        indexes = range(min(mine), max(mine) + 1)
        times = [i * width + width / 2 for i in indexes]
        found = [mine.get(i) for i in indexes]
        share = [100 * b.availability if b is not None and b.availability is not None else 0.0 for b in found]
        p50 = [
            b.latency_p50_ms if b is not None and b.latency_p50_ms is not None else math.nan for b in found
        ]
        peak = [
            b.latency_max_ms if b is not None and b.latency_max_ms is not None else math.nan for b in found
        ]
        colour = COLOURS[kind]
        availability.step(times, share, where="mid", color=colour, label=f"{kind}s")
        latency.plot(times, p50, color=colour, label=f"{kind} p50")
        latency.plot(times, peak, color=colour, linestyle=":", label=f"{kind} max")
    pods = result.audit.pods if result.audit is not None else None
    if pods is not None and pods.startups:
        sent, took = zip(*pods.startups, strict=True)
        latency.scatter(sent, [1000 * t for t in took], s=8, color=COLOURS["pod"], label="pod start-up")
    for axis in (availability, latency):
        axis.axvline(0, color="red", label="fault")
        if result.figures is not None:
            if result.figures.heal_at > 0:
                axis.axvline(result.figures.heal_at, color="purple", linestyle="--", label="heal")
            if result.figures.recovered_at is not None:
                axis.axvline(result.figures.recovered_at, color="green", linestyle="--", label="recovered")
        for event in result.timeline:
            if event.reaction:
                axis.axvline(event.at, color="grey", alpha=0.3, linewidth=0.8)
        axis.grid(alpha=0.3)
    availability.set_ylabel("succeeded (%)")
    availability.set_ylim(-5, 105)
    availability.legend(loc="lower right", fontsize="small")
    latency.set_ylabel("latency (ms)")
    latency.set_yscale("log")
    latency.set_xlabel("seconds since the fault (grey: the cluster reacting)")
    latency.legend(loc="upper right", fontsize="small", ncols=2)
    figure.suptitle(f"{result.name}: {result.verdict}")
    figure.savefig(path, dpi=100)
    plt.close(figure)
