"""The informer against a real control plane: list, watch, store, indexes, resync and re-list convergence."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from shared import bus
from shared.apiclient import ApiClient
from shared.apiwatch import ApiWatch
from shared.informer import Informer, key_of
from tests.integration.apiserver.conftest import NODES, PODS, pod

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Object = dict[str, Any]
Call = tuple[str, str]


class ExpiredWatch:
    """A watch that ends at once with the ERROR 410 a server sends for a version out of its window."""

    def __init__(self) -> None:
        self.sent = False

    def __aiter__(self) -> ExpiredWatch:
        return self

    async def __anext__(self) -> Object:
        if self.sent:
            raise StopAsyncIteration
        self.sent = True
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired"}
        return {"type": "ERROR", "object": status}

    async def stop(self) -> None:
        self.sent = True


class ScriptedClient(ApiClient):
    """An admin client whose lists can be held at a gate and whose watches the test can reach."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_gate = asyncio.Event()
        self.list_gate.set()
        self.watches: list[ApiWatch] = []
        self.expire_next_watch = False

    async def list(self, *args: Any, **kwargs: Any) -> Object:
        await self.list_gate.wait()
        return await super().list(*args, **kwargs)

    async def watch(self, *args: Any, **kwargs: Any) -> ApiWatch:
        if self.expire_next_watch:
            self.expire_next_watch = False
            return ExpiredWatch()  # type: ignore[return-value]
        watch = await super().watch(*args, **kwargs)
        self.watches.append(watch)
        return watch


