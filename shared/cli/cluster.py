"""The ``kubenats cluster`` commands: ``up``, ``down``, ``status``, ``logs``, ``token``, ``nats-password``.

``make up|down|status|logs`` call these. Each takes ``--state-dir`` (env ``KUBENATS_STATE_DIR``, default
``.kubenats/`` in the checkout); ``up`` also takes the topology file and ``--workers`` (env ``WORKERS``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.cli.main import app as root_app
from shared.cluster import (
    ClusterError,
    ProcessInfo,
    StatePaths,
    UpResult,
    down,
    follow,
    log_path,
    program_names,
    running_topology,
    status,
    tail_lines,
    up,
)
from shared.cluster.lifecycle import kubectl_server
from shared.cluster.natsauth import ADMIN as NATS_ADMIN
from shared.cluster.natsauth import USER, load_credentials
from shared.cluster.overview import Overview, overview
from shared.cluster.tokens import ADMIN, token_of
from shared.subjects import api, etcd_cluster_status, etcd_kv, watch_events_of
from shared.topology import DEFAULT_TOPOLOGY, NATS, Topology, TopologyError, load_topology

app = typer.Typer(name="cluster", help="Start, stop and inspect a kubenats cluster on this machine.")
root_app.add_typer(app, name="cluster")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

NOT_RUNNING = 3  # as `supervisorctl status` and LSB init scripts: "program is not running"

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="KUBENATS_STATE_DIR",
        help="where configs, sockets, logs and data live [default: .kubenats in the checkout]",
        show_default=False,
    ),
]


def _progress(message: str) -> None:
    out.print(f"  [dim]· {escape(message)}[/dim]")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {escape(message)}")
    return typer.Exit(code)


def _endpoints(topology: Topology | None) -> dict[str, str]:
    if topology is None:
        return {}
    return {f"{r.name}-{NATS}": topology.nats_url(r) for r in topology.replicas}


def _process_table(processes: list[ProcessInfo], topology: Topology | None) -> Table:
    endpoints = _endpoints(topology)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAME", "STATE", "PID", "ENDPOINT", "DETAIL"):
        table.add_column(column)
    for process in processes:
        colour = "green" if process.running else "red"
        table.add_row(
            process.name,
            f"[{colour}]{process.state}[/{colour}]",
            str(process.pid or "-"),
            endpoints.get(process.name, ""),
            escape(process.description),
        )
    return table


def _shell_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _nats_login(kubenats: str, identity: str, paths: StatePaths) -> str:
    """The nats CLI's flags to log in as ``identity``, the password read when the line runs."""
    if not paths.nats_credentials.exists():
        return ""
    which = "" if identity == USER else f" {identity}"
    return f' --user {identity} --password "$({kubenats} cluster nats-password{which})"'


