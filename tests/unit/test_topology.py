"""The topology model and the renderer: validation of bad files, and the configs a topology becomes."""

from __future__ import annotations

import configparser
import copy
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.cluster.paths import StatePaths
from shared.cluster.render import placeholders, render_cluster
from shared.topology import (
    DEFAULT_TOPOLOGY,
    ROLE_PLACEHOLDERS,
    HostRole,
    Placement,
    Topology,
    TopologyError,
    load_topology,
    validate_topology,
)

Data = dict[str, Any]


def default_data() -> Data:
    data: Data = yaml.safe_load(DEFAULT_TOPOLOGY.read_text())
    return data


def mutated(change: Callable[[Data], object]) -> Data:
    data = copy.deepcopy(default_data())
    change(data)
    return data


def state(tmp: str = "/srv/kn") -> StatePaths:
    return StatePaths(Path(tmp))


# --- the default topology -------------------------------------------------------------------------------


def test_default_topology_has_three_replicas_three_workers_and_control_plane_enabled() -> None:
    topology = load_topology()
    assert [r.name for r in topology.replicas] == ["cp-1", "cp-2", "cp-3"]
    assert [r.nats_port for r in topology.replicas] == [4222, 4223, 4224]
    assert [r.route_port for r in topology.replicas] == [6222, 6223, 6224]
    assert topology.workers.names() == ["worker-1", "worker-2", "worker-3"]
    assert (topology.workers.cpu, topology.workers.memory) == ("4", "8Gi")
    assert [p.program for p in topology.placements()][:9] == [
        *("cp-1-nats", "cp-2-nats", "cp-3-nats"),
        *("cp-1-etcd", "cp-2-etcd", "cp-3-etcd"),
        *("cp-1-apiserver", "cp-2-apiserver", "cp-3-apiserver"),
    ]
    assert topology.nats_urls() == [f"nats://127.0.0.1:{port}" for port in (4222, 4223, 4224)]


def test_default_topology_records_fast_failure_detection_timings() -> None:
    timings = load_topology().timings
    assert timings.node_grace_period_seconds == 5
    assert timings.eviction_toleration_seconds == 5
    assert timings.leader_lease_seconds == 3


def test_default_topology_runs_every_component_and_a_kubelet_on_every_host() -> None:
    topology = load_topology()
    assert all(c.enabled for c in topology.components.values())
    programs = [p.program for p in topology.placements()]
    per_replica = ("nats", "etcd", "apiserver", "scheduler", "controller-manager", "kubelet")
    per_worker = ("runtime", "kubelet", "proxy")
    assert sorted(programs) == sorted(
        [f"cp-{n}-{c}" for n in (1, 2, 3) for c in per_replica]
        + [f"worker-{n}-{c}" for n in (1, 2, 3) for c in per_worker]
    )


def test_workers_override_changes_only_the_worker_count() -> None:
    topology = load_topology(workers=10)
    assert topology.workers.names()[-1] == "worker-10"
    assert len(topology.workers.names()) == 10
    assert topology.replicas == load_topology().replicas
    assert load_topology().with_workers(2).workers.names() == ["worker-1", "worker-2"]


# --- validation -----------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


INVALID: list[tuple[str, Callable[[Data], None], str]] = [
    ("port zero", _set("replicas.0.nats_port", 0), "replicas.0.nats_port: Input should be greater than"),
    ("port too high", _set("replicas.1.route_port", 70000), "replicas.1.route_port: Input should be less"),
    ("port not a number", _set("replicas.0.nats_port", "http"), "replicas.0.nats_port"),
    ("port used twice", _set("replicas.1.nats_port", 4222), "port 4222 is used more than once"),
    (
        "client port equals a route port",
        _set("replicas.0.nats_port", 6223),
        "port 6223 is used more than once",
    ),
    ("duplicate replica", _set("replicas.1.name", "cp-1"), "duplicate replica name: cp-1"),
    ("replica name not DNS", _set("replicas.0.name", "CP_1"), "must be a DNS-1123 label"),
    ("no replicas", _set("replicas", []), "replicas: Tuple should have at least 1 item"),
    ("zero workers", _set("workers.count", 0), "workers.count: Input should be greater than or equal to 1"),
    ("negative workers", _set("workers.count", -3), "workers.count"),
    ("worker named like a replica", _set("workers.name_prefix", "cp"), "duplicate host name"),
    ("bad cpu", _set("workers.cpu", "four"), "must be a positive CPU quantity"),
    ("zero cpu", _set("workers.cpu", "0"), "must be a positive CPU quantity"),
    ("bad memory", _set("workers.memory", "8 gigs"), "must be a positive memory quantity"),
    ("unknown field", _set("workerz", {"count": 3}), "workerz: Extra inputs are not permitted"),
    ("timing not positive", _set("timings.leader_lease_seconds", 0), "timings.leader_lease_seconds"),
    ("lease shorter than renew", _set("timings.leader_lease_seconds", 1), "leader_lease_seconds >"),
    ("heartbeat beyond grace", _set("timings.node_heartbeat_seconds", 9), "node_heartbeat_seconds must be"),
    ("nats disabled", _set("components.nats.enabled", False), "'nats' must have role control-plane"),
    ("nats on workers", _set("components.nats.role", "worker"), "'nats' must have role control-plane"),
    ("service without module", _set("components.etcd.module", None), "'etcd' needs a module"),
    ("module not dotted name", _set("components.etcd.module", "services/etcd"), "dotted Python module"),
    ("bad role", _set("components.etcd.role", "master"), "components.etcd.role"),
    ("unknown placeholder", _set("components.etcd.args", ["--x", "{nope}"]), "unknown placeholder {nope}"),
    (
        "replica placeholder on workers",
        _set("components.proxy.args", ["{peers}"]),
        "unknown placeholder {peers}",
    ),
    ("broken template", _set("components.proxy.args", ["{name"]), "not a valid template"),
    ("component name not DNS", _set("components.Kube_Proxy", {"role": "worker", "module": "m"}), "DNS-1123"),
    ("bad cluster name", _set("cluster_name", "Kube Nats"), "cluster_name"),
]


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_topology_is_rejected_with_a_clear_message(
    change: Callable[[Data], None], message: str
) -> None:
    with pytest.raises(TopologyError) as caught:
        validate_topology(mutated(change))
    assert message in str(caught.value)