class Recorder:
    """Handlers that record ``(what, key)`` for each call, plus the objects an update carried."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: list[tuple[Object, Object]] = []

    def attach(self, informer: Informer) -> None:
        informer.add_handler(on_add=self.on_add, on_update=self.on_update, on_delete=self.on_delete)

    def on_add(self, obj: Object) -> None:
        self.calls.append(("add", key_of(obj)))

    def on_update(self, old: Object, new: Object) -> None:
        self.calls.append(("update", key_of(new)))
        self.updates.append((old, new))

    async def on_delete(self, obj: Object) -> None:  # async on purpose: both kinds of handler work
        self.calls.append(("delete", key_of(obj)))


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=1) as started:
        yield started


@pytest.fixture
async def client(control_plane: LocalControlPlane) -> AsyncIterator[ScriptedClient]:
    nc = await bus.connect(control_plane.url, name="informer-test")
    yield ScriptedClient(nc, control_plane.tokens["admin"], retry_for=5)
    await nc.close()


@pytest.fixture
async def namespace(client: ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
async def informers() -> AsyncIterator[list[Informer]]:
    """Informers a test started; stopped after it even when it fails."""
    started: list[Informer] = []
    yield started
    for informer in started:
        await informer.stop()


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def synced(informer: Informer, recorder: Recorder, started: list[Informer]) -> Informer:
    recorder.attach(informer)
    await informer.start()
    started.append(informer)
    assert await informer.wait_for_sync(10)
    return informer


async def delete_now(client: ApiClient, name: str, namespace: str) -> None:
    await client.delete(PODS, name, namespace, grace_period_seconds=0)


async def test_initial_list_delivers_added_for_each_existing_object_across_pages_and_sets_synced(
    client: ScriptedClient, namespace: str, informers: list[Informer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.informer.PAGE_SIZE", 1)  # three objects, three pages
    for name in ("a", "b", "c"):
        await client.create(pod(name, namespace))
    informer = Informer(client, PODS, namespace)
    assert not informer.has_synced
    recorder = Recorder()
    await synced(informer, recorder, informers)
    keys = [f"{namespace}/{name}" for name in ("a", "b", "c")]
    assert informer.has_synced
    assert recorder.calls == [("add", key) for key in keys]
    assert sorted(informer.keys()) == keys
    assert [key_of(obj) for obj in informer.by_index("namespace", namespace)] == keys
    got = informer.get(namespace, "b")
    assert got is not None and got["metadata"]["name"] == "b"


async def test_changes_after_start_reach_handlers_and_store_in_order(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    recorder = Recorder()
    informer = await synced(Informer(client, PODS, namespace), recorder, informers)
    assert recorder.calls == []
    created = await client.create(pod("web", namespace))
    await eventually(lambda: informer.get(namespace, "web") is not None)
    patched = await client.patch(PODS, "web", {"metadata": {"labels": {"v": "2"}}}, namespace)
    await eventually(lambda: len(recorder.calls) == 2)
    stored = informer.get(namespace, "web")
    assert stored is not None and stored["metadata"]["labels"]["v"] == "2"
    old, new = recorder.updates[0]
    assert old["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert new["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    await delete_now(client, "web", namespace)
    await eventually(lambda: len(recorder.calls) == 3)
    key = f"{namespace}/web"
    assert recorder.calls == [("add", key), ("update", key), ("delete", key)]
    assert informer.get(namespace, "web") is None and informer.keys() == []
    assert informer.by_index("namespace", namespace) == []
    assert int(informer.resource_version) > int(patched["metadata"]["resourceVersion"])  # the delete's


async def test_label_selector_informer_sees_only_matching_objects(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    await client.create(pod("web-1", namespace))
    db = pod("db-1", namespace)
    db["metadata"]["labels"] = {"app": "db"}  # type: ignore[index]
    await client.create(db)
    recorder = Recorder()
    informer = await synced(Informer(client, PODS, namespace, label_selector="app=web"), recorder, informers)
    assert informer.keys() == [f"{namespace}/web-1"]
    await client.create(pod("web-2", namespace))
    db2 = pod("db-2", namespace)
    db2["metadata"]["labels"] = {"app": "db"}  # type: ignore[index]
    await client.create(db2)
    # Relabelled out of the selection: the informer sees it leave as a delete.
    await client.patch(PODS, "web-1", {"metadata": {"labels": {"app": "db"}}}, namespace)
    await eventually(lambda: len(recorder.calls) == 3)
    assert recorder.calls == [
        ("add", f"{namespace}/web-1"),
        ("add", f"{namespace}/web-2"),
        ("delete", f"{namespace}/web-1"),
    ]
    assert informer.keys() == [f"{namespace}/web-2"]


async def test_custom_index_finds_pods_by_node_after_a_bind(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    await client.create(pod("a", namespace))
    await client.create(pod("b", namespace))
    informer = Informer(client, PODS, namespace)
    informer.add_index("node", lambda obj: [obj.get("spec", {}).get("nodeName") or ""])
    await synced(informer, Recorder(), informers)
    assert [key_of(p) for p in informer.by_index("node", "")] == [f"{namespace}/a", f"{namespace}/b"]
    await client.bind("a", "worker-1", namespace)
    await eventually(lambda: len(informer.by_index("node", "worker-1")) == 1)
    assert key_of(informer.by_index("node", "worker-1")[0]) == f"{namespace}/a"
    assert [key_of(p) for p in informer.by_index("node", "")] == [f"{namespace}/b"]
    assert informer.by_index("node", "worker-2") == []


async def test_cluster_scoped_objects_are_keyed_by_name(
    client: ScriptedClient, informers: list[Informer]
) -> None:
    name = f"node-{uuid.uuid4().hex[:8]}"
    recorder = Recorder()
    informer = await synced(Informer(client, NODES), recorder, informers)
    await client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    await eventually(lambda: ("add", name) in recorder.calls)
    assert informer.get("", name) is informer.get_by_key(name) is not None


async def test_resync_hands_every_object_to_on_update_unchanged(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    await client.create(pod("a", namespace))
    await client.create(pod("b", namespace))
    recorder = Recorder()
    await synced(Informer(client, PODS, namespace, resync_period=0.2), recorder, informers)
    keys = {f"{namespace}/a", f"{namespace}/b"}
    await eventually(lambda: {key for what, key in recorder.calls if what == "update"} == keys)
    assert all(old is new for old, new in recorder.updates)


async def test_relist_after_the_watch_ends_delivers_only_the_differences(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    for name in ("a", "b", "c"):
        await client.create(pod(name, namespace))
    recorder = Recorder()
    informer = await synced(Informer(client, PODS, namespace), recorder, informers)
    recorder.calls.clear()
    await eventually(lambda: len(client.watches) == 1)
    # The watch ends and the re-list is held back, so these changes reach the informer only through it.
    client.list_gate.clear()
    await client.watches[-1].stop()
    await client.patch(PODS, "b", {"metadata": {"labels": {"v": "2"}}}, namespace)
    await delete_now(client, "c", namespace)
    await client.create(pod("d", namespace))
    await asyncio.sleep(0.3)
    assert recorder.calls == [] and informer.lists == 1
    client.list_gate.set()
    await eventually(lambda: informer.lists == 2)
    key = f"{namespace}/{{}}".format
    assert recorder.calls == [("delete", key("c")), ("update", key("b")), ("add", key("d"))]
    assert sorted(informer.keys()) == [key("a"), key("b"), key("d")]
    # And it watches again from the re-list's version.
    await client.create(pod("e", namespace))
    await eventually(lambda: len(recorder.calls) == 4)
    assert recorder.calls[-1] == ("add", key("e"))
    assert len(client.watches) == 2


async def test_error_410_on_the_watch_makes_the_informer_relist_without_repeating_adds(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    await client.create(pod("a", namespace))
    client.expire_next_watch = True
    recorder = Recorder()
    informer = await synced(Informer(client, PODS, namespace), recorder, informers)
    await eventually(lambda: informer.lists == 2 and len(client.watches) == 1)
    await client.create(pod("b", namespace))
    await eventually(lambda: len(recorder.calls) == 2)
    assert recorder.calls == [("add", f"{namespace}/a"), ("add", f"{namespace}/b")]


async def test_a_failing_handler_does_not_stop_the_others_or_the_cache(
    client: ScriptedClient, namespace: str, informers: list[Informer]
) -> None:
    informer = Informer(client, PODS, namespace)

    def broken(obj: Object) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(on_add=broken)
    recorder = Recorder()
    await synced(informer, recorder, informers)
    await client.create(pod("a", namespace))
    await client.create(pod("b", namespace))
    await eventually(lambda: len(recorder.calls) == 2)
    assert len(informer.keys()) == 2


async def test_stop_leaves_no_task_or_watch_behind(client: ScriptedClient, namespace: str) -> None:
    informer = Informer(client, PODS, namespace, resync_period=0.1)
    await informer.start()
    assert await informer.wait_for_sync(10)
    await eventually(lambda: len(client.watches) == 1)
    await informer.stop()
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert not any(name.startswith("informer-") for name in names)
    assert client.watches[0]._subscription is None  # the watch was stopped, so its inbox unsubscribed
