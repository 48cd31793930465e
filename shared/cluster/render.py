"""The renderer: turns a topology into nats-server configs and one supervisord config, without side effects.

``render_cluster(topology, paths, credentials)`` returns every file as text keyed by path; ``write_rendered``
puts them on disk, readable by their owner only (they hold passwords). Each placement (component × host)
becomes one ``[program:<host>-<component>]``: the ``nats`` component runs the nats-server binary with its
rendered config, every other component runs ``python -m <module>`` with its ``args`` filled in for that
host and, given credentials, its NATS identity in its environment (``shared.bus.connect`` reads it).
Without credentials the servers let anyone in, as before there were any.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from shared.cluster.natsauth import ROUTE_USER, NatsCredentials, write_private
from shared.cluster.natsperms import authorization_block, route_authorization
from shared.cluster.paths import REPO_ROOT, StatePaths, binary
from shared.cluster.pki import PkiPaths
from shared.topology import INFRA_DIR, NATS, Placement, Replica, Topology

NATS_TEMPLATE = INFRA_DIR / "nats-server.conf.tmpl"
SUPERVISORD_TEMPLATE = INFRA_DIR / "supervisord.conf.tmpl"


@dataclass(frozen=True)
class Program:
    """One supervised process, as supervisord will run it."""

    name: str
    placement: Placement
    argv: tuple[str, ...]
    priority: int
    log: Path
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedCluster:
    """Every file a cluster needs, and the programs the supervisord config declares."""

    programs: tuple[Program, ...]
    files: dict[Path, str]

    @property
    def supervisord_conf(self) -> str:
        return next(text for path, text in self.files.items() if path.name == "supervisord.conf")


def _quote(value: str) -> str:
    # JSON strings are valid double-quoted strings in the NATS config format.
    return json.dumps(value)


def _supervisor_value(value: str) -> str:
    # supervisord expands %(name)s in most values; a literal percent sign is written %%.
    return value.replace("%", "%%")


_NO_AUTHORIZATION = "# No authorization: rendered without credentials, so any client may connect.\n"


def render_nats_conf(
    topology: Topology, replica: Replica, paths: StatePaths, credentials: NatsCredentials | None = None
) -> str:
    """The config of the nats-server beside ``replica``, routed to every other replica's server."""
    login = f"{ROUTE_USER}:{credentials.route_password}@" if credentials else ""
    routes = [
        f"    {_quote(f'nats-route://{login}{topology.host}:{other.route_port}')}"
        for other in topology.replicas
        if other.name != replica.name
    ]
    monitor = ""
    if replica.monitor_port is not None:
        monitor = f"http: {_quote(f'{topology.host}:{replica.monitor_port}')}"
    return Template(NATS_TEMPLATE.read_text()).substitute(
        server_name=replica.name,
        server_name_q=_quote(replica.name),
        cluster_name=topology.cluster_name,
        cluster_name_q=_quote(topology.cluster_name),
        host_q=_quote(str(topology.host)),
        port=replica.nats_port,
        route_port=replica.route_port,
        monitor=monitor,
        store_dir_q=_quote(str(paths.program_data(Placement(replica.name, "control-plane", NATS).program))),
        routes="\n".join(routes),
        route_authorization=route_authorization(credentials) if credentials else "",
        authorization=authorization_block(topology, credentials) if credentials else _NO_AUTHORIZATION,
    )


