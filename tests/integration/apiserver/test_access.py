"""Who may do what through the API server, and what bad input gets: Status errors, nothing stored."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nats.aio.client import Client

from shared import bus, subjects
from shared.apiclient import ApiClient
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from tests.integration.apiserver.conftest import NODES, PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Clients = Callable[[str], ApiClient]


async def test_request_without_a_valid_token_is_401(client_for: Clients, namespace: str) -> None:
    for identity in ("no-such-identity",):
        with pytest.raises(ApiError) as caught:
            await client_for(identity).list(PODS, namespace)
        assert (caught.value.code, caught.value.reason) == (401, "Unauthorized")
    nc: Client = client_for("admin").nc
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, subjects.api("", "v1", "pods", "list"), {"namespace": namespace})
    assert caught.value.code == 401


async def test_viewer_reads_but_cannot_write(client_for: Clients, admin: ApiClient, namespace: str) -> None:
    await admin.create(pod("web", namespace))
    viewer = client_for("viewer")
    assert [p["metadata"]["name"] for p in (await viewer.list(PODS, namespace))["items"]] == ["web"]
    with pytest.raises(ApiError) as caught:
        await viewer.delete(PODS, "web", namespace)
    assert caught.value.code == 403
    assert caught.value.message == (
        f'pods "web" is forbidden: User "viewer" cannot delete resource "pods" in API group "" '
        f'in the namespace "{namespace}"'
    )


async def test_user_without_a_role_can_do_nothing(client_for: Clients) -> None:
    with pytest.raises(ApiError) as caught:
        await client_for("nobody").list(NODES)
    assert caught.value.code == 403
    assert caught.value.message.endswith('cannot list resource "nodes" in API group "" at the cluster scope')


async def test_node_updates_status_only_of_pods_bound_to_it(
    client_for: Clients, admin: ApiClient, namespace: str
) -> None:
    await admin.create(pod("mine", namespace))
    await admin.create(pod("theirs", namespace))
    scheduler = client_for("scheduler")
    await scheduler.bind("mine", "worker-1", namespace)
    await scheduler.bind("theirs", "worker-2", namespace)
    kubelet = client_for("node:worker-1")
    mine = await kubelet.get(PODS, "mine", namespace)
    running = await kubelet.update_status({**mine, "status": {**mine["status"], "phase": "Running"}})
    assert running["status"]["phase"] == "Running"
    theirs = await kubelet.get(PODS, "theirs", namespace)
    with pytest.raises(ApiError) as caught:
        await kubelet.update_status({**theirs, "status": {**theirs["status"], "phase": "Running"}})
    assert caught.value.code == 403
    with pytest.raises(ApiError) as caught:
        await kubelet.create(pod("rogue", namespace))
    assert caught.value.code == 403


async def test_scheduler_may_bind_but_not_delete(
    client_for: Clients, admin: ApiClient, namespace: str
) -> None:
    await admin.create(pod("web", namespace))
    scheduler = client_for("scheduler")
    await scheduler.bind("web", "worker-1", namespace)
    with pytest.raises(ApiError) as caught:
        await scheduler.delete(PODS, "web", namespace)
    assert caught.value.code == 403


BAD_BODIES = [
    pytest.param(b'{"namespace": "x", "body": ', 400, "malformed JSON", id="malformed-json"),
    pytest.param(b'{"namespace": "x", "colour": "red"}', 400, "colour", id="unknown-field"),
    pytest.param(b'{"limit": -1}', 400, "limit", id="negative-limit"),
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_BODIES)
async def test_malformed_request_gets_a_status_error(
    admin: ApiClient, body: bytes, code: int, message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(admin.nc, subjects.api("", "v1", "pods", "list"), body, headers=admin.headers)
    assert caught.value.code == code and message in caught.value.message


async def test_wrong_kind_for_the_subject_is_refused(admin: ApiClient, namespace: str) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    with pytest.raises(ApiError) as caught:
        await admin.call(PODS, "create", ApiRequest(namespace=namespace, body=node))
    assert caught.value.code == 400 and "does not match the expected kind (Pod)" in caught.value.message
    assert (await admin.list(PODS, namespace))["items"] == []


async def test_invalid_name_is_refused(admin: ApiClient, namespace: str) -> None:
    with pytest.raises(ApiError) as caught:
        await admin.create(pod("Not_A_Name", namespace))
    assert caught.value.code == 422 and "metadata.name" in caught.value.message


async def test_oversized_object_is_refused_before_parsing(admin: ApiClient, namespace: str) -> None:
    huge = pod("huge", namespace)
    huge["metadata"]["annotations"] = {"blob": "x" * (4 << 20)}
    with pytest.raises(ApiError) as caught:
        await admin.create(huge)
    assert caught.value.code == 413
    assert (await admin.list(PODS, namespace))["items"] == []


async def test_unsupported_resource_is_404_naming_it(admin: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(
            admin.nc, subjects.api("apps", "v1", "statefulsets", "create"), {}, headers=admin.headers
        )
    assert caught.value.code == 404 and '"statefulsets"' in caught.value.message
