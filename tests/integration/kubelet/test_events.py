"""The kubelet's Events on a real control plane: what ``kubectl describe pod`` lists under Events."""

from __future__ import annotations

from typing import Any

import pytest

from services.runtime.catalogue import CATALOGUE
from shared.apiclient import ApiClient, resource
from tests.integration.kubelet.conftest import NODES, PODS, StartKubelet, eventually, make_pod

EVENTS = resource("", "v1", "events")
Object = dict[str, Any]


@pytest.fixture(scope="module")
def node_names() -> tuple[str, ...]:
    """Two nodes more than the package's: the node-event tests need nodes no other test started."""
    return tuple(f"worker-{n}" for n in range(1, 9))


async def _events(admin: ApiClient, namespace: str, kind: str, name: str) -> list[Object]:
    """The kubelet's events about one object, in the order they were recorded."""
    items = (await admin.list(EVENTS, namespace))["items"]
    mine = [
        e
        for e in items
        if e["involvedObject"].get("kind") == kind
        and e["involvedObject"].get("name") == name
        and e["source"].get("component") == "kubelet"
    ]
    return sorted(mine, key=lambda e: str(e["metadata"]["name"]))


def _reasons(events: list[Object]) -> list[str]:
    return [str(e["reason"]) for e in events]


async def test_a_pod_reaching_running_gets_pulling_pulled_created_started_in_order(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-1")
    await admin.create(make_pod("web", namespace))
    await admin.bind("web", "worker-1", namespace)
    uid = (await admin.get(PODS, "web", namespace))["metadata"]["uid"]

    async def started() -> list[Object]:
        events = await _events(admin, namespace, "Pod", "web")
        return events if "Started" in _reasons(events) else []

    events = await eventually(started, what="a Started event")
    assert _reasons(events) == ["Pulling", "Pulled", "Created", "Started"]
    pulling, pulled, created, start = events
    assert pulling["message"] == 'Pulling image "nginx:1.27"'
    assert pulled["message"].startswith('Successfully pulled image "nginx:1.27" in ')
    size = CATALOGUE["nginx"].size  # as the runtime's pull reply gave it
    assert pulled["message"].endswith(f" including waiting). Image size: {size} bytes.")
    assert (created["message"], start["message"]) == ("Container created", "Container started")
    for event in events:
        assert event["type"] == "Normal" and event["count"] == 1
        assert event["involvedObject"]["uid"] == uid
        assert event["involvedObject"]["fieldPath"] == "spec.containers{app}"
        assert event["source"] == {"component": "kubelet", "host": "worker-1"}
        assert event["reportingInstance"] == "worker-1"


async def test_a_second_pod_of_the_same_image_finds_it_already_present(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-2")
    for name in ("first", "second"):
        await admin.create(make_pod(name, namespace))
        await admin.bind(name, "worker-2", namespace)

        async def started(pod: str = name) -> list[Object]:
            events = await _events(admin, namespace, "Pod", pod)
            return events if "Started" in _reasons(events) else []

        events = await eventually(started, what=f"{name} Started")
    assert _reasons(events) == ["Pulled", "Created", "Started"]
    assert events[0]["message"] == (
        'Container image "nginx:1.27" already present on machine and can be accessed by the pod'
    )


async def test_a_crash_looping_pod_gets_one_back_off_event_whose_count_grows(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-3", backoff_scale=0.1)
    crashing = make_pod("crash", namespace, annotations={"sim.kubenats.io/crash-after": "100ms"})
    await admin.create(crashing)
    await admin.bind("crash", "worker-3", namespace)
    uid = (await admin.get(PODS, "crash", namespace))["metadata"]["uid"]

    async def backed_off_twice() -> list[Object]:
        events = [e for e in await _events(admin, namespace, "Pod", "crash") if e["reason"] == "BackOff"]
        return events if events and events[0]["count"] >= 2 else []

    (backoff,) = await eventually(backed_off_twice, timeout=30, what="BackOff with count 2")
    assert backoff["type"] == "Warning"
    assert backoff["message"] == f"Back-off restarting failed container app in pod crash_{namespace}({uid})"
    assert backoff["lastTimestamp"] >= backoff["firstTimestamp"]
    started = [e for e in await _events(admin, namespace, "Pod", "crash") if e["reason"] == "Started"]
    assert len(started) == 1 and started[0]["count"] >= 3  # every restart folds into the one event


async def test_a_failing_liveness_probe_gives_unhealthy_then_killing(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-4", backoff_scale=0.1)
    probe = {
        "exec": {"command": ["true"]},
        "initialDelaySeconds": 1,
        "periodSeconds": 1,
        "failureThreshold": 3,
    }
    sick = make_pod(
        "sick",
        namespace,
        annotations={"sim.kubenats.io/liveness-fail-after": "1s", "sim.kubenats.io/startup": "100ms"},
        terminationGracePeriodSeconds=1,
        container={"livenessProbe": probe},
    )
    await admin.create(sick)
    await admin.bind("sick", "worker-4", namespace)

    async def killed() -> list[Object]:
        events = await _events(admin, namespace, "Pod", "sick")
        return events if "Killing" in _reasons(events) else []

    events = await eventually(killed, timeout=20, what="a Killing event")
    unhealthy = next(e for e in events if e["reason"] == "Unhealthy")
    killing = next(e for e in events if e["reason"] == "Killing")
    assert events.index(unhealthy) < events.index(killing)
    assert unhealthy["type"] == "Warning"
    assert unhealthy["message"] == "Liveness probe failed: liveness check failing (liveness-fail-after)"
    assert unhealthy["count"] >= 3  # failureThreshold failures in a row, folded into one event
    assert killing["message"] == "Container app failed liveness probe, will be restarted"


async def test_a_readiness_probe_that_keeps_failing_grows_one_unhealthy_event(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-4")
    probe = {"exec": {"command": ["true"]}, "initialDelaySeconds": 1, "periodSeconds": 1}
    slow = make_pod(
        "slow",
        namespace,
        annotations={"sim.kubenats.io/ready-delay": "1h"},
        container={"readinessProbe": probe},
    )
    await admin.create(slow)
    await admin.bind("slow", "worker-4", namespace)

    async def failed_three_times() -> list[Object]:
        events = [e for e in await _events(admin, namespace, "Pod", "slow") if e["reason"] == "Unhealthy"]
        return events if events and events[0]["count"] >= 3 else []

    (event,) = await eventually(failed_three_times, what="Unhealthy with count 3")
    assert event["message"] == "Readiness probe failed: not ready yet (ready-delay)"
    assert event["type"] == "Warning"
    assert "Killing" not in _reasons(await _events(admin, namespace, "Pod", "slow"))


async def test_a_rejected_pod_gets_the_admission_reason_as_a_warning(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-5", cpu="1")
    big = make_pod("big", namespace, container={"resources": {"requests": {"cpu": "2"}}})
    await admin.create(big)
    await admin.bind("big", "worker-5", namespace)

    (event,) = await eventually(lambda: _events(admin, namespace, "Pod", "big"), what="an OutOfcpu event")
    assert (event["type"], event["reason"]) == ("Warning", "OutOfcpu")
    assert event["message"] == (
        "Node didn't have enough resource: cpu, requested: 2000, used: 0, capacity: 1000"
    )
    assert "fieldPath" not in event["involvedObject"]


async def test_deleting_a_pod_gives_killing_stopping_container(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-6")
    await admin.create(make_pod("gone", namespace, terminationGracePeriodSeconds=1))
    await admin.bind("gone", "worker-6", namespace)

    async def started() -> bool:
        return "Started" in _reasons(await _events(admin, namespace, "Pod", "gone"))

    await eventually(started, what="gone Started")
    await admin.delete(PODS, "gone", namespace)

    async def killing() -> list[Object]:
        return [e for e in await _events(admin, namespace, "Pod", "gone") if e["reason"] == "Killing"]

    (event,) = await eventually(killing, what="a Killing event")
    assert event["message"] == "Stopping container app"


async def test_a_starting_node_records_starting_and_node_ready_about_itself(
    admin: ApiClient, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-7")
    uid_is_name = (await admin.get(NODES, "worker-7"))["metadata"]["name"]

    async def node_events() -> list[Object]:
        events = await _events(admin, "default", "Node", "worker-7")
        return events if "NodeReady" in _reasons(events) else []

    events = await eventually(node_events, what="NodeReady")
    assert _reasons(events)[:2] == ["Starting", "NodeReady"]
    assert events[0]["message"] == "Starting kubelet."
    assert events[1]["message"] == "Node worker-7 status is now: NodeReady"
    assert events[1]["involvedObject"]["uid"] == uid_is_name


async def test_hollow_style_kubelets_record_no_node_events(
    admin: ApiClient, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet("worker-8", node_events=False)
    await admin.create(make_pod("quiet", "default"))
    await admin.bind("quiet", "worker-8", "default")

    async def started() -> bool:
        return "Started" in _reasons(await _events(admin, "default", "Pod", "quiet"))

    await eventually(started, what="quiet Started")  # pod events still flow
    await kubelet.events.flush()
    assert await _events(admin, "default", "Node", "worker-8") == []