def placeholders(topology: Topology, placement: Placement, paths: StatePaths) -> dict[str, str]:
    """The values a component's ``args`` may refer to, for one placement."""
    values = {
        "name": placement.host,
        "nats": ",".join(topology.nats_urls()),
        "cluster_name": topology.cluster_name,
        "state_dir": str(paths.root),
        "data_dir": str(paths.program_data(placement.program)),
        "token_file": str(paths.token_file),
        **{key: f"{value:g}" for key, value in topology.timings.model_dump().items()},
    }
    if placement.role == "control-plane":
        nodes = topology.control_plane_nodes
        values["nats_local"] = topology.nats_url(topology.replica(placement.host))
        values["peers"] = ",".join(r.name for r in topology.replicas)
        values["https_port"] = str(topology.replica(placement.host).https_port or 0)
        values["tls_cert_file"] = str(PkiPaths(paths.pki).serving_cert)
        values["tls_private_key_file"] = str(PkiPaths(paths.pki).serving_key)
        # A control-plane Node's few pods run in its kubelet's own process: no runtime process there.
        values |= {"cpu": nodes.cpu, "memory": nodes.memory, "node_taints": nodes.taints}
        values |= {"node_role": "control-plane", "node_runtime": "inprocess"}
    else:
        # A worker has no server of its own; it prefers the first and fails over to the others.
        values["nats_local"] = topology.nats_urls()[0]
        values |= {"cpu": topology.workers.cpu, "memory": topology.workers.memory, "node_taints": ""}
        values |= {"node_role": "worker", "node_runtime": "nats"}
    return values


def program_for(
    topology: Topology, placement: Placement, paths: StatePaths, credentials: NatsCredentials | None = None
) -> Program:
    component = topology.components[placement.component]
    if placement.component == NATS:
        argv: tuple[str, ...] = (str(binary("nats-server")), "-c", str(paths.nats_conf(placement.host)))
        environment: dict[str, str] = {}
    else:
        assert component.module is not None  # the topology validates this
        values = placeholders(topology, placement, paths)
        args = tuple(arg.format(**values) for arg in component.args)
        argv = (sys.executable, "-m", component.module, *args)
        environment = {"PYTHONUNBUFFERED": "1"}
        if credentials is not None:
            environment |= credentials.environment(placement.program)
    return Program(
        name=placement.program,
        placement=placement,
        argv=argv,
        priority=component.priority,
        log=paths.program_log(placement.program),
        environment=environment,
    )


def render_program(program: Program) -> str:
    options = {
        "command": shlex.join(program.argv),
        "directory": str(REPO_ROOT),
        "priority": str(program.priority),
        "autostart": "true",
        "autorestart": "true",
        "startsecs": "1",
        "startretries": "3",
        "stopsignal": "TERM",
        "stopwaitsecs": "10",
        # Signals go to the whole process group, so no grandchild outlives its program.
        "stopasgroup": "true",
        "killasgroup": "true",
        "redirect_stderr": "true",
        "stdout_logfile": str(program.log),
        "stdout_logfile_maxbytes": "20MB",
        "stdout_logfile_backups": "2",
    }
    if program.environment:
        options["environment"] = ",".join(f'{key}="{value}"' for key, value in program.environment.items())
    lines = [f"[program:{program.name}]"]
    lines += [f"{key}={_supervisor_value(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def render_supervisord_conf(topology: Topology, paths: StatePaths, programs: tuple[Program, ...]) -> str:
    return Template(SUPERVISORD_TEMPLATE.read_text()).substitute(
        cluster_name=topology.cluster_name,
        config=_supervisor_value(str(paths.supervisord_conf)),
        socket=_supervisor_value(str(paths.socket)),
        logfile=_supervisor_value(str(paths.supervisord_log)),
        pidfile=_supervisor_value(str(paths.pidfile)),
        childlogdir=_supervisor_value(str(paths.logs)),
        directory=_supervisor_value(str(paths.root)),
        programs="\n".join(render_program(p) for p in programs),
    )


def render_cluster(
    topology: Topology, paths: StatePaths, credentials: NatsCredentials | None = None
) -> RenderedCluster:
    """Every config file of ``topology`` under ``paths``; nothing is written."""
    programs = tuple(program_for(topology, p, paths, credentials) for p in topology.placements())
    files = {
        paths.nats_conf(r.name): render_nats_conf(topology, r, paths, credentials) for r in topology.replicas
    }
    files[paths.topology_snapshot] = topology.model_dump_json(indent=2) + "\n"
    files[paths.supervisord_conf] = render_supervisord_conf(topology, paths, programs)
    return RenderedCluster(programs=programs, files=files)


def write_rendered(rendered: RenderedCluster, paths: StatePaths) -> None:
    paths.make_dirs()
    for path, text in rendered.files.items():
        write_private(path, text)
