"""``kubenats nats pub|sub|req``: the few ``nats`` CLI commands the README uses, for machines without it.

Same arguments as the nats CLI's (``SUBJECT [BODY]``, ``-H Key:Value``), sent to the running cluster's
servers, so every README line works with either tool.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from shared import bus
from shared.cli.connection import ServerOption, StateDirOption, fail, resolve
from shared.cli.main import app as root_app

app = typer.Typer(name="nats", help="Publish, subscribe and request on the cluster's NATS (as the nats CLI).")
root_app.add_typer(app, name="nats")

HeaderOption = Annotated[list[str], typer.Option("--header", "-H", help="a header as Key:Value")]


def _headers(values: list[str]) -> dict[str, str] | None:
    headers = {}
    for value in values:
        key, sep, text = value.partition(":")
        if not sep or not key:
            raise fail(f"invalid header {value!r}: expected Key:Value", 2)
        headers[key.strip()] = text.strip()
    return headers or None


def _servers(server: str | None, state_dir: Path | None) -> str:
    return resolve(server, "", state_dir).servers


@app.command("pub")
def pub(
    subject: Annotated[str, typer.Argument(help="the subject")],
    body: Annotated[str, typer.Argument(help="the message body")] = "",
    header: HeaderOption = [],  # noqa: B006 (typer reads the default; it is never mutated)
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Publish one message."""

    async def send() -> None:
        nc = await bus.connect(_servers(server, state_dir), name="kubenats-nats")
        try:
            await nc.publish(subject, body.encode(), headers=_headers(header))
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(send())
    typer.echo(f'Published {len(body.encode())} bytes to "{subject}"')


@app.command("req")
def req(
    subject: Annotated[str, typer.Argument(help="the subject")],
    body: Annotated[str, typer.Argument(help="the request body")] = "",
    header: HeaderOption = [],  # noqa: B006
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the reply")] = 5.0,
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Send a request and print the reply's body (its error headers, if any, on stderr)."""

    async def ask() -> Msg:
        nc = await bus.connect(_servers(server, state_dir), name="kubenats-nats")
        try:
            return await nc.request(subject, body.encode(), timeout=timeout, headers=_headers(header))
        finally:
            await nc.close()

    try:
        reply = asyncio.run(ask())
    except NoRespondersError:
        raise fail(f"no responders are available for {subject}") from None
    except NatsTimeoutError:
        raise fail(f"no reply on {subject} within {timeout:g}s") from None
    for key, value in (reply.headers or {}).items():
        typer.echo(f"{key}: {value}", err=True)
    typer.echo(reply.data.decode(errors="replace"))


@app.command("sub")
def sub(
    subject: Annotated[str, typer.Argument(help="the subject, wildcards allowed")],
    count: Annotated[int, typer.Option("--count", help="stop after this many messages (0: never)")] = 0,
    server: ServerOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Print every message on a subject until interrupted."""

    async def listen() -> None:
        nc = await bus.connect(_servers(server, state_dir), name="kubenats-nats")
        received = 0
        done = asyncio.Event()

        async def show(msg: Msg) -> None:
            nonlocal received
            received += 1
            typer.echo(f'[#{received}] Received on "{msg.subject}"\n{msg.data.decode(errors="replace")}\n')
            if count and received >= count:
                done.set()

        await nc.subscribe(subject, cb=show)
        try:
            await done.wait()
        finally:
            await nc.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(listen())