def test_missing_nats_component_is_rejected() -> None:
    data = mutated(lambda d: d["components"].pop("nats"))
    with pytest.raises(TopologyError, match="components must include 'nats'"):
        validate_topology(data)


def test_every_problem_is_reported_at_once() -> None:
    data = mutated(lambda d: (d["replicas"][0].update(nats_port=0), d["workers"].update(count=0)))
    with pytest.raises(TopologyError) as caught:
        validate_topology(data)
    assert "replicas.0.nats_port" in str(caught.value)
    assert "workers.count" in str(caught.value)


def test_load_topology_names_the_file_and_its_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(TopologyError, match=r"cannot read topology .*missing\.yaml"):
        load_topology(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("replicas: [\n")
    with pytest.raises(TopologyError, match=r"broken\.yaml is not valid YAML"):
        load_topology(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("3\n")
    with pytest.raises(TopologyError, match="must hold a mapping"):
        load_topology(scalar)
    with pytest.raises(TopologyError, match=r"topology.yaml is invalid:\nworkers.count"):
        load_topology(DEFAULT_TOPOLOGY, workers=0)


# --- rendering ------------------------------------------------------------------------------------------


CORE = ("nats", "etcd", "apiserver")


def enabled(*names: str) -> Topology:
    """The default topology with only the core components and ``names`` enabled."""

    def change(data: Data) -> None:
        for name, component in data["components"].items():
            component["enabled"] = name in CORE or name in names

    return validate_topology(mutated(change))


def supervisord_sections(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def test_rendered_supervisord_config_has_one_program_per_enabled_component_and_host() -> None:
    paths = state()
    rendered = render_cluster(enabled(), paths)
    parser = supervisord_sections(rendered.supervisord_conf)
    programs = [s.removeprefix("program:") for s in parser.sections() if s.startswith("program:")]
    assert programs == [f"cp-{n}-{c}" for c in ("nats", "etcd", "apiserver") for n in (1, 2, 3)]
    assert parser["unix_http_server"]["file"] == "/srv/kn/supervisord.sock"
    assert parser["supervisord"]["pidfile"] == "/srv/kn/supervisord.pid"
    assert parser["supervisord"]["logfile"] == "/srv/kn/logs/supervisord.log"
    assert parser["supervisorctl"]["serverurl"] == "unix:///srv/kn/supervisord.sock"
    program = parser["program:cp-2-nats"]
    assert shlex.split(program["command"])[1:] == ["-c", "/srv/kn/nats/cp-2.conf"]
    assert shlex.split(program["command"])[0].endswith("nats-server")
    for option in ("stopasgroup", "killasgroup", "autorestart", "autostart", "redirect_stderr"):
        assert program[option] == "true", option
    assert program["stdout_logfile"] == "/srv/kn/logs/cp-2-nats.log"


def test_rendered_nats_config_routes_to_the_other_two_servers_only() -> None:
    rendered = render_cluster(load_topology(), state())
    conf = rendered.files[Path("/srv/kn/nats/cp-2.conf")]
    assert 'server_name: "cp-2"' in conf
    assert 'host: "127.0.0.1"' in conf
    assert "port: 4223" in conf
    assert "port: 6223" in conf
    assert '"nats-route://127.0.0.1:6222"' in conf
    assert '"nats-route://127.0.0.1:6224"' in conf
    assert '6223"' not in conf  # no route to itself
    assert "max_payload: 8MB" in conf
    assert "enabled: false" in conf
    assert 'store_dir: "/srv/kn/data/cp-2-nats"' in conf
    assert 'name: "kubenats"' in conf
    assert 'http: "127.0.0.1:8223"' in conf


def test_nats_config_without_monitor_port_has_no_http_listener() -> None:
    topology = validate_topology(mutated(lambda d: [r.pop("monitor_port") for r in d["replicas"]]))
    conf = render_cluster(topology, state()).files[Path("/srv/kn/nats/cp-1.conf")]
    assert "http:" not in conf


def test_enabled_services_become_programs_with_their_args_filled_in() -> None:
    topology = enabled("etcd", "kubelet")
    rendered = render_cluster(topology, state())
    names = [p.name for p in rendered.programs]
    assert names == [
        "cp-1-nats",
        "cp-2-nats",
        "cp-3-nats",
        "cp-1-etcd",
        "cp-2-etcd",
        "cp-3-etcd",
        "cp-1-apiserver",
        "cp-2-apiserver",
        "cp-3-apiserver",
        "cp-1-kubelet",
        "cp-2-kubelet",
        "cp-3-kubelet",
        "worker-1-kubelet",
        "worker-2-kubelet",
        "worker-3-kubelet",
    ]
    etcd = next(p for p in rendered.programs if p.name == "cp-2-etcd")
    urls = "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
    assert etcd.argv == (
        sys.executable,
        "-m",
        "services.etcd",
        "--nats",
        urls,
        "--name",
        "cp-2",
        "--peers",
        "cp-1,cp-2,cp-3",
        "--data-dir",
        "/srv/kn/data/cp-2-etcd",
        "--request-timeout",
        "2.5",
    )
    kubelet = next(p for p in rendered.programs if p.name == "worker-3-kubelet")
    assert kubelet.argv[2:] == (
        "services.kubelet",
        *("--nats", urls, "--node", "worker-3", "--token-file", "/srv/kn/auth/tokens.csv"),
        *("--cpu", "4", "--memory", "8Gi", "--role", "worker", "--taints", "", "--runtime", "nats"),
        *("--lease-seconds", "1"),
    )
    control_plane = next(p for p in rendered.programs if p.name == "cp-1-kubelet")
    assert control_plane.argv[control_plane.argv.index("--cpu") :] == (
        *("--cpu", "2", "--memory", "4Gi", "--role", "control-plane"),
        *("--taints", "node-role.kubernetes.io/control-plane:NoSchedule", "--runtime", "inprocess"),
        *("--lease-seconds", "1"),
    )
    parser = supervisord_sections(rendered.supervisord_conf)
    assert int(parser["program:cp-1-nats"]["priority"]) < int(parser["program:cp-1-etcd"]["priority"])
    assert parser["program:worker-1-kubelet"]["environment"] == 'PYTHONUNBUFFERED="1"'


def test_program_names_follow_the_worker_count() -> None:
    topology = enabled("proxy").with_workers(5)
    names = [p.name for p in render_cluster(topology, state()).programs]
    assert names[-1] == "worker-5-proxy"
    assert len(names) == 3 * 3 + 5  # nats, etcd and apiserver on each replica, a proxy on each worker


def test_percent_signs_in_paths_are_escaped_for_supervisord() -> None:
    rendered = render_cluster(load_topology(), state("/srv/100%"))
    parser = supervisord_sections(rendered.supervisord_conf)
    assert parser["supervisord"]["pidfile"] == "/srv/100%%/supervisord.pid"


def test_rendering_writes_nothing(tmp_path: Path) -> None:
    render_cluster(load_topology(), StatePaths(tmp_path / "state"))
    assert not (tmp_path / "state").exists()


def test_rendered_topology_snapshot_round_trips() -> None:
    topology = load_topology(workers=7)
    rendered = render_cluster(topology, state())
    snapshot = rendered.files[Path("/srv/kn/topology.json")]
    assert Topology.model_validate_json(snapshot) == topology


def test_renderer_fills_exactly_the_placeholders_the_model_allows() -> None:
    topology = load_topology()
    cases: list[tuple[HostRole, str]] = [("control-plane", "cp-1"), ("worker", "worker-1")]
    for role, host in cases:
        placement = Placement(host=host, role=role, component="any")
        assert set(placeholders(topology, placement, state())) == ROLE_PLACEHOLDERS[role]


def test_a_node_component_runs_on_every_host_with_its_own_node_settings() -> None:
    data = load_topology().model_dump(mode="json")
    data["components"]["kubelet"] = {"role": "node", "enabled": True, "module": "services.kubelet"}
    topology = Topology.model_validate(data)
    kubelets = [p for p in topology.placements() if p.component == "kubelet"]
    values = {p.host: placeholders(topology, p, state()) for p in kubelets}

    assert [p.host for p in kubelets] == ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3"]
    assert values["cp-1"]["node_taints"] == "node-role.kubernetes.io/control-plane:NoSchedule"
    assert (values["cp-1"]["node_role"], values["cp-1"]["node_runtime"]) == ("control-plane", "inprocess")
    assert (values["worker-1"]["node_taints"], values["worker-1"]["node_runtime"]) == ("", "nats")
    assert values["worker-1"]["cpu"] == topology.workers.cpu != values["cp-1"]["cpu"]
