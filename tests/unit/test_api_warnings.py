"""The ``Warning`` header format (what the API server writes, clients read back exactly), the CLI's
``--validate`` flag, and duplicate fields in NATS request bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from services.apiserver import warnings as server_warnings
from services.apiserver.duplicatefields import (
    MAX_PROBLEMS,
    check_duplicate_fields,
    duplicate_fields,
    duplicate_problems,
)
from services.apiserver.warnings import (
    ITEM_CHARACTERS,
    TOTAL_CHARACTERS,
    WarningRecorder,
    add_warning,
    recording_warnings,
)
from shared import apiwarnings
from shared.apiprotocol import ApiRequest
from shared.apiwarnings import WarningHeaderError, header_list, header_value, parse_header_list
from shared.cli.manifests import load_sourced_manifests
from shared.cli.objects import field_validation, with_source
from shared.errors import ApiError

TEXTS = [
    'unknown field "spec.foo"',
    "a, b, and c",
    'a "quoted, with comma" text',
    "back\\slash",
    "ends with a backslash \\",
    '\\"',
    '","',
    "",
    "  spaces around  ",
    "ünïcödé ✓",
    '299 - "looks like a header", 299 - "another"',
]


@pytest.mark.parametrize("text", TEXTS)
def test_one_warning_round_trips_exactly(text: str) -> None:
    assert parse_header_list(header_value(text)) == [text]


def test_a_list_of_warnings_round_trips_in_order() -> None:
    assert parse_header_list(header_list(TEXTS)) == TEXTS


def test_an_empty_list_is_an_empty_header_and_back() -> None:
    assert header_list([]) == ""
    assert parse_header_list("") == []


@pytest.mark.parametrize(
    ("value", "texts"),
    [
        ('299 - "a"', ["a"]),
        ('299 - "a",299 - "b"', ["a", "b"]),
        ('299  -  "a" ,  299 - "b" ', ["a", "b"]),
        ('299 kube-apiserver "a" "Fri, 27 Nov 2026 10:00:00 GMT", 299 - "b"', ["a", "b"]),
        ('199 - "not persistent", 299 - "kept"', ["kept"]),
        (r'299 - "a \z b"', ["a z b"]),
    ],
)
def test_http_forms_of_the_header_are_read(value: str, texts: list[str]) -> None:
    assert parse_header_list(value) == texts


@pytest.mark.parametrize(
    "value",
    ['299 - "no closing quote', "299 - unquoted", '"no code"', '299 - "a" junk', "299"],
)
def test_a_malformed_header_is_an_error(value: str) -> None:
    with pytest.raises(WarningHeaderError):
        parse_header_list(value)


@pytest.mark.parametrize("text", ['unknown field "spec.a\nb"', "cr\rhere", "nul\x00", "del\x7f"])
def test_control_characters_cannot_break_the_header(text: str) -> None:
    value = header_value(text)

    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)
    assert parse_header_list(value) == [text.translate({0: "?", 10: "?", 13: "?", 0x7F: "?"})]


def test_the_server_writes_the_shared_format() -> None:
    assert server_warnings.header_list is apiwarnings.header_list
    assert server_warnings.WARNING_HEADER == apiwarnings.WARNING_HEADER == "Warning"


def recorded(*texts: str) -> list[str]:
    recorder = WarningRecorder()
    for text in texts:
        recorder.add(text)
    return recorder.texts


def test_warnings_within_the_total_are_sent_whole_and_once() -> None:
    long = "a" * (ITEM_CHARACTERS + 44)
    assert recorded(long, long, "", "b") == [long, "b"]


def test_past_the_total_every_warning_is_cut_and_the_rest_dropped_as_kube_apiserver_does() -> None:
    # 15 × 270 = 4,050 characters fit; the next warning takes them over 4,096, so all are cut to 256 and
    # warnings are taken, cut, until they reach the total again: 15 × 256 + 50 + 256 = 4,146.
    whole = [f"{index:02d}" + "x" * 268 for index in range(15)]
    assert sum(map(len, whole)) <= TOTAL_CHARACTERS

    texts = recorded(*whole, "e" * 50, "f" * 300, "g", "f" * 300)

    assert texts == [*(text[:ITEM_CHARACTERS] for text in whole), "e" * 50, "f" * ITEM_CHARACTERS]


def test_a_hundred_thousand_warnings_make_a_header_of_a_few_kilobytes() -> None:
    with recording_warnings() as warnings:
        for index in range(100_000):
            add_warning(f'unknown field "spec.field{index:06d}"')

    assert warnings[0] == 'unknown field "spec.field000000"'
    assert TOTAL_CHARACTERS <= sum(map(len, warnings)) < TOTAL_CHARACTERS + ITEM_CHARACTERS
    assert len(header_list(warnings).encode()) < 8 * 1024


@pytest.mark.parametrize(
    ("flag", "directive"),
    [
        ("strict", "Strict"),
        ("true", "Strict"),
        ("True", "Strict"),
        ("warn", "Warn"),
        ("ignore", "Ignore"),
        ("false", "Ignore"),
        ("0", "Ignore"),
    ],
)
def test_validate_flag_names_a_field_validation_directive_as_kubectl_reads_it(
    flag: str, directive: str
) -> None:
    assert field_validation(flag) == directive


@pytest.mark.parametrize("flag", ["Strict", "yes", ""])
def test_an_unknown_validate_value_is_refused(flag: str) -> None:
    with pytest.raises(typer.Exit):
        field_validation(flag)


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ('{"kind": "Pod", "metadata": {"name": "a"}}', []),
        ('{"kind": "Pod", "metadata": {"name": "a", "name": "b"}}', ["metadata.name"]),
        (
            '{"spec": {"containers": [{"name": "a"}, {"image": "x", "image": "y"}]}, "spec": {}}',
            ["spec"],  # the first spec, image and all, is replaced: only its repeat is reported
        ),
        ('{"a": {"b": 1, "b": 2, "b": 3}}', ["a.b", "a.b"]),
    ],
)
def test_duplicate_fields_of_the_body_are_found_where_they_are(body: str, paths: list[str]) -> None:
    data = f'{{"namespace": "default", "body": {body}}}'.encode()

    assert duplicate_fields(data, "body") == paths


def test_each_repeated_path_is_one_problem_and_at_most_a_hundred_are_kept() -> None:
    paths = ["a.b", "a.b", "a.c", *(f"f{index}" for index in range(1000))]

    problems = duplicate_problems(paths)

    assert problems[:3] == ['duplicate field "a.b"', 'duplicate field "a.c"', 'duplicate field "f0"']
    assert len(problems) == MAX_PROBLEMS == 100


def test_duplicate_request_fields_outside_the_body_are_not_the_objects() -> None:
    data = b'{"namespace": "a", "namespace": "b", "body": {"kind": "Pod"}}'

    assert duplicate_fields(data, "body") == []


def test_strict_refuses_duplicate_fields_as_the_strict_decoder_words_it() -> None:
    data = b'{"fieldValidation": "Strict", "body": {"apiVersion": "v1", "kind": "Pod", "kind": "Pod"}}'
    request = ApiRequest.model_validate_json(data)

    with pytest.raises(ApiError) as refused:
        check_duplicate_fields(request, data)

    assert refused.value.code == 400
    assert refused.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: duplicate field "kind"'
    )


@pytest.mark.parametrize(("directive", "heard"), [("", ['duplicate field "a"']), ("Ignore", [])])
def test_warn_warns_of_each_duplicate_field_and_ignore_says_nothing(directive: str, heard: list[str]) -> None:
    data = json.dumps({"fieldValidation": directive, "body": {}}).replace("{}", '{"a": 1, "a": 2}').encode()
    request = ApiRequest.model_validate_json(data)

    with recording_warnings() as warnings:
        check_duplicate_fields(request, data)

    assert warnings == heard


def test_manifests_name_their_source_as_kubectl_does_in_errors(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    (tmp_path / "a.json").write_text('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}')

    sourced = load_sourced_manifests([str(tmp_path)])

    assert [(source, obj["metadata"]["name"]) for source, obj in sourced] == [
        (str(tmp_path / "a.json"), "a"),
        (str(tmp_path / "b.yaml"), "b"),
    ]


def test_a_refused_object_names_its_source_and_keeps_the_servers_reason() -> None:
    error = with_source(ApiError(400, "strict decoding error: x"), "creating", "STDIN")

    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == 'error when creating "STDIN": strict decoding error: x'
