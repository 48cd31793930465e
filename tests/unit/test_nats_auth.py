"""NATS identities and permissions of a `make up` cluster: who may touch the store, whose inboxes are whose,
what the rendered configs and program environments carry, and how ``bus.connect`` finds credentials."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from shared.bus import NATS_PASSWORD_ENV, NATS_USER_ENV, credentials
from shared.cli.connection import resolve
from shared.cluster.natsauth import (
    ADMIN,
    USER,
    NatsCredentials,
    completed,
    ensure_credentials,
    identities,
    load_credentials,
    with_credentials,
    without_credentials,
)
from shared.cluster.natsperms import Permissions, people_permissions, program_permissions
from shared.cluster.paths import StatePaths
from shared.cluster.render import render_cluster
from shared.topology import NATS, Placement, Topology, load_topology

STORE_SUBJECTS = ["etcd.kv.put", "etcd.kv.range", "etcd.member.cp-1.status", "etcd.watch.create"]
RAFT_SUBJECTS = ["raft.etcd.cp-1", "raft.etcd.cp-3"]
STORE_ROLES = {"etcd", "apiserver"}


def matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` one or more."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(wanted)


def may_publish(permissions: Permissions, subject: str) -> bool:
    allowed = any(matches(p, subject) for p in permissions.publish)
    return allowed and not any(matches(p, subject) for p in permissions.publish_deny)


def may_subscribe(permissions: Permissions, subject: str) -> bool:
    allowed = any(matches(p, subject) for p in permissions.subscribe)
    return allowed and not any(matches(p, subject) for p in permissions.subscribe_deny)


def every_program() -> list[Placement]:
    topology = everything_enabled()
    return [p for p in topology.placements() if p.component != NATS]


def everything_enabled() -> Topology:
    data = load_topology().model_dump(mode="json")
    for component in data["components"].values():
        component["enabled"] = True
    return Topology.model_validate(data)


def by_program(name: str) -> Permissions:
    return program_permissions(next(p for p in every_program() if p.program == name))


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("etcd.>", "etcd.kv.put", True),
        ("etcd.>", "etcd", False),
        ("raft.*.cp-1", "raft.etcd.cp-1", True),
        ("raft.*.cp-1", "raft.etcd.cp-2", False),
        ("node.*.cri.>", "node.worker-1.cri.run", True),
        ("api.>", "apix.core", False),
    ],
)
def test_the_tests_wildcard_matcher_follows_nats(pattern: str, subject: str, expected: bool) -> None:
    assert matches(pattern, subject) is expected


@pytest.mark.parametrize("placement", every_program(), ids=lambda p: p.program)
def test_only_the_store_and_the_api_server_may_touch_etcd_and_only_the_store_raft(
    placement: Placement,
) -> None:
    permissions = program_permissions(placement)
    store_role = placement.component in STORE_ROLES
    for subject in STORE_SUBJECTS:
        assert may_publish(permissions, subject) is store_role, subject
        assert may_subscribe(permissions, subject) is (placement.component == "etcd"), subject
    for subject in RAFT_SUBJECTS:
        raft_member = placement.component == "etcd"
        assert may_publish(permissions, subject) is raft_member, subject
        own = subject.endswith(f".{placement.host}")
        assert may_subscribe(permissions, subject) is (raft_member and own), subject
    if not store_role:
        assert {"etcd.>", "raft.>"} <= set(permissions.publish_deny) & set(permissions.subscribe_deny)


@pytest.mark.parametrize("placement", every_program(), ids=lambda p: p.program)
def test_a_program_reads_its_own_inboxes_only_and_writes_to_inboxes_only_if_it_streams(
    placement: Placement,
) -> None:
    permissions = program_permissions(placement)
    assert may_subscribe(permissions, f"_INBOX_OF.{placement.program}.abc.1")
    for other in ("cp-1-apiserver", "worker-1-kubelet", "user"):
        if other != placement.program:
            assert not may_subscribe(permissions, f"_INBOX_OF.{other}.abc.1")
    assert not may_subscribe(permissions, "_INBOX.abc")
    streams = placement.component in STORE_ROLES  # watch streams to the clients' deliver inboxes
    assert may_publish(permissions, "_INBOX_OF.worker-1-kubelet.abc") is streams
    assert may_publish(permissions, "_INBOX.abc") is streams


@pytest.mark.parametrize(
    ("program", "publish", "subscribe"),
    [
        (
            "cp-1-apiserver",
            ["etcd.kv.txn", "watch.core.v1.pods.default.web", "node.worker-1.logs", "node.cp-2.stats"],
            ["api.core.v1.pods.list", "$SRV.PING"],
        ),
        ("cp-2-scheduler", ["api.core.v1.pods.binding"], ["chaos.reset"]),
        ("cp-3-controller-manager", ["api.apps.v1.replicasets.update"], ["chaos.node.worker-1.crash"]),
        (
            "worker-1-kubelet",
            ["api.core.v1.nodes.update", "node.worker-1.cri.run"],
            ["node.worker-1.stats", "node.worker-1.logs"],
        ),
        ("worker-1-runtime", ["node.worker-1.svc.default.db"], ["node.worker-1.cri.run", "pod.10-0-1-5.80"]),
        ("worker-1-proxy", ["api.core.v1.services.list", "pod.10-0-1-5.80"], ["svc.default.web"]),
    ],
)
def test_each_role_may_do_what_it_does(program: str, publish: list[str], subscribe: list[str]) -> None:
    permissions = by_program(program)
    assert all(may_publish(permissions, s) for s in publish), publish
    assert all(may_subscribe(permissions, s) for s in subscribe), subscribe


@pytest.mark.parametrize(
    ("program", "publish", "subscribe"),
    [
        (
            "worker-1-kubelet",
            ["node.worker-2.cri.run", "watch.core.v1.pods.default.web"],
            ["node.worker-2.stats"],
        ),
        (
            "worker-1-kubelet",
            [],
            ["node.worker-1.cri.run", "node.worker-1.svc.default.db", "api.core.v1.pods.get"],
        ),
        (
            "worker-1-runtime",
            ["api.core.v1.pods.list", "node.worker-2.svc.default.db"],
            ["node.worker-2.cri.run"],
        ),
        (
            "worker-1-proxy",
            ["node.worker-1.cri.run", "chaos.reset"],
            ["node.worker-1.cri.run", "watch.core.v1.>"],
        ),
        ("cp-1-scheduler", ["watch.core.v1.pods.default.web", "svc.default.web"], ["api.core.v1.pods.list"]),
    ],
)
def test_each_role_may_not_do_what_another_does(
    program: str, publish: list[str], subscribe: list[str]
) -> None:
    permissions = by_program(program)
    assert not any(may_publish(permissions, s) for s in publish), publish
    assert not any(may_subscribe(permissions, s) for s in subscribe), subscribe


def test_the_user_identity_drives_the_api_services_and_chaos_but_not_the_store_or_a_runtime() -> None:
    user = people_permissions(USER)
    for subject in ("api.core.v1.pods.list", "svc.default.web", "chaos.node.worker-2.crash", "$SRV.PING"):
        assert may_publish(user, subject), subject
    for subject in ("node.worker-1.stats", "node.worker-1.proxy.stats", "node.worker-1.svc.default.web"):
        assert may_publish(user, subject), subject
    for subject in (*STORE_SUBJECTS, *RAFT_SUBJECTS, "node.worker-1.cri.run", "watch.core.v1.pods.a.b"):
        assert not may_publish(user, subject), subject
    for subject in ("watch.core.v1.pods.default.web", "_INBOX.abc", "_INBOX_OF.user.abc", "chaos.reset"):
        assert may_subscribe(user, subject), subject
    for subject in (*STORE_SUBJECTS, *RAFT_SUBJECTS, "_INBOX_OF.cp-1-apiserver.abc", "api.core.v1.pods.list"):
        assert not may_subscribe(user, subject), subject


def test_admin_may_do_anything() -> None:
    admin = people_permissions(ADMIN)
    for subject in (*STORE_SUBJECTS, *RAFT_SUBJECTS, "_INBOX_OF.cp-1-apiserver.abc", "anything.at.all"):
        assert may_publish(admin, subject) and may_subscribe(admin, subject)


def fixed_credentials(topology: Topology) -> NatsCredentials:
    return NatsCredentials({name: f"pw-{name}" for name in identities(topology)}, "pw-route")


def test_rendered_authorization_lists_every_identity_with_its_password_and_permissions() -> None:
    topology = load_topology()
    rendered = render_cluster(topology, StatePaths(Path("/srv/kn")), fixed_credentials(topology))
    conf = rendered.files[Path("/srv/kn/nats/cp-1.conf")]
    users_text = re.search(r"authorization \{\n  timeout: 2\n  users: (\[.*?\n  \])\n\}", conf, re.S)
    assert users_text is not None, conf
    users = {u["user"]: u for u in json.loads(users_text.group(1))}
    programs = [p.program for p in topology.placements() if p.component != NATS]
    assert sorted(users) == sorted([ADMIN, USER, *programs])
    assert all(u["password"] == f"pw-{name}" for name, u in users.items())
    kubelet = users["worker-2-kubelet"]["permissions"]
    assert (
        kubelet
        == program_permissions(
            next(p for p in topology.placements() if p.program == "worker-2-kubelet")
        ).to_config()
    )
    assert kubelet["allow_responses"] is True
    assert "etcd.>" in kubelet["publish"]["deny"] and "etcd.>" in kubelet["subscribe"]["deny"]
    assert "allow_responses" not in users["cp-1-scheduler"]["permissions"]
    assert "no_auth_user" not in conf  # nobody is let in without credentials


def test_rendered_routes_log_in_to_each_other() -> None:
    topology = load_topology()
    conf = render_cluster(topology, StatePaths(Path("/srv/kn")), fixed_credentials(topology)).files[
        Path("/srv/kn/nats/cp-2.conf")
    ]
    assert '"nats-route://route:pw-route@127.0.0.1:6222"' in conf
    assert '"nats-route://route:pw-route@127.0.0.1:6224"' in conf
    cluster_block = conf[conf.index("cluster {") : conf.index("routes: [")]
    assert 'user: "route"' in cluster_block and 'password: "pw-route"' in cluster_block


def test_each_program_gets_its_own_login_in_its_environment_and_nats_servers_none() -> None:
    topology = load_topology()
    rendered = render_cluster(topology, StatePaths(Path("/srv/kn")), fixed_credentials(topology))
    for program in rendered.programs:
        if program.placement.component == NATS:
            assert NATS_USER_ENV not in program.environment
            continue
        assert program.environment[NATS_USER_ENV] == program.name
        assert program.environment[NATS_PASSWORD_ENV] == f"pw-{program.name}"
    assert f'{NATS_USER_ENV}="worker-1-proxy"' in rendered.supervisord_conf


def test_rendered_without_credentials_the_servers_let_anyone_in() -> None:
    topology = load_topology()
    rendered = render_cluster(topology, StatePaths(Path("/srv/kn")))
    conf = rendered.files[Path("/srv/kn/nats/cp-1.conf")]
    assert "authorization {" not in conf
    assert '"nats-route://127.0.0.1:6223"' in conf
    assert all(NATS_USER_ENV not in p.environment for p in rendered.programs)


def test_completing_credentials_keeps_every_password_and_adds_new_identities() -> None:
    small = load_topology()
    first = completed(None, small)
    assert set(first.passwords) == {ADMIN, USER, *identities(small)}
    assert len(set(first.passwords.values())) == len(first.passwords)  # all different
    bigger = completed(first, small.with_workers(5))
    assert {k: bigger.passwords[k] for k in first.passwords} == dict(first.passwords)
    assert "worker-5-proxy" in bigger.passwords and bigger.route_password == first.route_password
    assert completed(bigger, small) == bigger  # a smaller topology removes nobody
    assert NatsCredentials.from_json(bigger.to_json(), "test") == bigger


def test_credentials_file_is_private_and_written_once(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path / "state")
    assert load_credentials(paths) is None
    written = ensure_credentials(load_topology(), paths)
    assert stat.S_IMODE(paths.nats_credentials.stat().st_mode) == 0o600
    assert ensure_credentials(load_topology(), paths) == written == load_credentials(paths)
    paths.nats_credentials.write_text("{}")
    with pytest.raises(ValueError, match="not a NATS credentials file"):
        load_credentials(paths)


@pytest.mark.parametrize(
    ("servers", "environ", "urls", "options"),
    [
        ("nats://a:4222,nats://b:4223", {}, ["nats://a:4222", "nats://b:4223"], {}),
        (
            "nats://worker-1-kubelet:s3cret@a:4222,nats://b:4223",
            {},
            ["nats://a:4222", "nats://b:4223"],
            {"user": "worker-1-kubelet", "password": "s3cret", "inbox_prefix": "_INBOX_OF.worker-1-kubelet"},
        ),
        (
            "nats://a:4222",
            {NATS_USER_ENV: "cp-1-etcd", NATS_PASSWORD_ENV: "pw"},
            ["nats://a:4222"],
            {"user": "cp-1-etcd", "password": "pw", "inbox_prefix": "_INBOX_OF.cp-1-etcd"},
        ),
        ("nats://a:4222", {NATS_USER_ENV: "cp-1-etcd"}, ["nats://a:4222"], {}),
        (
            "nats://user:p%40ss@a:4222",
            {NATS_USER_ENV: "cp-1-etcd", NATS_PASSWORD_ENV: "pw"},
            ["nats://a:4222"],
            {"user": "user", "password": "p@ss", "inbox_prefix": "_INBOX_OF.user"},
        ),
        ("nats://al.ice:pw@a:4222", {}, ["nats://a:4222"], {"user": "al.ice", "password": "pw"}),
    ],
    ids=["anonymous", "in-url", "environment", "half-environment", "url-wins", "user-not-a-token"],
)
def test_bus_finds_credentials_in_urls_then_the_environment(
    servers: str, environ: dict[str, str], urls: list[str], options: dict[str, str]
) -> None:
    assert credentials(servers, environ) == (urls, options)


def test_credentials_go_into_urls_and_passwords_out_of_messages() -> None:
    urls = with_credentials(["nats://127.0.0.1:4222", "nats://old:pw@127.0.0.1:4223"], "user", "p@ss")
    assert urls == ["nats://user:p%40ss@127.0.0.1:4222", "nats://user:p%40ss@127.0.0.1:4223"]
    assert without_credentials(",".join(urls)) == "nats://user@127.0.0.1:4222,nats://user@127.0.0.1:4223"
    assert without_credentials("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_the_cli_logs_in_as_user_or_as_the_identity_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topology = load_topology()
    paths = StatePaths(tmp_path)
    paths.topology_snapshot.write_text(topology.model_dump_json())
    for key in (NATS_USER_ENV, NATS_PASSWORD_ENV, "NATS_URL"):
        monkeypatch.delenv(key, raising=False)
    assert resolve(None, "token", tmp_path).servers == ",".join(topology.nats_urls())  # no credentials yet

    saved = ensure_credentials(topology, paths)
    target = resolve(None, "token", tmp_path)
    assert target.servers == ",".join(saved.urls(topology.nats_urls(), USER))
    assert saved.password(USER) not in target.shown and "nats://user@127.0.0.1:4222" in target.shown
    monkeypatch.setenv(NATS_USER_ENV, ADMIN)
    assert resolve(None, "token", tmp_path).servers.startswith(f"nats://admin:{saved.password(ADMIN)}@")
    monkeypatch.setenv(NATS_PASSWORD_ENV, "given")  # a whole login in the environment is bus.connect's
    assert resolve("nats://elsewhere:4222", "token", tmp_path).servers == "nats://elsewhere:4222"
