"""The dryRun option: which values a request may carry and how the REST front reads it."""

from __future__ import annotations

import json

import pytest

from services.apiserver.dryrun import check_dry_run, dry_running, is_dry_run
from services.apiserver.rest.params import decode_delete_options, read_query
from shared.errors import ApiError


@pytest.mark.parametrize(("values", "dry"), [([], False), (["All"], True), (["All", "All"], True)])
def test_only_all_asks_for_a_dry_run(values: list[str], dry: bool) -> None:
    assert check_dry_run(values) is dry


@pytest.mark.parametrize("values", [["x"], ["All", "x"], [""]])
def test_other_values_are_a_bad_request_worded_as_kubernetes_words_it(values: list[str]) -> None:
    bad = next(v for v in values if v != "All")
    with pytest.raises(ApiError) as refused:
        check_dry_run(values)
    assert (refused.value.code, refused.value.message) == (
        400,
        f'dryRun: Unsupported value: "{bad}": supported values: "All"',
    )


def test_dry_run_holds_inside_the_block_only() -> None:
    assert not is_dry_run()
    with dry_running(True):
        assert is_dry_run()
        with dry_running(False):
            assert not is_dry_run()
        assert is_dry_run()
    assert not is_dry_run()


@pytest.mark.parametrize(
    ("query", "fields"),
    [({"dryRun": "All"}, {"dryRun": ["All"]}), ({"dryRun": ""}, {}), ({}, {})],
)
def test_query_dry_run_reaches_the_request(query: dict[str, str], fields: dict[str, object]) -> None:
    assert read_query(query, watch=False)[0] == fields


def test_delete_options_carry_dry_run() -> None:
    body = json.dumps({"kind": "DeleteOptions", "dryRun": ["All"], "propagationPolicy": "Background"})
    assert decode_delete_options(body.encode(), "application/json") == {
        "dryRun": ["All"],
        "propagationPolicy": "Background",
    }
