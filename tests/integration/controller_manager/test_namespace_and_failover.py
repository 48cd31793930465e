"""Namespace deletion, and the controller manager as real processes: leader election and failover."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import pytest

from services.apiserver.local_cluster import LocalControlPlane
from services.controller_manager.objects import DEPLOYMENTS, LEASES, NAMESPACES, PODS, REPLICASETS
from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.leaderelection import replica_of
from shared.procs import ServiceProcess
from tests.integration.controller_manager.conftest import ManagerFactory, PodDriver, eventually, list_items
from tests.integration.controller_manager.test_deployment import deployment, rollout_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Object = dict[str, Any]


async def test_deleting_a_namespace_deletes_everything_in_it(
    admin: ApiClient, namespace: str, start_manager: ManagerFactory, driver_for: Any
) -> None:
    await start_manager(controllers=("replicaset", "deployment", "garbagecollector", "namespace"))
    await driver_for(namespace)
    await admin.create(deployment("web", namespace, 3))
    await eventually(lambda: rollout_complete(admin, namespace, "web"), what="rollout")
    await admin.delete(NAMESPACES, namespace)

    async def emptied() -> bool:
        for rt in (DEPLOYMENTS, REPLICASETS, PODS):
            if await list_items(admin, rt, namespace):
                return False
        return True

    await eventually(emptied, what="the namespace's contents deleted")

    async def namespace_gone() -> bool:
        with contextlib.suppress(ApiError):
            await admin.get(NAMESPACES, namespace)
            return False
        return True

    await eventually(namespace_gone, what="the namespace removed")


def manager_process(cp: LocalControlPlane, name: str, log_dir: Path) -> ServiceProcess:
    args = [
        "--nats",
        cp.url,
        "--name",
        name,
        "--token-file",
        str(cp.etcd.root / "tokens.csv"),
        "--controllers",
        "replicaset,deployment",
        "--lease-duration",
        "3",
        "--renew-deadline",
        "2",
        "--retry-period",
        "0.5",
    ]
    return ServiceProcess(
        f"cm-{name}", "services.controller_manager", args, log_dir, ready_line="controller-manager ready"
    )


async def test_standby_finishes_a_rollout_after_the_active_manager_is_killed(
    control_plane: LocalControlPlane, admin: ApiClient, namespace: str, driver_for: Any, tmp_path: Path
) -> None:
    first = manager_process(control_plane, "cp-1", tmp_path).start()
    second = None
    try:

        async def first_leads() -> bool:
            with contextlib.suppress(ApiError):
                lease = await admin.get(LEASES, "kube-controller-manager", "kube-system")
                return replica_of(lease["spec"].get("holderIdentity") or "") == "cp-1"
            return False

        await eventually(first_leads, what="cp-1 holds the lease")
        second = manager_process(control_plane, "cp-2", tmp_path).start()
        driver: PodDriver = await driver_for(namespace, ready_delay=0.3)
        await admin.create(deployment("ha", namespace, 6))
        await eventually(lambda: rollout_complete(admin, namespace, "ha"), 30, what="revision 1")
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
        await admin.patch(DEPLOYMENTS, "ha", patch, namespace)

        async def mid_rollout() -> bool:
            pods = await list_items(admin, PODS, namespace, "app=ha")
            return any(p["spec"]["containers"][0]["image"] == "nginx:1.27" for p in pods)

        await eventually(mid_rollout, what="the rollout under way")
        first.kill()
        await eventually(
            lambda: rollout_complete(admin, namespace, "ha", "nginx:1.27"), 40, "cp-2 finished it"
        )
        lease = await admin.get(LEASES, "kube-controller-manager", "kube-system")
        assert replica_of(lease["spec"]["holderIdentity"]) == "cp-2"
        assert "controller-manager ready" in second.output()
        del driver
    finally:
        first.kill()
        if second is not None:
            assert second.terminate() == 0, second.output()[-2000:]


def test_bad_flags_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.controller_manager",
            "--name",
            "cp-1",
            "--token-file",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--token-file" in result.stderr
