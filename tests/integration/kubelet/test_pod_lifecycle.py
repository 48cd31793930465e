"""Pods on a kubelet with an in-process runtime, against a real control plane: start, status, restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.apiclient import ApiClient
from tests.integration.kubelet.conftest import PODS, StartKubelet, eventually, make_pod, within

Object = dict[str, Any]


async def _pod(admin: ApiClient, namespace: str, name: str) -> Object:
    return await admin.get(PODS, name, namespace)


def _conditions(pod: Object) -> dict[str, str]:
    return {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}


async def test_bound_pod_reaches_running_with_ip_and_conditions(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-1")
    created = datetime.now(UTC)
    await admin.create(make_pod("web", namespace))
    await admin.bind("web", "worker-1", namespace)

    async def running() -> Object | None:
        pod = await _pod(admin, namespace, "web")
        ready = _conditions(pod).get("Ready") == "True"
        return pod if pod["status"].get("phase") == "Running" and ready else None

    pod = await eventually(running, what="web Running and Ready")
    status = pod["status"]
    assert status["podIP"].startswith("10.244.1.")
    assert status["hostIP"] == "172.18.0.2"
    assert _conditions(pod) == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    (container,) = status["containerStatuses"]
    assert container["ready"] is True and container["started"] is True
    assert container["restartCount"] == 0
    assert within(container["state"]["running"]["startedAt"], created, datetime.now(UTC))
    assert container["containerID"].startswith("sim://")
    assert container["imageID"]
    assert status["startTime"]


def _container(pod: Object) -> Object:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return statuses[0]


async def test_pod_over_allocatable_fails_with_out_of_cpu(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-2", cpu="1")
    big = make_pod("big", namespace, container={"resources": {"requests": {"cpu": "2"}}})
    await admin.create(big)
    await admin.bind("big", "worker-2", namespace)

    async def failed() -> Object | None:
        pod = await _pod(admin, namespace, "big")
        return pod if pod["status"].get("phase") == "Failed" else None

    status = (await eventually(failed, what="big Failed"))["status"]
    assert status["reason"] == "OutOfcpu"
    assert status["message"] == (
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: 0, capacity: 1000"
    )
    assert "podIP" not in status


async def test_crash_looping_pod_restarts_with_growing_back_off(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-3", backoff_scale=0.1)
    crashing = make_pod("crash", namespace, annotations={"sim.kubenats.io/crash-after": "100ms"})
    await admin.create(crashing)
    await admin.bind("crash", "worker-3", namespace)
    messages: list[str] = []

    async def restarted_four_times() -> bool:
        container = _container(await _pod(admin, namespace, "crash"))
        waiting = container.get("state", {}).get("waiting", {})
        if waiting.get("reason") == "CrashLoopBackOff" and waiting.get("message") not in messages:
            messages.append(waiting["message"])
        return container.get("restartCount", 0) >= 4

    await eventually(restarted_four_times, timeout=40, interval=0.1, what="four restarts")
    pod = await _pod(admin, namespace, "crash")
    assert pod["status"]["phase"] == "Running"
    assert _container(pod)["lastState"]["terminated"]["exitCode"] == 1
    # 10 s, 20 s, 40 s scaled by 0.1; polling may miss one of the waits, never their order.
    delays = [float(m.split()[1].removesuffix("s")) for m in messages]
    assert len(delays) >= 2 and delays == sorted(delays) and set(delays) <= {1.0, 2.0, 4.0}, messages


async def test_oom_killed_container_shows_as_such(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-3")
    hog = make_pod(
        "hog",
        namespace,
        annotations={"sim.kubenats.io/memory-growth": "200Mi/s"},
        restartPolicy="Never",
        container={"resources": {"limits": {"memory": "64Mi"}}},
    )
    await admin.create(hog)
    await admin.bind("hog", "worker-3", namespace)

    async def failed() -> Object | None:
        pod = await _pod(admin, namespace, "hog")
        return pod if pod["status"].get("phase") == "Failed" else None

    terminated = _container(await eventually(failed, what="hog Failed"))["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled"
    assert terminated["exitCode"] == 137


async def test_never_policy_pod_ends_failed_with_its_exit_code(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-3")
    job = make_pod(
        "once",
        namespace,
        annotations={"sim.kubenats.io/exit-after": "200ms", "sim.kubenats.io/exit-code": "3"},
        restartPolicy="Never",
    )
    await admin.create(job)
    await admin.bind("once", "worker-3", namespace)

    async def failed() -> Object | None:
        pod = await _pod(admin, namespace, "once")
        return pod if pod["status"].get("phase") == "Failed" else None

    pod = await eventually(failed, what="once Failed")
    container = _container(pod)
    assert container["state"]["terminated"]["exitCode"] == 3
    assert container["state"]["terminated"]["reason"] == "Error"
    assert container["restartCount"] == 0
    assert {c["type"]: c.get("reason") for c in pod["status"]["conditions"]}["Ready"] == "PodCompleted"


async def test_failing_liveness_probe_restarts_the_container(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-4", backoff_scale=0.1)
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 2}
    sick = make_pod(
        "sick",
        namespace,
        annotations={"sim.kubenats.io/liveness-fail-after": "1s", "sim.kubenats.io/startup": "100ms"},
        terminationGracePeriodSeconds=1,
        container={"livenessProbe": probe},
    )
    await admin.create(sick)
    await admin.bind("sick", "worker-4", namespace)

    async def restarted() -> bool:
        return bool(_container(await _pod(admin, namespace, "sick")).get("restartCount", 0) >= 1)

    await eventually(restarted, timeout=20, what="a liveness restart")


async def test_succeeding_pod_ends_succeeded(
    admin: ApiClient, namespace: str, start_kubelet: StartKubelet
) -> None:
    await start_kubelet("worker-4")
    job = make_pod(
        "done", namespace, annotations={"sim.kubenats.io/exit-after": "100ms"}, restartPolicy="OnFailure"
    )
    await admin.create(job)
    await admin.bind("done", "worker-4", namespace)

    async def succeeded() -> Object | None:
        pod = await _pod(admin, namespace, "done")
        return pod if pod["status"].get("phase") == "Succeeded" else None

    pod = await eventually(succeeded, what="done Succeeded")
    assert _container(pod)["state"]["terminated"]["reason"] == "Completed"
