"""``kubenats get``: objects as kubectl prints them — tables (``-o wide``), YAML, JSON, names; ``-w``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
import yaml

from shared.apiclient import ApiClient
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, err, fail, resolve, run
from shared.cli.main import app
from shared.cli.objects import NamespaceOption
from shared.cli.resources import UnknownResourceError, split_type_and_name
from shared.models import ResourceType
from shared.tables import table_for, utcnow

Object = dict[str, Any]
OUTPUTS = ("", "wide", "yaml", "json", "name")


def format_table(
    rt: ResourceType, objects: Sequence[Object], now: datetime, *, wide: bool, namespaces: bool, header: bool
) -> list[str]:
    """kubectl's plain table: upper-case headers, columns padded to their widest cell, 3 spaces apart."""
    spec = table_for(rt.plural)
    shown = [i for i, c in enumerate(spec.columns) if wide or c.priority == 0]
    rows = []
    for obj in objects:
        cells = spec.cells(obj, now)
        row = [str(cells[i]) for i in shown]
        if namespaces:
            row.insert(0, obj.get("metadata", {}).get("namespace", ""))
        rows.append(row)
    titles = [spec.columns[i].name.upper() for i in shown]
    if namespaces:
        titles.insert(0, "NAMESPACE")
    widths = [max(len(r[i]) for r in [titles, *rows]) for i in range(len(titles))]
    lines = [titles] if header else []
    lines += rows
    return [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]


def _as_list(items: list[Object]) -> Object:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _dump(value: Object, output: str) -> str:
    if output == "json":
        return json.dumps(value, indent=4)
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False).rstrip("\n")


def _name_line(rt: ResourceType, obj: Object) -> str:
    kind = rt.kind.lower()
    prefix = f"{kind}.{rt.group}" if rt.group else kind
    return f"{prefix}/{obj['metadata']['name']}"


def render(rt: ResourceType, objects: list[Object], output: str, *, named: bool, namespaces: bool) -> str:
    if output in ("yaml", "json"):
        return _dump(objects[0] if named and len(objects) == 1 else _as_list(objects), output)
    if output == "name":
        return "\n".join(_name_line(rt, o) for o in objects)
    lines = format_table(rt, objects, utcnow(), wide=output == "wide", namespaces=namespaces, header=True)
    return "\n".join(lines)


async def _watch(
    client: ApiClient,
    rt: ResourceType,
    namespace: str,
    version: str,
    selector: str,
    output: str,
    all_ns: bool,
) -> None:
    async with await client.watch(rt, namespace, resource_version=version, label_selector=selector) as events:
        async for event in events:
            obj = event["object"]
            if event["type"] in ("BOOKMARK", "ERROR"):
                continue
            if output in ("yaml", "json"):
                typer.echo(_dump(obj, output) + ("\n---" if output == "yaml" else ""))
            elif output == "name":
                typer.echo(_name_line(rt, obj))
            else:
                line = format_table(
                    rt, [obj], utcnow(), wide=output == "wide", namespaces=all_ns, header=False
                )
                typer.echo(line[0])


@app.command()
def get(
    arguments: Annotated[list[str], typer.Argument(help="TYPE [NAME…] or TYPE/NAME…")],
    output: Annotated[str, typer.Option("--output", "-o", help="wide, yaml, json or name")] = "",
    selector: Annotated[str, typer.Option("--selector", "-l", help="label selector")] = "",
    field_selector: Annotated[str, typer.Option("--field-selector", help="field selector")] = "",
    namespace: NamespaceOption = "",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="every namespace")] = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="then stream changes")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Show objects: a table as kubectl prints it, or YAML, JSON, names; -w streams changes."""
    if output not in OUTPUTS:
        raise fail(
            f"unable to match a printer suitable for the output format {output!r}, allowed formats "
            "are: json,name,wide,yaml"
        )
    try:
        targets = split_type_and_name(arguments)
    except UnknownResourceError as error:
        raise fail(str(error)) from None
    rt = targets[0][0]
    ns = "" if all_namespaces or not rt.namespaced else (namespace or "default")
    named = any(name for _, name in targets)
    if watch and (len({t[0] for t in targets}) > 1):
        raise fail("you may only specify a single resource type with --watch")

    async def action(client: ApiClient) -> None:
        if named:
            objects = [await client.get(t, name, ns or namespace or "default") for t, name in targets]
            version = ""
        else:
            listed = await client.list(rt, ns, label_selector=selector, field_selector=field_selector)
            objects, version = listed["items"], listed["metadata"].get("resourceVersion", "")
        if objects:
            typer.echo(render(rt, objects, output, named=named, namespaces=all_namespaces and rt.namespaced))
        elif not watch:
            where = f" in {ns} namespace" if ns else ""
            err.print(f"No resources found{where}.")
        if watch:
            await _watch(client, rt, ns, version, selector, output, all_namespaces and rt.namespaced)

    with contextlib.suppress(KeyboardInterrupt):
        run(resolve(server, token, state_dir), action)
