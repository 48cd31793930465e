"""Watches through the API server: ordered events from the watch cache, resumable, and observers."""

from __future__ import annotations

import asyncio
import json

import pytest

from shared import subjects
from shared.apiclient import ApiClient
from shared.apiwatch import ApiWatch
from tests.integration.apiserver.conftest import PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def take(watch: ApiWatch, count: int, timeout: float = 10.0) -> list[dict[str, object]]:
    events = []
    async with asyncio.timeout(timeout):
        async for event in watch:
            events.append(event)
            if len(events) == count:
                break
    return events


def summary(events: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]  # type: ignore[index]


async def test_watch_starts_with_existing_objects_then_streams(admin: ApiClient, namespace: str) -> None:
    await admin.create(pod("old", namespace))
    watch = await admin.watch(PODS, namespace)
    assert summary(await take(watch, 1)) == [("ADDED", "old")]
    created = await admin.create(pod("new", namespace))
    await admin.patch(PODS, "new", {"metadata": {"labels": {"v": "2"}}}, namespace)
    await admin.delete(PODS, "new", namespace)
    events = await take(watch, 3)
    assert summary(events) == [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "new")]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]  # type: ignore[index]
    assert versions == sorted(versions) and versions[0] == int(created["metadata"]["resourceVersion"])
    await watch.stop()


async def test_watch_from_a_version_replays_what_came_after(admin: ApiClient, namespace: str) -> None:
    first = await admin.create(pod("a", namespace))
    await admin.create(pod("b", namespace))
    await admin.create(pod("c", namespace))
    watch = await admin.watch(PODS, namespace, resource_version=first["metadata"]["resourceVersion"])
    assert summary(await take(watch, 2)) == [("ADDED", "b"), ("ADDED", "c")]
    await watch.stop()


async def test_field_selector_watch_sees_a_pod_when_it_is_bound_to_the_node(
    admin: ApiClient, namespace: str
) -> None:
    await admin.create(pod("web", namespace))
    watch = await admin.watch(PODS, namespace, resource_version="0", field_selector="spec.nodeName=worker-1")
    await admin.bind("web", "worker-1", namespace)
    events = await take(watch, 1)
    assert summary(events) == [("ADDED", "web")]
    assert events[0]["object"]["spec"]["nodeName"] == "worker-1"  # type: ignore[index]
    await watch.stop()


async def test_every_change_is_published_for_observers(admin: ApiClient, namespace: str) -> None:
    subscription = await admin.nc.subscribe(subjects.watch_events_of("", "v1", "pods"))
    await admin.nc.flush()
    await admin.create(pod("seen", namespace))
    async with asyncio.timeout(5):
        while True:
            message = await subscription.next_msg(timeout=5)
            if message.subject == subjects.watch_event("", "v1", "pods", namespace, "seen"):
                break
    event = json.loads(message.data)
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "seen"
    await subscription.unsubscribe()
