"""Reports for people: a run's text summary, the summary table of many runs, and a comparison of two.

All of it is plain text built from :class:`ExperimentResult`, so the CLI prints it, ``make experiments``
prints it, and a report directory keeps it beside the JSON and the plot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from shared.experiments.result import ExperimentResult

TIMELINE_SHOWN = 40


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _figure_lines(result: ExperimentResult) -> list[str]:
    f = result.figures
    if f is None:
        return []
    ops = ", ".join(
        f"{n} {kind}s ({f.errors_by_kind.get(kind, 0)} failed)" for kind, n in f.operations.items()
    )
    latency = ", ".join(
        f"{kind} p50 {f.latency_p50_ms[kind]:.1f} ms p99 {f.latency_p99_ms[kind]:.1f} ms"
        for kind in f.latency_p50_ms
    )
    return [
        f"  time to detect        {seconds(f.time_to_detect)}",
        f"  time to recover       {seconds(f.time_to_recover)}  (from the heal point, t={f.heal_at:.2f} s)",
        f"  first write after t0  {seconds(f.first_write_after_fault)}",
        f"  longest write gap     {seconds(f.max_write_gap)}",
        f"  client errors         {f.client_errors}",
        f"  operations            {ops or 'none'}",
        f"  latency               {latency or '—'}",
    ]


def summary_text(result: ExperimentResult) -> str:
    """A short report: verdict, checks, figures, audit, timeline and the commonest client errors."""
    lines = [f"{result.name}: {result.verdict.upper()}" + (f" — {result.reason}" if result.reason else "")]
    if result.title:
        lines.append(result.title)
    lines.append("")
    lines += [
        f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail.splitlines()[0] if c.detail else ''}"
        for c in result.checks
    ]
    figures = _figure_lines(result)
    if figures:
        lines += ["", "Figures (t=0 is the fault):", *figures]
    if result.audit is not None:
        a = result.audit
        lines += [
            "",
            f"Audit: {a.acknowledged_writes} acknowledged writes, {a.lost_writes} lost; "
            f"history {a.linearizability}",
        ]
        if a.linearizability_detail:
            lines.append(a.linearizability_detail)
        if a.pods is not None:
            p = a.pods
            lines.append(
                f"Pods: {p.acknowledged} acknowledged creates in {p.namespace}, {p.lost} lost, "
                f"{p.not_running} never seen Running; scheduled p50 {seconds(p.scheduled_p50)} "
                f"p99 {seconds(p.scheduled_p99)}, Running p50 {seconds(p.running_p50)} "
                f"p99 {seconds(p.running_p99)} (from the create request)"
            )
    if result.restarts:
        lines += ["", "Container restarts (wait after the exit, and what the back-off policy wants):"]
        lines += [
            f"  {r.container} #{r.number}: {r.waited:.0f} s (policy {r.expected:g} s)"
            for r in result.restarts
        ]
    if result.timeline:
        lines += ["", "Timeline:"]
        lines += [f"  {e.at:+8.2f} s  {e.source:<8} {e.text}" for e in result.timeline[:TIMELINE_SHOWN]]
        if len(result.timeline) > TIMELINE_SHOWN:
            lines.append(f"  … {len(result.timeline) - TIMELINE_SHOWN} more in result.json")
    if result.errors:
        lines += ["", "Client errors:"]
        lines += [f"  {count:>5} × {message}" for message, count in result.errors.items()]
    return "\n".join(lines) + "\n"


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells (the first is the header) as aligned text: the first column left, the rest right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            text.ljust(w) if i == 0 else text.rjust(w)
            for i, (text, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_row(result: ExperimentResult) -> list[str]:
    f, a = result.figures, result.audit
    return [
        result.name,
        result.verdict,
        seconds(f.time_to_detect) if f else "—",
        seconds(f.time_to_recover) if f else "—",
        str(f.client_errors) if f else "—",
        str(a.lost_writes) if a else "—",
    ]


def summary_table(results: Sequence[ExperimentResult]) -> str:
    header = ["experiment", "verdict", "detect", "recover", "client errors", "writes lost"]
    return render_table([header, *(summary_row(r) for r in results)])


_COMPARED: list[tuple[str, Callable[[ExperimentResult], float | None]]] = [
    ("time to detect (s)", lambda r: r.figures.time_to_detect if r.figures else None),
    ("time to recover (s)", lambda r: r.figures.time_to_recover if r.figures else None),
    ("first write after t0 (s)", lambda r: r.figures.first_write_after_fault if r.figures else None),
    ("longest write gap (s)", lambda r: r.figures.max_write_gap if r.figures else None),
    ("client errors", lambda r: r.figures.client_errors if r.figures else None),
    ("writes lost", lambda r: r.audit.lost_writes if r.audit else None),
    ("write p50 (ms)", lambda r: r.figures.latency_p50_ms.get("write") if r.figures else None),
    ("write p99 (ms)", lambda r: r.figures.latency_p99_ms.get("write") if r.figures else None),
    ("pod create errors", lambda r: r.figures.errors_by_kind.get("pod") if r.figures else None),
    ("pods lost", lambda r: r.audit.pods.lost if r.audit and r.audit.pods else None),
    ("pod start-up p50 (s)", lambda r: r.audit.pods.running_p50 if r.audit and r.audit.pods else None),
    ("pod start-up p99 (s)", lambda r: r.audit.pods.running_p99 if r.audit and r.audit.pods else None),
    ("longest restart back-off (s)", lambda r: max((x.waited for x in r.restarts), default=None)),
]


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def compare_table(a: ExperimentResult, b: ExperimentResult, names: tuple[str, str] = ("A", "B")) -> str:
    """Two results side by side with the change from A to B."""
    rows = [["", names[0], names[1], "change"], ["verdict", a.verdict, b.verdict, ""]]
    for label, get in _COMPARED:
        x, y = get(a), get(b)
        change = "—" if x is None or y is None else f"{y - x:+.2f}"
        rows.append([label, _number(x), _number(y), change])
    return render_table(rows)


def write_report(result: ExperimentResult, directory: Path) -> Path:
    """result.json, summary.txt and plot.png in ``directory``; returns the directory."""
    from shared.experiments.plot import plot_result  # matplotlib is slow to import; only reports need it

    directory.mkdir(parents=True, exist_ok=True)
    result.save(directory / "result.json")
    (directory / "summary.txt").write_text(summary_text(result))
    if result.ops:
        plot_result(result, directory / "plot.png")
    return directory
