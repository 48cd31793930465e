"""``kubenats(...)``: one CLI command run in-process as admin against the module's control plane;
``namespace``: a fresh namespace it created."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from services.apiserver.local_cluster import LocalControlPlane
from shared.cli import app

Cli = Callable[..., Result]


@pytest.fixture
def kubenats(control_plane: LocalControlPlane, tmp_path: Path) -> Cli:
    """Run one CLI command as admin against the control plane (an empty state dir: no `make up`)."""
    runner = CliRunner()
    base = [
        "--server",
        control_plane.url,
        "--token",
        control_plane.tokens["admin"],
        "--state-dir",
        str(tmp_path),
    ]

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, [*args, *base], input=stdin)

    return invoke


@pytest.fixture
def namespace(kubenats: Cli) -> str:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    manifest = yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert kubenats("apply", "-f", "-", stdin=manifest).exit_code == 0
    return name
