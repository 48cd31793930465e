"""Commands that rewrite existing objects, in kubectl's words: ``replace`` and ``patch``.

``replace -f`` writes each manifest over the live object (``deployment.apps/web replaced``), taking the
live ``resourceVersion`` when the manifest has none, as kubectl does; it takes ``--validate`` as
``apply`` does. ``patch TYPE NAME -p PATCH`` sends a strategic merge (the default), merge or JSON patch
(``deployment.apps/web patched``, or ``patched (no change)`` when the object stayed as it was). Warnings
the server sends go to stderr as ``Warning: <text>``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from shared.apiclient import ApiClient
from shared.apiprotocol import PatchType
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, fail, resolve, run
from shared.cli.main import app
from shared.cli.objects import (
    FileOption,
    NamespaceOption,
    RecursiveOption,
    ValidateOption,
    manifest_resource,
    reference,
    with_source,
    write_manifests,
)
from shared.cli.resources import UnknownResourceError, resolve_resource
from shared.errors import ApiError
from shared.models import ResourceType

Object = dict[str, Any]

PATCH_TYPES: dict[str, PatchType] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


async def replace_one(client: ApiClient, obj: Object, source: str) -> None:
    """Write ``obj`` over the live object; its ``resourceVersion``, if it names none, is the live one."""
    rt = manifest_resource(obj)
    meta = obj.setdefault("metadata", {})
    try:
        if not meta.get("resourceVersion"):
            live = await client.get(rt, meta.get("name", ""), meta.get("namespace", ""))
            meta["resourceVersion"] = live["metadata"]["resourceVersion"]
        await client.update(obj)
    except ApiError as error:
        raise with_source(error, "replacing", source) from None


@app.command()
def replace(
    filename: FileOption = [],  # noqa: B006 (typer reads the default; it is never mutated)
    namespace: NamespaceOption = "",
    recursive: RecursiveOption = False,
    validate: ValidateOption = "strict",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Replace objects by the manifests' (files, directories, or - for stdin); each must exist."""

    async def write(client: ApiClient, obj: Any, source: str) -> tuple[str, str]:
        await replace_one(client, obj, source)
        return obj["metadata"]["name"], "replaced"

    write_manifests(
        filename, recursive, namespace, validate, lambda: resolve(server, token, state_dir), write
    )


def _target(arguments: list[str]) -> tuple[ResourceType, str]:
    """``TYPE NAME`` or ``TYPE/NAME``."""
    if len(arguments) == 1 and "/" in arguments[0]:
        arguments = arguments[0].split("/", 1)
    if len(arguments) != 2:
        raise fail("patch needs one object: TYPE NAME or TYPE/NAME")
    try:
        return resolve_resource(arguments[0]), arguments[1]
    except UnknownResourceError as error:
        raise fail(str(error)) from None


def _patch_document(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise fail(f"unable to parse {text!r}: {error}") from None


@app.command()
def patch(
    arguments: Annotated[list[str], typer.Argument(help="TYPE NAME or TYPE/NAME")],
    patch_text: Annotated[str, typer.Option("--patch", "-p", help="the patch, as JSON")],
    patch_type: Annotated[
        str, typer.Option("--type", help="strategic, merge or json", show_default=True)
    ] = "strategic",
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Update fields of an object with a strategic merge, JSON merge or JSON patch."""
    rt, name = _target(arguments)
    if patch_type not in PATCH_TYPES:
        raise fail(f"--type must be one of {list(PATCH_TYPES)}, not {patch_type}")
    document = _patch_document(patch_text)
    ns = (namespace or "default") if rt.namespaced else ""

    async def action(client: ApiClient) -> None:
        before = await client.get(rt, name, ns)
        after = await client.patch(rt, name, document, ns, PATCH_TYPES[patch_type])
        changed = after["metadata"].get("resourceVersion") != before["metadata"].get("resourceVersion")
        typer.echo(f"{reference(rt, name)} patched{'' if changed else ' (no change)'}")

    run(resolve(server, token, state_dir), action)
