"""``kubenats logs``: a pod's container log as ``kubectl logs`` prints it, following it with ``-f``.

As kubectl, the pod is read first to choose the container: ``-c``, else the pod's
``kubectl.kubernetes.io/default-container`` annotation, else its first container (saying so on stderr
when it has several). The lines come from the pod's kubelet through the API server (``pods/log``).
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

from services.runtime.values import parse_duration
from shared.apiclient import ApiClient, resource
from shared.cli.connection import ServerOption, StateDirOption, TokenOption, err, fail, resolve, run
from shared.cli.main import app
from shared.cli.objects import NamespaceOption
from shared.podlogs import PodLogOptions, render

PODS = resource("", "v1", "pods")
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"

Object = dict[str, Any]


def pod_name(argument: str) -> str:
    """``web`` or ``pod/web`` → ``web``; other kinds are not served by this command."""
    kind, _, name = argument.rpartition("/")
    if kind and kind not in ("pod", "pods", "po"):
        raise fail(f"cannot get the logs of {argument}: only pods are supported (pod/NAME)")
    return name


def choose_container(pod: Object, wanted: str) -> tuple[str, str]:
    """The container to read and, when kubectl would say it, the note that it was chosen by default.

    A name the pod does not have is refused here, before asking the server, in kubectl's words."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    names = [str(c.get("name", "")) for c in spec.get("containers") or []]
    if wanted:
        every = [str(c.get("name", "")) for c in spec.get("initContainers") or []] + names
        if wanted not in every:
            pod_name = meta.get("name", "")
            raise fail(f"container {wanted} is not valid for pod {pod_name} out of: {', '.join(every)}")
        return wanted, ""
    annotated = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION, "")
    if annotated in names:
        return annotated, ""
    if len(names) > 1:
        return names[0], f'Defaulted container "{names[0]}" out of: {", ".join(names)}'
    return (names[0] if names else ""), ""


def options_for(container: str, tail: int, since: str, timestamps: bool, previous: bool) -> PodLogOptions:
    fields: dict[str, Any] = {"container": container, "timestamps": timestamps, "previous": previous}
    if tail >= 0:
        fields["tailLines"] = tail
    if since:
        try:
            seconds = parse_duration(since)
        except ValueError as error:
            raise fail(f'invalid argument "{since}" for "--since" flag: {error}') from None
        fields["sinceSeconds"] = max(1, int(seconds))
    return PodLogOptions.model_validate(fields)


@app.command()
def logs(
    pod: Annotated[str, typer.Argument(help="POD or pod/POD")],
    container: Annotated[str, typer.Option("--container", "-c", help="the container")] = "",
    tail: Annotated[int, typer.Option("--tail", help="the last N lines (-1: all)")] = -1,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="stream new lines")] = False,
    previous: Annotated[bool, typer.Option("--previous", "-p", help="the last terminated instance")] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", help="prefix lines with their time")] = False,
    since: Annotated[str, typer.Option("--since", help="only lines newer than this, e.g. 5s, 2m")] = "",
    namespace: NamespaceOption = "",
    server: ServerOption = None,
    token: TokenOption = None,
    state_dir: StateDirOption = None,
) -> None:
    """Print the log of a container of a pod."""
    name, ns = pod_name(pod), namespace or "default"

    async def action(client: ApiClient) -> None:
        chosen, note = choose_container(await client.get(PODS, name, ns), container)
        if note:
            err.print(note)
        options = options_for(chosen, tail, since, timestamps, previous)
        if not follow:
            typer.echo(render((await client.logs(name, ns, options)).entries, timestamps), nl=False)
            return
        async for entry in client.follow_logs(name, ns, options):
            typer.echo(render([entry], timestamps), nl=False)

    with contextlib.suppress(KeyboardInterrupt):
        run(resolve(server, token, state_dir), action)