def _next_steps(topology: Topology, paths: StatePaths) -> None:
    urls = topology.nats_urls()
    first = urls[0]
    python = _shell_path(Path(sys.executable))
    kubenats = _shell_path(Path(sys.executable).parent / "kubenats")
    # People log in as `user` (the API, watch events, Services, chaos) or, for the store and `sub '>'`, as
    # `admin`; see shared/cluster/natsperms.py.
    nats_user = f"nats -s {first}{_nats_login(kubenats, USER, paths)}"
    nats_admin = f"nats -s {first}{_nats_login(kubenats, NATS_ADMIN, paths)}"
    login = ""
    if paths.nats_credentials.exists():
        login = f", user='{USER}', password='$({kubenats} cluster nats-password)'"
    one_liner = (
        "import asyncio, nats; loop = asyncio.new_event_loop(); "
        f"nc = loop.run_until_complete(nats.connect('{first}'{login})); "
        "print('connected to', nc.connected_url.netloc, 'max_payload', nc.max_payload); "
        "loop.run_until_complete(nc.close())"
    )
    out.print("\n[bold]Try next:[/bold]")
    out.print(f"  export NATS_URL={','.join(urls)}")
    as_admin = ", as admin" if login else ""
    out.print(f"  {nats_admin} sub '>'   [dim]# every message on the bus (nats CLI{as_admin})[/dim]")
    out.print(f'  {python} -c "{one_liner}"')
    monitor = topology.replicas[0].monitor_port
    if monitor is not None:
        routez = f"http://{topology.host}:{monitor}/routez"
        out.print(f"  curl -s {routez}   [dim]# this server's cluster routes[/dim]")
    if _enabled(topology, "etcd"):
        put, get, status = etcd_kv("put"), etcd_kv("range"), etcd_cluster_status()
        out.print(f'  {nats_admin} req {put} \'{{"key": "/hello", "value": "world"}}\'')
        out.print(f'  {nats_admin} req {get} \'{{"key": "/hello"}}\'')
        out.print(f"  {nats_admin} req {status} '{{}}'   [dim]# leader, term, commit per member[/dim]")
    if _enabled(topology, "apiserver"):
        namespaces = api("", "v1", "namespaces", "list")
        bearer = f'-H "Authorization:Bearer $({kubenats} cluster token)"'
        out.print(f"  {nats_user} req {namespaces} '{{}}' {bearer}")
        out.print(f"  {nats_user} sub '{watch_events_of('', 'v1', 'pods')}'   [dim]# every pod change[/dim]")
    server = kubectl_server(topology)
    if server is not None and _enabled(topology, "apiserver"):
        kubeconfig = _shell_path(paths.kubeconfig)
        kubectl = _shell_path(Path(sys.executable).parent / "kubectl")
        out.print(f"  KUBECONFIG={kubeconfig} {kubectl} get nodes   [dim]# the real kubectl (HTTPS)[/dim]")
    programs = [p.program for p in topology.placements()]
    out.print(f"  make status · make logs C={programs[0]} · make down")


def _report_up(result: UpResult, paths: StatePaths) -> None:
    if result.already_running:
        out.print(f"[bold]kubenats cluster is already running[/bold] (state: {paths.root}); nothing to do.")
        if result.config_changed:
            out.print(
                "[yellow]The topology differs from the running cluster's; `make down` then `make up` "
                "to apply it.[/yellow]"
            )
    else:
        out.print(f"[bold green]kubenats cluster is up[/bold green] (state: {paths.root})")
    out.print(_process_table(result.processes, result.topology))
    if result.already_running and not all(p.running for p in result.processes):
        err.print("[yellow]Some programs are not RUNNING; see `make logs C=<name>`.[/yellow]")
    _next_steps(result.topology, paths)


@app.command("up")
def up_command(
    topology_file: Annotated[
        Path, typer.Option("--topology", envvar="KUBENATS_TOPOLOGY", help="the cluster topology file")
    ] = DEFAULT_TOPOLOGY,
    workers: Annotated[
        int | None, typer.Option("--workers", envvar="WORKERS", help="override the number of workers")
    ] = None,
    state_dir: StateDir = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for programs, Nodes and leaders")] = 120.0,
) -> None:
    """Start every process of the topology under supervisord and wait until each answers."""
    try:
        topology = load_topology(topology_file, workers=workers)
    except TopologyError as error:
        raise _fail(str(error), 2) from None
    paths = StatePaths.at(state_dir)
    out.print(f"Starting kubenats cluster [bold]{topology.cluster_name}[/bold] from {topology_file}")
    try:
        result = up(topology, paths, timeout=timeout, progress=_progress)
    except ClusterError as error:
        if error.log_tail:
            err.print(f"[bold]last {len(error.log_tail)} lines of {error.program}'s log:[/bold]")
            for line in error.log_tail:
                err.print(f"  {escape(line)}")
        raise _fail(str(error)) from None
    _report_up(result, paths)


@app.command("down")
def down_command(
    state_dir: StateDir = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for every process to exit")] = 60.0,
) -> None:
    """Stop every process of the cluster and wait until they have exited; data and logs are kept."""
    paths = StatePaths.at(state_dir)
    result = down(paths, timeout=timeout, progress=_progress)
    if not result.was_running:
        out.print(f"kubenats cluster is not running (state: {paths.root}); nothing to stop.")
        return
    out.print(f"[bold]kubenats cluster stopped[/bold]: {', '.join(result.stopped) or 'supervisord'}")
    if result.forced:
        err.print(f"[yellow]killed with SIGKILL after the timeout: pids {result.forced}[/yellow]")
    out.print(f"  [dim]data and logs kept in {paths.root}; `make clean` removes them[/dim]")


