"""``kubenats experiment run|compare|validate``: resilience experiments against the running cluster.

``run`` takes one or more experiment files, shows a live display while each runs, writes each report
(result.json, summary.txt, plot.png) under ``<state dir>/experiments/`` and ends with a summary table; it
exits 1 when any experiment failed or was aborted (a skipped one — its components are not running — is
not a failure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shared.cli.connection import StateDirOption, fail
from shared.cli.main import app as root_app
from shared.cluster import StatePaths
from shared.experiments import Experiment, ExperimentError, load_experiment
from shared.experiments.cluster import NoCluster
from shared.experiments.figures import KINDS
from shared.experiments.report import compare_table, summary_table, summary_text, write_report
from shared.experiments.result import ExperimentResult
from shared.experiments.runner import RunStatus, run_experiment

app = typer.Typer(name="experiment", help="Run resilience experiments: inject faults, measure recovery.")
root_app.add_typer(app, name="experiment")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
EVENTS_SHOWN = 6


def live_view(experiment: Experiment, status: RunStatus) -> Group:
    """The live display: phase, clocks, client operations so far and the latest timeline lines."""
    now = time.monotonic()
    since = f"  t={now - status.fault_at:+.1f} s" if status.fault_at is not None else ""
    head = Text.assemble(
        (experiment.name, "bold"), f"  {status.phase}  ", (f"{now - status.started:.1f} s", "dim"), since
    )
    ops = Table.grid(padding=(0, 2))
    ops.add_row("", "ok", "failed")
    for kind in KINDS:
        done = [op for op in status.recording.ops if op.kind == kind]
        if done:
            failed = sum(1 for op in done if not op.ok)
            ops.add_row(f"{kind}s", str(len(done) - failed), Text(str(failed), style="red" if failed else ""))
    events = Text()
    origin = status.fault_at if status.fault_at is not None else status.started
    for event in status.recording.events[-EVENTS_SHOWN:]:
        events.append(f"{event.at - origin:+7.2f} s  {event.source:<8} {event.text}\n", style="dim")
    return Group(head, ops, events)


def _report_dir(paths: StatePaths, name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return paths.root / "experiments" / f"{name}-{stamp}"


def run_one(experiment: Experiment, source: Path, paths: StatePaths) -> ExperimentResult:
    status = RunStatus()
    if err.is_terminal:
        with Live(
            get_renderable=lambda: live_view(experiment, status),
            console=err,
            refresh_per_second=4,
            transient=True,
        ):
            return asyncio.run(run_experiment(experiment, paths, source=source, status=status))
    return asyncio.run(
        run_experiment(
            experiment,
            paths,
            source=source,
            status=status,
            progress=lambda phase: err.print(f"{experiment.name}: {phase}"),
        )
    )


@app.command("run")
def run_command(
    files: Annotated[list[Path], typer.Argument(help="experiment files (YAML)", exists=True, dir_okay=False)],
    state_dir: StateDirOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="report directory [default: under the state dir]")
    ] = None,
) -> None:
    """Run experiments against the cluster in the state dir; print each summary and a table of all."""
    paths = StatePaths.at(state_dir)
    # Faults make the bus warn of every reconnect; the run records each error a client sees itself, and
    # the warnings would only scribble over the live display.
    logging.getLogger("shared.bus").setLevel(logging.ERROR)
    try:
        experiments = [(path, load_experiment(path)) for path in files]
    except ExperimentError as error:
        raise fail(str(error), 2) from None
    results = []
    for path, experiment in experiments:
        try:
            result = run_one(experiment, path, paths)
        except (NoCluster, ExperimentError) as error:
            raise fail(str(error)) from None
        directory = write_report(
            result, out_dir / experiment.name if out_dir else _report_dir(paths, experiment.name)
        )
        out.print(summary_text(result), markup=False)
        out.print(f"report: {directory}\n", markup=False)
        results.append(result)
    if len(results) > 1:
        out.print(summary_table(results), markup=False)
    if any(r.verdict in ("failed", "aborted") for r in results):
        raise typer.Exit(1)


@app.command("compare")
def compare_command(
    first: Annotated[Path, typer.Argument(help="result.json of one run", exists=True, dir_okay=False)],
    second: Annotated[Path, typer.Argument(help="result.json of another", exists=True, dir_okay=False)],
) -> None:
    """Two results side by side: figures and the change from the first to the second."""
    try:
        a, b = ExperimentResult.load(first), ExperimentResult.load(second)
    except (OSError, ValueError) as error:
        raise fail(f"cannot read the results: {error}", 2) from None
    out.print(
        f"A: {first} ({a.name}, {a.started_at})\nB: {second} ({b.name}, {b.started_at})\n", markup=False
    )
    out.print(compare_table(a, b), markup=False)


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="experiment files (YAML)", exists=True, dir_okay=False)],
) -> None:
    """Check experiment files without running them."""
    failed = False
    for path in files:
        try:
            experiment = load_experiment(path)
        except ExperimentError as error:
            err.print(str(error), markup=False)
            failed = True
            continue
        out.print(f"{path}: {experiment.name} ok ({len(experiment.method)} actions)", markup=False)
    if failed:
        raise typer.Exit(2)
