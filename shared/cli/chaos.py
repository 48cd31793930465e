"""``kubenats chaos …``: publish the fault-injection subjects, for those without the nats CLI.

``kubenats chaos node crash worker-2`` publishes ``chaos.node.worker-2.crash`` exactly as
``nats pub chaos.node.worker-2.crash ''`` would; the components that own the target act on it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from shared import bus, subjects
from shared.cli.connection import ServerOption, StateDirOption, fail, resolve
from shared.cli.main import app as root_app
from shared.netchaos import LatencySpec

app = typer.Typer(
    name="chaos", help="Inject faults: crash or partition a node, kill a pod, split the network."
)
root_app.add_typer(app, name="chaos")

NODE_ACTIONS = ("crash", "recover", "partition", "heal")


def publish(servers: str, subject: str, payload: bytes = b"") -> None:
    async def send() -> None:
        nc = await bus.connect(servers, name="kubenats-chaos")
        try:
            await nc.publish(subject, payload)
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(send())
    typer.echo(f"published {subject}")


def _servers(server: str | None, state_dir: Path | None) -> str:
    # Chaos subjects need no API token, only the bus.
    return resolve(server, "", state_dir).servers


@app.command("node")
def node_command(
    action: Annotated[str, typer.Argument(help="crash, recover, partition or heal")],
    node: Annotated[str, typer.Argument(help="the node, e.g. worker-2")],
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Crash a node (its kubelet stops and its containers die) or cut it off the API server."""
    if action not in NODE_ACTIONS:
        raise fail(f"unknown node action {action!r}; expected one of {', '.join(NODE_ACTIONS)}", 2)
    publish(_servers(server, state_dir), subjects.chaos("node", node, action))


@app.command("pod")
def pod_command(
    target: Annotated[str, typer.Argument(help="NAMESPACE/NAME or NAME (namespace default)")],
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Kill a pod's containers with SIGKILL (exit 137); its restart policy applies."""
    namespace, _, name = target.rpartition("/")
    publish(
        _servers(server, state_dir),
        subjects.chaos("pod", namespace or "default", subjects.name_token(name), "kill"),
    )


@app.command("partition")
def partition_command(
    groups: Annotated[list[str], typer.Argument(help="groups of replicas, e.g. cp-1 cp-2,cp-3")],
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Split the control-plane replicas into groups that cannot reach each other."""
    body = {"groups": [g.split(",") for g in groups]}
    publish(_servers(server, state_dir), subjects.chaos_network_partition(), json.dumps(body).encode())


@app.command("latency")
def latency_command(
    replicas: Annotated[list[str], typer.Argument(help="the control-plane replicas to slow, e.g. cp-1")],
    delay_ms: Annotated[float, typer.Option("--delay-ms", help="added delay per message, ms")] = 100.0,
    jitter_ms: Annotated[float, typer.Option("--jitter-ms", help="random extra delay up to this, ms")] = 0.0,
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Delay the messages the named replicas' etcd members send to each other (until chaos reset)."""
    try:
        spec = LatencySpec(delay_ms=delay_ms, jitter_ms=jitter_ms, replicas=replicas)
    except ValidationError as error:
        raise fail(f"invalid latency: {error.errors()[0]['msg']}", 2) from None
    publish(_servers(server, state_dir), subjects.chaos_network_latency(), spec.model_dump_json().encode())


@app.command("reset")
def reset_command(server: ServerOption = None, state_dir: StateDirOption = None) -> None:
    """Undo every injected fault."""
    publish(_servers(server, state_dir), subjects.chaos_reset())