def _enabled(topology: Topology, component: str) -> bool:
    found = topology.components.get(component)
    return found is not None and found.enabled


@app.command("token")
def token_command(
    user: Annotated[str, typer.Argument(help="whose token: admin, viewer, system:node:worker-1, …")] = ADMIN,
    state_dir: StateDir = None,
) -> None:
    """Print the API token of one identity of the running cluster (for the nats CLI's -H option)."""
    paths = StatePaths.at(state_dir)
    if not paths.token_file.exists():
        raise _fail(f"no token file at {paths.token_file}: start the cluster with `make up`", NOT_RUNNING)
    try:
        typer.echo(token_of(paths, user))
    except KeyError as error:
        raise _fail(str(error.args[0])) from None


@app.command("nats-password")
def nats_password_command(
    identity: Annotated[
        str, typer.Argument(help="whose password: user, admin, or a program such as worker-1-kubelet")
    ] = USER,
    state_dir: StateDir = None,
) -> None:
    """Print the NATS password of one identity of the cluster (for the nats CLI's --password)."""
    paths = StatePaths.at(state_dir)
    try:
        credentials = load_credentials(paths)
    except ValueError as error:
        raise _fail(str(error)) from None
    if credentials is None:
        raise _fail(
            f"no NATS credentials at {paths.nats_credentials}: start the cluster with `make up`", NOT_RUNNING
        )
    try:
        typer.echo(credentials.password(identity))
    except KeyError as error:
        raise _fail(str(error.args[0])) from None


@app.command("status")
def status_command(state_dir: StateDir = None) -> None:
    """Show every process of the cluster and its state; exit 3 unless all are RUNNING."""
    paths = StatePaths.at(state_dir)
    processes = status(paths)
    if processes is None:
        out.print(f"kubenats cluster is not running (state: {paths.root}). Start it with `make up`.")
        raise typer.Exit(NOT_RUNNING)
    running = sum(p.running for p in processes)
    topology = running_topology(paths)
    out.print(f"kubenats cluster: {running}/{len(processes)} programs RUNNING (state: {paths.root})")
    out.print(_process_table(processes, topology))
    if topology is not None and _enabled(topology, "etcd"):
        _print_overview(asyncio.run(overview(topology, paths)))
    if running < len(processes):
        raise typer.Exit(NOT_RUNNING)


def _print_overview(found: Overview) -> None:
    """etcd's members with the leader, term and commit index; the leader of each elected component."""
    out.print()
    if found.etcd_error:
        out.print(f"[red]etcd did not answer:[/red] {escape(found.etcd_error)}")
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("ETCD MEMBER", "LEADER", "TERM", "COMMIT", "APPLIED"):
            table.add_column(column)
        for m in found.members:
            leader = "[green]leader[/green]" if m.is_leader else ""
            table.add_row(m.name, leader, str(m.term), str(m.commit), str(m.applied))
        out.print(table)
    if found.leaders_error:
        out.print(f"[red]leaders unknown:[/red] {escape(found.leaders_error)}")
    for component, replica in found.leaders.items():
        out.print(f"{component} leader: {escape(replica) if replica else '[red]none[/red]'}")


@app.command("logs")
def logs_command(
    program: Annotated[
        str | None, typer.Argument(help="program name, e.g. cp-1-nats, or supervisord", show_default=False)
    ] = None,
    follow_log: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="how many of the last lines")] = 50,
    state_dir: StateDir = None,
) -> None:
    """Print the last lines of one program's log (stdout and stderr), or follow it with -f."""
    paths = StatePaths.at(state_dir)
    if not program:
        known = ", ".join(program_names(paths)) or "none yet"
        raise _fail(f"name a program: `make logs C=<program>`; programs: {known}", 2)
    try:
        path = log_path(paths, program)
    except LookupError as error:
        raise _fail(str(error), 2) from None
    if not follow_log:
        sys.stdout.write("".join(f"{line}\n" for line in tail_lines(path, lines)))
        return
    try:
        for line in follow(path, lines):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
