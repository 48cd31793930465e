"""Unknown fields over the NATS front: the request's ``fieldValidation`` decides, as over HTTPS.

Warnings come back as the reply header ``Warning`` (HTTP's comma-separated list of ``299 - "<text>"``).
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from nats.aio.msg import Msg

from services.apiserver.warnings import ITEM_CHARACTERS, TOTAL_CHARACTERS
from shared import bus, subjects
from shared.apiclient import ApiClient
from shared.apiwarnings import parse_header_list
from shared.errors import ApiError
from tests.integration.apiserver.conftest import PODS, pod

pytestmark = pytest.mark.integration

CREATE_PODS = subjects.api("", "v1", "pods", "create")
PATCH_PODS = subjects.api("", "v1", "pods", "patch")


async def request(admin: ApiClient, subject: str, body: dict[str, Any]) -> Msg:
    """The raw reply, headers and all; an error reply raises its ApiError."""
    msg = await admin.nc.request(subject, json.dumps(body).encode(), timeout=10, headers=admin.headers)
    bus.raise_for_error(msg)
    return msg


async def absent(admin: ApiClient, name: str, namespace: str) -> bool:
    with pytest.raises(ApiError) as caught:
        await admin.get(PODS, name, namespace)
    return caught.value.code == 404


async def test_strict_refuses_an_unknown_field_and_stores_nothing(admin: ApiClient, namespace: str) -> None:
    body = pod("typo", namespace, foo=1)
    with pytest.raises(ApiError) as caught:
        await request(admin, CREATE_PODS, {"body": body, "fieldValidation": "Strict"})
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo"'
    )
    assert await absent(admin, "typo", namespace)


async def test_by_default_an_unknown_field_is_dropped_with_a_warning_header(
    admin: ApiClient, namespace: str
) -> None:
    body = pod("warned", namespace, foo=1)
    cast(dict[str, Any], body["spec"])["containers"][0]["imagePullPolicyy"] = "Always"
    msg = await request(admin, CREATE_PODS, {"body": body})
    assert (msg.headers or {}).get("Warning") == (
        r'299 - "unknown field \"spec.containers[0].imagePullPolicyy\"", 299 - "unknown field \"spec.foo\""'
    )
    stored = await admin.get(PODS, "warned", namespace)
    assert "foo" not in stored["spec"] and "imagePullPolicyy" not in stored["spec"]["containers"][0]


async def test_ignore_drops_an_unknown_field_silently(admin: ApiClient, namespace: str) -> None:
    msg = await request(
        admin, CREATE_PODS, {"body": pod("quiet", namespace, foo=1), "fieldValidation": "Ignore"}
    )
    assert "Warning" not in (msg.headers or {})
    assert "foo" not in (await admin.get(PODS, "quiet", namespace))["spec"]


async def test_a_strict_merge_patch_with_an_unknown_field_changes_nothing(
    admin: ApiClient, namespace: str
) -> None:
    created = await admin.create(pod("patched", namespace))
    patch = {"metadata": {"labels": {"tier": "web"}}, "spec": {"foo": 1}}
    with pytest.raises(ApiError) as caught:
        await request(
            admin,
            PATCH_PODS,
            {"namespace": namespace, "name": "patched", "patch": patch, "fieldValidation": "Strict"},
        )
    assert caught.value.message == 'strict decoding error: unknown field "spec.foo"'
    assert await admin.get(PODS, "patched", namespace) == created


async def test_an_apply_with_an_unknown_field_fails_whatever_the_directive(
    admin: ApiClient, namespace: str
) -> None:
    applied = pod("applied", namespace, foo=1)
    with pytest.raises(ApiError) as caught:
        await request(
            admin,
            PATCH_PODS,
            {
                "namespace": namespace,
                "name": "applied",
                "patch": applied,
                "patchType": "application/apply-patch+yaml",
                "fieldManager": "test",
                "fieldValidation": "Ignore",
            },
        )
    assert caught.value.code == 500
    assert caught.value.message == (
        f"failed to create typed patch object ({namespace}/applied; /v1, Kind=Pod): "
        ".spec.foo: field not declared in schema"
    )
    assert await absent(admin, "applied", namespace)


async def test_an_unauthenticated_write_with_a_duplicate_field_is_401_not_400(
    admin: ApiClient, namespace: str
) -> None:
    body = json.dumps({"body": pod("twice", namespace), "fieldValidation": "Strict"})
    data = body.replace('"name": "twice"', '"name": "twice", "name": "twice"').encode()
    msg = await admin.nc.request(CREATE_PODS, data, timeout=10)  # no Authorization header
    with pytest.raises(ApiError) as caught:
        bus.raise_for_error(msg)
    assert (caught.value.code, caught.value.reason) == (401, "Unauthorized")
    assert await absent(admin, "twice", namespace)


async def test_a_body_repeating_many_fields_gets_a_bounded_warning_header(
    admin: ApiClient, namespace: str
) -> None:
    # 50,000 repeated fields (about 1.1 MB) under a 250-character field: one warning each would make a
    # header of about 15 MB, more than NATS carries. kube-apiserver keeps 100 strict decoding errors, and
    # cuts warnings past 4 KiB of text to 256 characters each until they reach it again.
    long = "x" * 250
    repeats = ",".join(f'"k{index:05d}": 1, "k{index:05d}": 2' for index in range(50_000))
    body = pod("many", namespace, **{long: "REPEATS"})
    request_data = json.dumps({"body": body, "fieldValidation": "Warn", "dryRun": ["All"]})
    data = request_data.replace('"REPEATS"', "{" + repeats + "}").encode()
    msg = await admin.nc.request(CREATE_PODS, data, timeout=10, headers=admin.headers)
    bus.raise_for_error(msg)
    assert json.loads(msg.data)["metadata"]["name"] == "many"
    texts = parse_header_list((msg.headers or {})["Warning"])
    assert texts[0] == f'duplicate field "spec.{long}.k00000"'[:ITEM_CHARACTERS]
    assert all(len(text) == ITEM_CHARACTERS for text in texts)
    assert TOTAL_CHARACTERS <= sum(map(len, texts)) < TOTAL_CHARACTERS + ITEM_CHARACTERS
