"""Commands that change objects, in kubectl's words: ``apply``, ``create``, ``delete``, ``scale``.

Each prints one line per object as kubectl does (``deployment.apps/web created``, ``… configured``,
``… unchanged``, ``… deleted``, ``… scaled``) and exits 1 with kubectl's message on a server error; the
warnings a reply carries go to stderr as ``Warning: <text>`` (:func:`~shared.cli.connection.connected`).
``apply`` and ``create`` take kubectl's ``--validate``: ``strict`` (the default) has the server refuse
unknown fields, ``warn`` has it drop them with a warning each, ``ignore`` drop them silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from shared.apiclient import ApiClient, resource_of
from shared.cli.apply import last_applied, three_way_patch, with_last_applied
from shared.cli.connection import (
    ServerOption,
    StateDirOption,
    Target,
    TokenOption,
    fail,
    resolve,
    run,
)
from shared.cli.main import app
from shared.cli.manifests import ManifestError, load_manifests, load_sourced_manifests
from shared.cli.resources import UnknownResourceError, resolve_resource
from shared.errors import ApiError
from shared.models import ResourceType

Object = dict[str, Any]

FileOption = Annotated[list[str], typer.Option("--filename", "-f", help="file, directory or - for stdin")]
NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="the namespace [default: default]")]
RecursiveOption = Annotated[bool, typer.Option("--recursive", "-R", help="walk directories")]
ValidateOption = Annotated[
    str,
    typer.Option(
        "--validate",
        help="strict (or true): the server refuses unknown fields; warn: it drops them, warning of each; "
        "ignore (or false): it drops them silently",
    ),
]

_DIRECTIVES = {"strict": "Strict", "warn": "Warn", "ignore": "Ignore"}
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def field_validation(validate: str) -> str:
    """The ``fieldValidation`` directive a ``--validate`` value asks for, read as kubectl reads it."""
    if validate in _TRUE:
        return "Strict"
    if validate in _FALSE:
        return "Ignore"
    if validate in _DIRECTIVES:
        return _DIRECTIVES[validate]
    raise fail(
        f'invalid - validate option "{validate}"; must be one of: strict (or true), warn, ignore (or false)'
    )


def with_source(error: ApiError, verb: str, source: str) -> ApiError:
    """The server's error as kubectl reports it for an object from a file.

    ``error when creating "web.yaml": <the server's message>``, with the server's code and reason.
    """
    return ApiError(error.code, f'error when {verb} "{source}": {error.message}', error.reason, error.details)


def reference(rt: ResourceType, name: str) -> str:
    """``deployment.apps/web``, ``pod/web``: how kubectl names an object in its messages."""
    kind = rt.kind.lower()
    return f"{kind}.{rt.group}/{name}" if rt.group else f"{kind}/{name}"


def _manifests(files: list[str], recursive: bool) -> list[Object]:
    if not files:
        raise fail("must specify one of -f and -k")
    try:
        return load_manifests(files, recursive)
    except ManifestError as error:
        raise fail(str(error)) from None


def sourced_manifests(files: list[str], recursive: bool) -> list[tuple[str, Object]]:
    if not files:
        raise fail("must specify one of -f and -k")
    try:
        return load_sourced_manifests(files, recursive)
    except ManifestError as error:
        raise fail(str(error)) from None


def namespaced(obj: Object, rt: ResourceType, namespace: str) -> Object:
    if rt.namespaced:
        meta = obj.setdefault("metadata", {})
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise fail(
                f'the namespace from the provided object "{meta["namespace"]}" does not match the '
                f"namespace \"{namespace}\". You must pass '--namespace={meta['namespace']}' to perform "
                "this operation."
            )
        meta.setdefault("namespace", namespace or "default")
    return obj


def manifest_resource(obj: Object) -> ResourceType:
    try:
        return resource_of(obj)
    except ValueError as error:
        raise fail(f"resource mapping not found for kind {obj.get('kind')!r}: {error}") from None


async def apply_one(client: ApiClient, desired: Object, source: str = "") -> str:
    """Create the object or patch it to the manifest: ``created``, ``configured`` or ``unchanged``.

    A refused create names ``source`` as kubectl does (the file the object came from).
    """
    rt = resource_of(desired)
    meta = desired.get("metadata", {})
    annotated = with_last_applied(desired)
    try:
        live = await client.get(rt, meta.get("name", ""), meta.get("namespace", ""))
    except ApiError as error:
        if error.code != 404:
            raise
        try:
            await client.create(annotated)
        except ApiError as refused:
            raise (with_source(refused, "creating", source) if source else refused) from None
        return "created"
    patch = three_way_patch(last_applied(live), annotated, live)
    if not patch:
        return "unchanged"
    await client.patch(rt, meta["name"], patch, meta.get("namespace", ""))
    return "configured"


Write = Callable[[ApiClient, Any, str], Awaitable[tuple[str, str]]]
"""Writes one manifest's object (read from ``source``); answers the name written and kubectl's word for it."""


def write_manifests(
    files: list[str],
    recursive: bool,
    namespace: str,
    validate: str,
    target: Callable[[], Target],
    write: Write,
) -> None:
    """Each manifest's object written in turn under ``--validate``, printed as kubectl prints it
    (``deployment.apps/web configured``)."""
    directive = field_validation(validate)
    sourced = [
        (source, namespaced(obj, manifest_resource(obj), namespace))
        for source, obj in sourced_manifests(files, recursive)
    ]

    async def action(client: ApiClient) -> None:
        client.field_validation = directive
        for source, obj in sourced:
            name, outcome = await write(client, obj, source)
            typer.echo(f"{reference(resource_of(obj), name)} {outcome}")

    run(target(), action)


@app.command()
def apply(
    filename: FileOption = [],  # noqa: B006 (typer reads the default; it is never mutated)
    namespace: NamespaceOption = "",
    recursive: RecursiveOption = False,
    validate: ValidateOption = "strict",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Create or update objects from manifests (files, directories, or - for stdin)."""

    async def write(client: ApiClient, obj: Object, source: str) -> tuple[str, str]:
        return obj["metadata"]["name"], await apply_one(client, obj, source)

    write_manifests(
        filename, recursive, namespace, validate, lambda: resolve(server, token, state_dir), write
    )


