"""The KubeSchedulerConfiguration file: defaults, enable/disable/weights, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.scheduler.config import ConfigError, load_config, parse_config, resolve

DEFAULT_FILTERS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodeResourcesFit",
    "PodTopologySpread",
)


def test_defaults_are_kubernetes_default_plugins_and_weights() -> None:
    resolved = resolve(parse_config({}))
    assert resolved.filter == DEFAULT_FILTERS
    assert dict(resolved.score) == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "NodeResourcesBalancedAllocation": 1,
    }
    assert resolved.bind == ("DefaultBinder",)


@pytest.mark.parametrize(
    ("plugins", "filters", "scores"),
    [
        (
            {"filter": {"disabled": [{"name": "NodeName"}]}},
            tuple(f for f in DEFAULT_FILTERS if f != "NodeName"),
            None,
        ),
        (
            {"score": {"disabled": [{"name": "*"}], "enabled": [{"name": "NodeResourcesFit", "weight": 5}]}},
            None,
            {"NodeResourcesFit": 5},
        ),
        (
            {"score": {"enabled": [{"name": "NodeAffinity", "weight": 7}]}},
            None,
            {
                "TaintToleration": 3,
                "NodeAffinity": 7,
                "NodeResourcesFit": 1,
                "PodTopologySpread": 2,
                "NodeResourcesBalancedAllocation": 1,
            },
        ),
        (
            {"multiPoint": {"disabled": [{"name": "TaintToleration"}]}},
            tuple(f for f in DEFAULT_FILTERS if f != "TaintToleration"),
            {
                "NodeAffinity": 2,
                "NodeResourcesFit": 1,
                "PodTopologySpread": 2,
                "NodeResourcesBalancedAllocation": 1,
            },
        ),
    ],
)
def test_enabled_and_disabled_plugins_change_the_defaults(
    plugins: dict[str, Any], filters: tuple[str, ...] | None, scores: dict[str, int] | None
) -> None:
    resolved = resolve(parse_config({"profiles": [{"plugins": plugins}]}))
    if filters is not None:
        assert resolved.filter == filters
    if scores is not None:
        assert dict(resolved.score) == scores


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"percentageOfNodesToScore": 120},
            "percentageOfNodesToScore: Input should be less than or equal to 100",
        ),
        ({"kind": "Scheduler"}, "kind: Input should be 'KubeSchedulerConfiguration'"),
        ({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]}, 'unknown plugin "Nope"'),
        (
            {"profiles": [{"plugins": {"score": {"enabled": [{"name": "NodeName"}]}}}]},
            "plugin NodeName does not implement score",
        ),
        (
            {"profiles": [{"plugins": {"score": {"enabled": [{"name": "NodeAffinity", "weight": 0}]}}}]},
            "weight: Input should be greater than or equal to 1",
        ),
        (
            {
                "profiles": [
                    {
                        "pluginConfig": [
                            {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "Random"}}}
                        ]
                    }
                ]
            },
            'scoring strategy "Random" is not one of LeastAllocated, MostAllocated',
        ),
        (
            {"profiles": [{"schedulerName": "a"}, {"schedulerName": "b"}]},
            "profiles: List should have at most 1 item",
        ),
        ({"percentageOfNodes": 5}, "percentageOfNodes: Extra inputs are not permitted"),
        (
            {"profiles": [{"plugins": {"bind": {"disabled": [{"name": "*"}]}}}]},
            "at least one bind plugin is required",
        ),
        ("just text", "must be a mapping"),
    ],
)
def test_invalid_configurations_are_refused_with_the_field_named(document: Any, message: str) -> None:
    with pytest.raises(ConfigError) as failure:
        parse_config(document, "sched.yaml")
    assert message in str(failure.value)
    assert str(failure.value).startswith("sched.yaml: ")


def test_config_file_is_read_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "percentageOfNodesToScore: 30\nprofiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n"
        "    args: {scoringStrategy: {type: MostAllocated}}\n"
    )
    config = load_config(path)
    assert config.percentage_of_nodes_to_score == 30
    assert resolve(config).args["NodeResourcesFit"]["scoringStrategy"]["type"] == "MostAllocated"
    path.write_text("profiles: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
