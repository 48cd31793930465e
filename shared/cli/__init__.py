"""The ``kubenats`` command line: one typer app, one module per command group."""

from shared.cli.main import app

__all__ = ["app"]
