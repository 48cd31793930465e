"""The REST front's decoding of server-side apply requests: body, fieldManager, force, default manager."""

from __future__ import annotations

import pytest

from services.apiserver.rest.params import build_request, decode_patch_body, default_field_manager, read_query
from shared.errors import ApiError

APPLY = "application/apply-patch+yaml"


@pytest.mark.parametrize(
    "body",
    [
        b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}',
        b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
    ],
    ids=["json", "yaml"],
)
def test_an_apply_body_is_read_as_yaml_or_json(body: bytes) -> None:
    assert decode_patch_body(body, APPLY) == (
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
        APPLY,
    )


def test_an_apply_body_that_is_not_yaml_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as raised:
        decode_patch_body(b"a: [", APPLY)
    assert raised.value.code == 400


@pytest.mark.parametrize(
    ("query", "manager", "force"),
    [
        ({"fieldManager": "kubectl", "force": "false"}, "kubectl", False),
        ({"fieldManager": "kubectl", "force": "true"}, "kubectl", True),
        ({}, "", False),
    ],
)
def test_field_manager_and_force_come_from_the_query(
    query: dict[str, str], manager: str, force: bool
) -> None:
    fields, _ = read_query(query, watch=False)
    request = build_request(fields)
    assert (request.field_manager, request.force) == (manager, force)


@pytest.mark.parametrize(
    ("user_agent", "manager"),
    [
        ("kubectl/v1.37.1 (linux/amd64) kubernetes/abcdef", "kubectl"),
        ("OpenAPI-Generator/33.1.0/python", "OpenAPI-Generator"),
        ("", ""),
    ],
)
def test_a_write_naming_no_manager_is_attributed_to_its_client(user_agent: str, manager: str) -> None:
    assert default_field_manager(user_agent) == manager
