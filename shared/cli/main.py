"""The root ``kubenats`` typer app; command groups attach themselves here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kubenats",
    help="Drive a kubenats cluster: a Kubernetes-shaped control plane whose services talk over NATS.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the kubenats version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("kubenats"))


@app.callback()
def main() -> None:
    """kubenats: see, measure and break a Kubernetes-shaped control plane."""


# Command modules attach themselves to `app` when imported.
from shared.cli import (  # noqa: E402, F401
    chaos,
    cluster,
    describe,
    edits,
    experiment,
    get,
    logs,
    natscmd,
    nodes,
    objects,
    rollout,
    top,
)
