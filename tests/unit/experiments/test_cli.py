"""``kubenats experiment validate`` checks files without a cluster; ``run`` without one says so."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from shared.cli import app
from tests.unit.experiments.test_model import BUILT_IN


def test_validate_accepts_every_built_in_experiment() -> None:
    ran = CliRunner().invoke(app, ["experiment", "validate", *map(str, BUILT_IN)])
    assert ran.exit_code == 0, ran.output
    assert "etcd-leader-kill ok" in ran.output


def test_validate_names_the_invalid_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteady_state: {probes: [{type: etcd-has-leader}]}\nmethod: [{type: wait}]\n")
    ran = CliRunner().invoke(app, ["experiment", "validate", str(bad)])
    assert ran.exit_code == 2
    assert "method.0.wait.seconds: Field required" in ran.output


def test_run_without_a_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    ran = CliRunner().invoke(app, ["experiment", "run", str(BUILT_IN[0]), "--state-dir", str(tmp_path)])
    assert ran.exit_code == 1
    assert "no cluster runs in" in ran.output and "make up" in ran.output
