"""The node affinity plugin's compiled selectors answer exactly as the selector models they are built from,
for every operator, present and missing labels, and match fields on the node name."""

from __future__ import annotations

import pytest

from services.scheduler.plugins.nodeaffinity import requirement_test, term_test
from shared.models import NodeSelectorRequirement, NodeSelectorTerm

LABELS = [
    {},
    {"zone": "a"},
    {"zone": "b"},
    {"zone": ""},
    {"cores": "8"},
    {"cores": "x"},
    {"zone": "a", "cores": "2"},
]
REQUIREMENTS = [
    NodeSelectorRequirement(key="zone", operator="In", values=["a", "c"]),
    NodeSelectorRequirement(key="zone", operator="In", values=[""]),
    NodeSelectorRequirement(key="zone", operator="NotIn", values=["a"]),
    NodeSelectorRequirement(key="zone", operator="Exists"),
    NodeSelectorRequirement(key="zone", operator="DoesNotExist"),
    NodeSelectorRequirement(key="cores", operator="Gt", values=["4"]),
    NodeSelectorRequirement(key="cores", operator="Lt", values=["4"]),
    NodeSelectorRequirement(key="zone", operator="Bogus", values=["a"]),
]


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda r: f"{r.key}-{r.operator}-{r.values}")
def test_compiled_requirement_agrees_with_the_model(requirement: NodeSelectorRequirement) -> None:
    test = requirement_test(requirement)
    assert [test(labels) for labels in LABELS] == [requirement.matches(labels) for labels in LABELS]


@pytest.mark.parametrize(
    "term",
    [
        NodeSelectorTerm(),
        NodeSelectorTerm(match_expressions=[REQUIREMENTS[0], REQUIREMENTS[5]]),
        NodeSelectorTerm(match_expressions=[REQUIREMENTS[2]]),
        NodeSelectorTerm(
            match_fields=[NodeSelectorRequirement(key="metadata.name", operator="In", values=["n1"])]
        ),
        NodeSelectorTerm(
            match_expressions=[REQUIREMENTS[3]],
            match_fields=[NodeSelectorRequirement(key="metadata.name", operator="NotIn", values=["n1"])],
        ),
    ],
)
def test_compiled_term_agrees_with_the_model(term: NodeSelectorTerm) -> None:
    test = term_test(term)
    cases = [(labels, name) for labels in LABELS for name in ("n1", "n2")]
    assert [test(labels, name) for labels, name in cases] == [
        term.matches(labels, name) for labels, name in cases
    ]
