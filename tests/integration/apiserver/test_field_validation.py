"""Unknown fields over the NATS front: the request's ``fieldValidation`` decides, as over HTTPS.

Warnings come back as the reply header ``Warning`` (HTTP's comma-separated list of ``299 - "<text>"``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.msg import Msg

from shared import bus, subjects
from shared.apiclient import ApiClient
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
    body["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
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