@app.command()
def create(
    filename: FileOption = [],  # noqa: B006
    namespace: NamespaceOption = "",
    recursive: RecursiveOption = False,
    validate: ValidateOption = "strict",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Create objects from manifests; an object that exists already is an error."""

    async def write(client: ApiClient, obj: Object, source: str) -> tuple[str, str]:
        try:
            created = await client.create(obj)
        except ApiError as error:
            raise with_source(error, "creating", source) from None
        return created["metadata"]["name"], "created"

    write_manifests(
        filename, recursive, namespace, validate, lambda: resolve(server, token, state_dir), write
    )


async def _wait_gone(client: ApiClient, rt: ResourceType, name: str, namespace: str, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            await client.get(rt, name, namespace)
        except ApiError as error:
            if error.code == 404:
                return
            raise
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {reference(rt, name)} to be deleted")


async def _targets(
    client: ApiClient, arguments: list[str], files: list[str], selector: str, namespace: str
) -> list[tuple[ResourceType, str, str]]:
    """(resource, name, namespace) of everything a delete names, by argument, file or label selector."""
    if files:
        objects = _manifests(files, False)
        return [
            (rt, obj["metadata"]["name"], obj.get("metadata", {}).get("namespace", namespace or "default"))
            for obj in objects
            for rt in [manifest_resource(obj)]
        ]
    if not arguments:
        raise fail("You must provide one or more resources by argument or filename.")
    try:
        if all("/" in a for a in arguments):
            named = [(resolve_resource(a.split("/", 1)[0]), a.split("/", 1)[1]) for a in arguments]
            return [(rt, name, namespace or "default") for rt, name in named]
        rt = resolve_resource(arguments[0])
    except UnknownResourceError as error:
        raise fail(str(error)) from None
    names = arguments[1:]
    if names:
        return [(rt, name, namespace or "default") for name in names]
    if not selector:
        raise fail("resource(s) were provided, but no name was specified")
    found = await client.list(rt, namespace or "default", label_selector=selector)
    return [(rt, o["metadata"]["name"], o["metadata"].get("namespace", "")) for o in found["items"]]


async def _delete_all(
    client: ApiClient, arguments: list[str], selector: str, namespace: str, grace_period: int | None
) -> list[tuple[ResourceType, str, str]]:
    """``delete TYPE --all``: one ``deletecollection`` request; what it deleted, as (resource, name, ns).

    Namespaces do not serve the verb (nor do they in Kubernetes): they are listed and deleted one by one.
    """
    if len(arguments) != 1 or "/" in arguments[0]:
        raise fail("--all takes one resource type and no names")
    try:
        rt = resolve_resource(arguments[0])
    except UnknownResourceError as error:
        raise fail(str(error)) from None
    ns = (namespace or "default") if rt.namespaced else ""
    try:
        deleted = await client.delete_collection(
            rt,
            ns,
            label_selector=selector,
            grace_period_seconds=grace_period,
            propagation_policy="Background",
        )
    except ApiError as error:
        if error.code != 405:
            raise
        deleted = await client.list(rt, ns, label_selector=selector)
        for obj in deleted["items"]:
            await client.delete(
                rt, obj["metadata"]["name"], ns, grace_period, propagation_policy="Background"
            )
    return [(rt, o["metadata"]["name"], o["metadata"].get("namespace", "")) for o in deleted["items"]]


@app.command()
def delete(
    arguments: Annotated[list[str] | None, typer.Argument(help="TYPE NAME… or TYPE/NAME…")] = None,
    filename: FileOption = [],  # noqa: B006
    selector: Annotated[str, typer.Option("--selector", "-l", help="label selector")] = "",
    namespace: NamespaceOption = "",
    all_objects: Annotated[
        bool, typer.Option("--all", help="every object of the type in the namespace")
    ] = False,
    grace_period: Annotated[int | None, typer.Option("--grace-period", help="seconds; 0 = now")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait until the objects are gone")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait")] = 60.0,
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Delete objects by name, by manifest or by label selector, and wait until they are gone."""

    if all_objects and filename:
        raise fail("cannot set --all and --filename at the same time")

    async def action(client: ApiClient) -> None:
        if all_objects:
            targets = await _delete_all(client, arguments or [], selector, namespace, grace_period)
        else:
            targets = await _targets(client, arguments or [], filename, selector, namespace)
        if not targets:
            typer.echo("No resources found")
        for rt, name, ns in targets:
            if not all_objects:
                await client.delete(rt, name, ns, grace_period, propagation_policy="Background")
            typer.echo(f'{reference(rt, name).split("/")[0]} "{name}" deleted')
        if wait:
            await asyncio.gather(*(_wait_gone(client, rt, name, ns, timeout) for rt, name, ns in targets))

    run(resolve(server, token, state_dir), action)


@app.command()
def scale(
    target: Annotated[str, typer.Argument(help="deployment/NAME or replicaset/NAME")],
    replicas: Annotated[int, typer.Option("--replicas", min=0, help="the new number of replicas")],
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Set the number of replicas of a Deployment or ReplicaSet."""
    if "/" not in target:
        raise fail("scale needs TYPE/NAME, e.g. deployment/web")
    kind, name = target.split("/", 1)
    try:
        rt = resolve_resource(kind)
    except UnknownResourceError as error:
        raise fail(str(error)) from None

    async def action(client: ApiClient) -> None:
        await client.scale(rt, name, replicas, namespace or "default")
        typer.echo(f"{reference(rt, name)} scaled")

    run(resolve(server, token, state_dir), action)
