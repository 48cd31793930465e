"""Node maintenance as kubectl does it: ``cordon``, ``uncordon`` and ``drain`` (evictions, then wait)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from shared.apiclient import ApiClient, resource
from shared.apiprotocol import ApiRequest
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, resolve, run
from shared.cli.main import app
from shared.errors import ApiError

NODES = resource("", "v1", "nodes")
PODS = resource("", "v1", "pods")

Object = dict[str, Any]


async def set_unschedulable(client: ApiClient, node: str, unschedulable: bool) -> bool:
    """Cordon or uncordon; False when the node was already so."""
    current = await client.get(NODES, node)
    if bool(current.get("spec", {}).get("unschedulable")) == unschedulable:
        return False
    await client.patch(NODES, node, {"spec": {"unschedulable": unschedulable or None}})
    return True


def _cordon_message(node: str, changed: bool, verb: str) -> str:
    return f"node/{node} {verb}" if changed else f"node/{node} already {verb}"


@app.command()
def cordon(
    node: Annotated[str, typer.Argument(help="the node")],
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Mark a node unschedulable."""

    async def action(client: ApiClient) -> None:
        typer.echo(_cordon_message(node, await set_unschedulable(client, node, True), "cordoned"))

    run(resolve(server, token, state_dir), action)


@app.command()
def uncordon(
    node: Annotated[str, typer.Argument(help="the node")],
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Mark a node schedulable again."""

    async def action(client: ApiClient) -> None:
        typer.echo(_cordon_message(node, await set_unschedulable(client, node, False), "uncordoned"))

    run(resolve(server, token, state_dir), action)


def _evictable(pod: Object) -> bool:
    """Pods drain evicts: not mirror pods, not already finished (kubectl skips DaemonSet pods too)."""
    annotations = pod.get("metadata", {}).get("annotations") or {}
    owners = pod.get("metadata", {}).get("ownerReferences") or []
    finished = pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
    daemon = any(o.get("kind") == "DaemonSet" for o in owners)
    return not finished and not daemon and "kubernetes.io/config.mirror" not in annotations


async def evict(client: ApiClient, pod: Object) -> None:
    meta = pod["metadata"]
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    request = ApiRequest(namespace=meta["namespace"], name=meta["name"], body=eviction)
    await client.call(PODS, "eviction", request)


async def _wait_deleted(client: ApiClient, pods: list[Object], timeout: float) -> list[str]:
    """Names of the pods still there after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    remaining = list(pods)
    while remaining and loop.time() < deadline:
        still = []
        for pod in remaining:
            try:
                live = await client.get(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
            except ApiError as error:
                if error.code == 404:
                    continue
                raise
            if live["metadata"]["uid"] == pod["metadata"]["uid"]:
                still.append(pod)
        remaining = still
        if remaining:
            await asyncio.sleep(0.5)
    return [p["metadata"]["name"] for p in remaining]


@app.command()
def drain(
    node: Annotated[str, typer.Argument(help="the node")],
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the pods to go")] = 120.0,
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Cordon a node, evict its pods, and wait until they are gone."""

    async def action(client: ApiClient) -> None:
        changed = await set_unschedulable(client, node, True)
        typer.echo(_cordon_message(node, changed, "cordoned"))
        listed = await client.list(PODS, "", field_selector=f"spec.nodeName={node}")
        pods = [p for p in listed["items"] if _evictable(p)]
        for pod in pods:
            typer.echo(f"evicting pod {pod['metadata']['namespace']}/{pod['metadata']['name']}")
            try:
                await evict(client, pod)
            except ApiError as error:
                # A pod deleted since the list (its ReplicaSet scaled down, its namespace went) is what
                # drain wants anyway, as kubectl drain takes it.
                if error.code != 404:
                    raise
        left = await _wait_deleted(client, pods, timeout)
        if left:
            raise ApiError(504, f"drain did not complete within {timeout:g}s: {', '.join(left)} still there")
        for pod in pods:
            typer.echo(f"pod/{pod['metadata']['name']} evicted")
        typer.echo(f"node/{node} drained")

    run(resolve(server, token, state_dir), action)
