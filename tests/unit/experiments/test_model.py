"""Experiment files validate when loaded: good ones parse into typed probes and actions, bad ones fail
with the path of the offending field; every built-in experiment in experiments/ is valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.experiments import ExperimentError, load_experiment, parse_experiment
from shared.experiments.action_specs import Chaos, Expect, Kill, Restart, Start, Wait
from shared.experiments.probe_specs import EtcdHasLeader, ServiceAnswers

BUILT_IN = sorted((Path(__file__).resolve().parents[3] / "experiments").glob("*.yaml"))


def experiment(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "kill-it",
        "steady_state": {"probes": [{"type": "etcd-has-leader"}]},
        "method": [{"type": "kill", "target": "etcd-leader"}],
    }
    return {**base, **overrides}


def test_a_minimal_experiment_gets_defaults_for_load_and_thresholds() -> None:
    parsed = parse_experiment(experiment())
    assert isinstance(parsed.steady_state.probes[0], EtcdHasLeader)
    assert parsed.method == [Kill(type="kill", targets=["etcd-leader"])]
    assert parsed.load.kv_writers == 2 and parsed.thresholds.writes_lost == 0
    assert parsed.thresholds.recovery_seconds is None


def test_actions_and_probes_are_chosen_by_their_type() -> None:
    parsed = parse_experiment(
        experiment(
            steady_state={"probes": [{"type": "service-answers", "name": "web", "ratio": 0.9}]},
            method=[
                {"type": "restart", "targets": ["cp-1-etcd", "cp-2-etcd"], "settle_seconds": 1},
                {"type": "chaos", "node": "worker-1", "action": "crash"},
                {"type": "wait", "seconds": 2},
                {"type": "expect", "probe": {"type": "etcd-has-leader"}, "passes": False},
            ],
        )
    )
    assert parsed.steady_state.probes == [ServiceAnswers(type="service-answers", name="web", ratio=0.9)]
    assert [type(a) for a in parsed.method] == [Restart, Chaos, Wait, Expect]
    assert [a.disruptive for a in parsed.method] == [True, True, False, False]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Kill It"}, "name"),
        ({"method": []}, "method: List should have at least 1 item"),
        ({"method": [{"type": "explode"}]}, "method.0"),
        ({"method": [{"type": "kill", "target": "the leader"}]}, "is not a program name"),
        ({"method": [{"type": "kill", "target": "cp-1-etcd", "targets": ["cp-2-etcd"]}]}, "not both"),
        ({"method": [{"type": "kill", "target": "cp-1-etcd", "signal": 9}]}, "signal: Extra inputs"),
        ({"method": [{"type": "chaos", "node": "worker-1", "action": "melt"}]}, "node action must be"),
        (
            {"method": [{"type": "chaos", "node": "worker-1", "pod": "default/a", "action": "crash"}]},
            "exactly one",
        ),
        (
            {"method": [{"type": "start", "target": "$victim"}]},
            "refers to $victim before any action saves it",
        ),
        ({"method": [{"type": "wait", "seconds": -1}]}, "greater than or equal to 0"),
        ({"steady_state": {"probes": []}}, "steady_state.probes"),
        (
            {"steady_state": {"probes": [{"type": "deployment-ready", "name": "web"}]}},
            "replicas: Field required",
        ),
        ({"thresholds": {"recovery_seconds": -2}}, "thresholds.recovery_seconds"),
        ({"requires": ["kube-dns"]}, "requires.0"),
    ],
)
def test_an_invalid_experiment_is_refused_naming_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ExperimentError) as refused:
        parse_experiment(experiment(**overrides), "bad.yaml")
    assert "bad.yaml is not a valid experiment" in str(refused.value)
    assert message in str(refused.value)


def test_a_reference_saved_by_an_earlier_action_is_accepted_in_later_actions_and_rollbacks() -> None:
    parsed = parse_experiment(
        experiment(
            method=[
                {"type": "kill", "target": "etcd-follower", "hold": True, "save_as": "victim"},
                {"type": "start", "target": "$victim"},
            ],
            rollbacks=[{"type": "start", "target": "$victim"}],
        )
    )
    rollback = parsed.rollbacks[0]
    assert isinstance(rollback, Start) and rollback.targets == ["$victim"]


def test_a_file_that_is_not_yaml_or_not_a_mapping_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ExperimentError, match="is not YAML"):
        load_experiment(broken)
    broken.write_text("- a list\n")
    with pytest.raises(ExperimentError, match="expected a mapping"):
        load_experiment(broken)
    with pytest.raises(ExperimentError, match="cannot read"):
        load_experiment(tmp_path / "missing.yaml")


@pytest.mark.parametrize("path", BUILT_IN, ids=lambda p: p.stem)
def test_every_built_in_experiment_is_valid_and_named_after_its_file(path: Path) -> None:
    assert load_experiment(path).name == path.stem


def test_the_built_in_experiments_are_there() -> None:
    names = {path.stem for path in BUILT_IN}
    assert {"etcd-leader-kill", "etcd-majority-loss", "apiserver-replica-kill", "nats-server-kill"} <= names


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "method": [
                {
                    "type": "expect",
                    "probe": {"type": "leader-elected", "component": "scheduler", "not_held_by": "$x"},
                    "passes": True,
                }
            ]
        },
        {
            "steady_state": {
                "probes": [{"type": "leader-elected", "component": "scheduler", "not_held_by": "$x"}]
            }
        },
    ],
)
def test_a_probe_may_only_refer_to_programs_an_action_saves(overrides: dict[str, Any]) -> None:
    with pytest.raises(ExperimentError, match=r"refers to \$x"):
        parse_experiment(experiment(**overrides))
