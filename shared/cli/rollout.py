"""``kubenats rollout status|restart|undo|history`` for Deployments, reading what kubectl reads.

Status follows kubectl's ``DeploymentStatusViewer``: the controller must have observed the latest
generation, then every replica must be updated, old ones gone and the updated ones available; a
``Progressing`` condition with reason ``ProgressDeadlineExceeded`` ends the wait with an error.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from shared.apiclient import ApiClient, resource
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, fail, resolve, run
from shared.cli.main import app as root_app
from shared.cli.objects import NamespaceOption
from shared.errors import ApiError

app = typer.Typer(name="rollout", help="Follow and steer a Deployment's rollout.")
root_app.add_typer(app, name="rollout")

DEPLOYMENTS = resource("apps", "v1", "deployments")
REPLICASETS = resource("apps", "v1", "replicasets")
REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
CHANGE_CAUSE = "kubernetes.io/change-cause"
TEMPLATE_HASH = "pod-template-hash"

Object = dict[str, Any]


def rollout_status(deployment: Object) -> tuple[str, bool]:
    """(message, done) as ``kubectl rollout status`` prints them; raises ValueError past the deadline."""
    name = deployment["metadata"]["name"]
    meta, spec, status = deployment["metadata"], deployment.get("spec", {}), deployment.get("status", {})
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...", False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise ValueError(f'deployment "{name}" exceeded its progress deadline')
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    replicas = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < wanted:
        return f"{waiting}{updated} out of {wanted} new replicas have been updated...", False
    if replicas > updated:
        return f"{waiting}{replicas - updated} old replicas are pending termination...", False
    if available < updated:
        return f"{waiting}{available} of {updated} updated replicas are available...", False
    return f'deployment "{name}" successfully rolled out', True


@app.command("status")
def status_command(
    target: Annotated[str, typer.Argument(help="deployment/NAME")],
    namespace: NamespaceOption = "",
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait; 0 = forever")] = 0.0,
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Wait until a Deployment has rolled out, printing progress as kubectl does."""
    name = _deployment_name(target)

    async def action(client: ApiClient) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        last = ""
        while True:
            deployment = await client.get(DEPLOYMENTS, name, namespace or "default")
            try:
                message, done = rollout_status(deployment)
            except ValueError as error:
                raise fail(str(error)) from None
            if message != last:
                typer.echo(message)
                last = message
            if done:
                return
            if deadline is not None and loop.time() > deadline:
                raise fail("timed out waiting for the condition")
            await asyncio.sleep(0.5)

    run(resolve(server, token, state_dir), action)


@app.command("restart")
def restart_command(
    target: Annotated[str, typer.Argument(help="deployment/NAME")],
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Roll every pod of a Deployment by stamping its template, as kubectl does."""
    name = _deployment_name(target)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}

    async def action(client: ApiClient) -> None:
        await client.patch(DEPLOYMENTS, name, patch, namespace or "default")
        typer.echo(f"deployment.apps/{name} restarted")

    run(resolve(server, token, state_dir), action)


async def owned_replica_sets(client: ApiClient, deployment: Object) -> list[Object]:
    """The Deployment's ReplicaSets, oldest revision first."""
    meta = deployment["metadata"]
    listed = await client.list(REPLICASETS, meta.get("namespace", "default"))
    owned = [
        rs
        for rs in listed["items"]
        if any(o.get("uid") == meta.get("uid") for o in rs["metadata"].get("ownerReferences") or [])
    ]
    return sorted(owned, key=_revision)


def _revision(rs: Object) -> int:
    value = (rs["metadata"].get("annotations") or {}).get(REVISION, "0")
    return int(value) if value.isdigit() else 0


def template_of(rs: Object) -> Object:
    """A ReplicaSet's pod template as its Deployment held it (without the controller's hash label)."""
    template: Object = dict(rs.get("spec", {}).get("template", {}))
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != TEMPLATE_HASH}
    template["metadata"] = {**meta, "labels": labels}
    return template


@app.command("undo")
def undo_command(
    target: Annotated[str, typer.Argument(help="deployment/NAME")],
    to_revision: Annotated[int, typer.Option("--to-revision", help="0 = the previous one")] = 0,
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Roll a Deployment back to an earlier revision's pod template."""
    name = _deployment_name(target)

    async def action(client: ApiClient) -> None:
        deployment = await client.get(DEPLOYMENTS, name, namespace or "default")
        history = await owned_replica_sets(client, deployment)
        # The previous revision is the one before the newest (the current template's).
        chosen = [rs for rs in history if _revision(rs) == to_revision] if to_revision else history[-2:-1]
        if not chosen:
            raise ApiError(404, f"unable to find specified revision {to_revision} in history")
        patch = {"spec": {"template": template_of(chosen[0])}}
        await client.patch(DEPLOYMENTS, name, patch, namespace or "default")
        typer.echo(f"deployment.apps/{name} rolled back")

    run(resolve(server, token, state_dir), action)


@app.command("history")
def history_command(
    target: Annotated[str, typer.Argument(help="deployment/NAME")],
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """List a Deployment's revisions."""
    name = _deployment_name(target)

    async def action(client: ApiClient) -> None:
        deployment = await client.get(DEPLOYMENTS, name, namespace or "default")
        typer.echo(f"deployment.apps/{name} ")
        typer.echo("REVISION  CHANGE-CAUSE")
        for rs in await owned_replica_sets(client, deployment):
            cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE, "<none>")
            typer.echo(f"{_revision(rs):<9} {cause}")

    run(resolve(server, token, state_dir), action)


def _deployment_name(target: str) -> str:
    kind, _, name = target.rpartition("/")
    if kind not in ("deployment", "deployments", "deploy", "deployment.apps", "deployments.apps") or not name:
        raise fail(f"rollout works on deployments: expected deployment/NAME, got {target!r}")
    return name
