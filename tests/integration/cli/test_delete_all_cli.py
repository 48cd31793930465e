"""``kubenats delete TYPE --all`` against a real control plane: one collection delete, kubectl's lines."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import yaml

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient, resource
from tests.integration.cli.conftest import Cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PODS = resource("", "v1", "pods")


def _apply(kubenats: Cli, *objects: Any) -> None:
    done = kubenats("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))
    assert done.exit_code == 0, done.output


def _pod(name: str, namespace: str, app: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def _pod_names(cp: LocalControlPlane, namespace: str) -> list[str]:
    async def names() -> list[str]:
        client = await ApiClient.connect(cp.url, cp.tokens["admin"])
        try:
            return sorted(p["metadata"]["name"] for p in (await client.list(PODS, namespace))["items"])
        finally:
            await client.close()

    return asyncio.run(names())


def test_delete_all_pods_of_a_namespace_leaves_other_namespaces_alone(
    kubenats: Cli, control_plane: LocalControlPlane
) -> None:
    ns, other = f"cli-{uuid.uuid4().hex[:6]}", f"cli-{uuid.uuid4().hex[:6]}"
    for name in (ns, other):
        _apply(kubenats, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    _apply(kubenats, _pod("a", ns, "web"), _pod("b", ns, "db"), _pod("c", other, "web"))

    deleted = kubenats("delete", "pods", "--all", "-n", ns)

    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.splitlines() == ['pod "a" deleted', 'pod "b" deleted']
    assert _pod_names(control_plane, ns) == []
    assert _pod_names(control_plane, other) == ["c"]


def test_delete_all_with_a_selector_deletes_only_what_it_matches(
    kubenats: Cli, control_plane: LocalControlPlane
) -> None:
    ns = f"cli-{uuid.uuid4().hex[:6]}"
    _apply(kubenats, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    _apply(kubenats, _pod("a", ns, "web"), _pod("b", ns, "db"))

    deleted = kubenats("delete", "pods", "--all", "-l", "app=db", "-n", ns)

    assert deleted.stdout.splitlines() == ['pod "b" deleted'], deleted.output
    assert _pod_names(control_plane, ns) == ["a"]


def test_delete_all_namespaces_by_selector_falls_back_to_one_by_one(kubenats: Cli) -> None:
    batch = uuid.uuid4().hex[:6]
    names = [f"cli-{batch}-{n}" for n in (1, 2)]
    _apply(
        kubenats,
        *(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"batch": batch}}}
            for n in names
        ),
    )

    deleted = kubenats("delete", "namespaces", "--all", "-l", f"batch={batch}", "--no-wait")

    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.splitlines() == [f'namespace "{n}" deleted' for n in names]


def test_delete_all_refuses_names(kubenats: Cli) -> None:
    refused = kubenats("delete", "pods", "web", "--all")
    assert refused.exit_code == 1
    assert "--all takes one resource type and no names" in refused.output
