"""``kubenats top nodes|pods``: resource usage from ``metrics.k8s.io`` in ``kubectl top``'s columns and units.

CPU is shown in millicores (``35m``), memory in MiB (``64Mi``), a node's percentages against its
allocatable resources, rounded down as kubectl does. A node the metrics leave out (its kubelet did not
answer) shows ``<unknown>`` in every column, as in ``kubectl top node``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from shared.apiclient import ApiClient, resource
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, err, fail, resolve, run
from shared.cli.main import app as root_app
from shared.cli.objects import NamespaceOption
from shared.models import Quantity

NODES = resource("", "v1", "nodes")
NODE_COLUMNS = ("NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)")
POD_COLUMNS = ("NAME", "CPU(cores)", "MEMORY(bytes)")
UNKNOWN = "<unknown>"

Object = dict[str, Any]

app = typer.Typer(
    name="top", help="Display resource (CPU/memory) usage of nodes or pods.", no_args_is_help=True
)
root_app.add_typer(app, name="top")

SelectorOption = Annotated[str, typer.Option("--selector", "-l", help="label selector")]


def cpu_cell(quantity: str) -> str:
    return f"{Quantity(quantity).milli_value()}m"


def memory_cell(quantity: str) -> str:
    return f"{Quantity(quantity).value() // (1024 * 1024)}Mi"


def percent(used: str, available: str | None) -> str:
    if not available or Quantity(available).milli_value() == 0:
        return UNKNOWN
    return f"{int(Quantity(used).milli_value() / Quantity(available).milli_value() * 100)}%"


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, 3 spaces apart, as kubectl's tab writer prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def node_rows(nodes: Sequence[Object], metrics: Sequence[Object]) -> list[list[str]]:
    """One row per node, in the nodes' order; a node without metrics is all ``<unknown>``."""
    usage = {m["metadata"]["name"]: m.get("usage", {}) for m in metrics}
    rows: list[list[str]] = []
    for node in nodes:
        name = node["metadata"]["name"]
        used = usage.get(name)
        if used is None:
            rows.append([name, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN])
            continue
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        rows.append(
            [
                name,
                cpu_cell(used["cpu"]),
                percent(used["cpu"], allocatable.get("cpu")),
                memory_cell(used["memory"]),
                percent(used["memory"], allocatable.get("memory")),
            ]
        )
    return rows


def pod_rows(metrics: Sequence[Object], *, namespaces: bool, containers: bool) -> list[list[str]]:
    """A pod's containers summed (or one row per container with ``containers``)."""
    rows: list[list[str]] = []
    for pod in metrics:
        meta = pod["metadata"]
        prefix = [meta.get("namespace", "")] if namespaces else []
        if containers:
            for c in pod.get("containers", []):
                usage = c.get("usage", {})
                cpu, memory = usage.get("cpu", "0"), usage.get("memory", "0")
                rows.append([*prefix, meta["name"], c["name"], cpu_cell(cpu), memory_cell(memory)])
            continue
        cpu, memory = Quantity(0), Quantity(0)
        for c in pod.get("containers", []):
            cpu += Quantity(c.get("usage", {}).get("cpu", "0"))
            memory += Quantity(c.get("usage", {}).get("memory", "0"))
        rows.append([*prefix, meta["name"], cpu_cell(str(cpu)), memory_cell(str(memory))])
    return rows


def pod_header(*, namespaces: bool, containers: bool) -> list[str]:
    header = list(POD_COLUMNS)
    if containers:
        header.insert(1, "NAME")
        header[0] = "POD"
    return (["NAMESPACE"] if namespaces else []) + header


@app.command("nodes")
@app.command("node", hidden=True)
def top_nodes(
    name: Annotated[str, typer.Argument(help="one node")] = "",
    selector: SelectorOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """CPU and memory use of nodes."""

    async def action(client: ApiClient) -> None:
        if name:
            metrics, nodes = [await client.node_metrics(name)], [await client.get(NODES, name)]
        else:
            metrics = (await client.node_metrics(label_selector=selector))["items"]
            nodes = (await client.list(NODES, label_selector=selector))["items"]
        if not nodes:
            err.print("No resources found")
            return
        typer.echo("\n".join(aligned([list(NODE_COLUMNS), *node_rows(nodes, metrics)])))

    run(resolve(server, token, state_dir), action)


@app.command("pods")
@app.command("pod", hidden=True)
def top_pods(
    name: Annotated[str, typer.Argument(help="one pod")] = "",
    namespace: NamespaceOption = "",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="every namespace")] = False,
    containers: Annotated[bool, typer.Option("--containers", help="a row per container")] = False,
    selector: SelectorOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """CPU and memory use of pods."""
    if name and all_namespaces:
        raise fail("a resource cannot be retrieved by name across all namespaces")
    ns = "" if all_namespaces else (namespace or "default")

    async def action(client: ApiClient) -> None:
        if name:
            metrics = [await client.pod_metrics(ns, name)]
        else:
            metrics = (await client.pod_metrics(ns, label_selector=selector))["items"]
        if not metrics:
            err.print(f"No resources found in {ns} namespace." if ns else "No resources found")
            return
        rows = pod_rows(metrics, namespaces=all_namespaces, containers=containers)
        header = pod_header(namespaces=all_namespaces, containers=containers)
        typer.echo("\n".join(aligned([header, *rows])))

    run(resolve(server, token, state_dir), action)
