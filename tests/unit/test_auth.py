"""API server authentication and authorization: the token file, the bearer header, and the auth matrix."""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.apiserver import auth
from services.apiserver.auth import (
    AUTHENTICATED_GROUP,
    DEFAULT_BINDINGS,
    Attributes,
    Authorizer,
    ClusterRole,
    ClusterRoleBinding,
    Only,
    TokenAuthenticator,
    TokenFileError,
    UserInfo,
    bearer_token,
    forbidden,
    forbidden_message,
    generate_token_file,
    node_name,
    parse_token_file,
    rule,
)
from shared.errors import ApiError

# --- token file -------------------------------------------------------------------------------------------


def users(text: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(token, u.name, u.uid, u.groups) for token, u in parse_token_file(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("tok1,alice,1001", [("tok1", "alice", "1001", (AUTHENTICATED_GROUP,))], id="no-groups"),
        pytest.param(
            'tok1,alice,1001,"system:masters,dev"',
            [("tok1", "alice", "1001", ("system:masters", "dev", AUTHENTICATED_GROUP))],
            id="quoted-groups-with-comma",
        ),
        pytest.param(
            "tok1,system:node:w-1,n1,system:nodes",
            [("tok1", "system:node:w-1", "n1", ("system:nodes", AUTHENTICATED_GROUP))],
            id="one-unquoted-group",
        ),
        pytest.param("tok1,alice,", [("tok1", "alice", "", (AUTHENTICATED_GROUP,))], id="empty-uid"),
        pytest.param("tok1,alice,1,", [("tok1", "alice", "1", (AUTHENTICATED_GROUP,))], id="empty-groups"),
        pytest.param(
            'tok1,alice,1," a , b ,,a"',
            [("tok1", "alice", "1", ("a", "b", AUTHENTICATED_GROUP))],
            id="groups-trimmed-deduplicated",
        ),
        pytest.param(
            f"tok1,alice,1,{AUTHENTICATED_GROUP}",
            [("tok1", "alice", "1", (AUTHENTICATED_GROUP,))],
            id="authenticated-group-not-doubled",
        ),
        pytest.param(
            "# token,user,uid,groups\n\n   \ntok1,alice,1\n  # indented comment\r\ntok2,bob,2\n",
            [
                ("tok1", "alice", "1", (AUTHENTICATED_GROUP,)),
                ("tok2", "bob", "2", (AUTHENTICATED_GROUP,)),
            ],
            id="comments-blank-lines-crlf",
        ),
        pytest.param(
            '"tok1","my, user","u1"', [("tok1", "my, user", "u1", (AUTHENTICATED_GROUP,))], id="quoted-name"
        ),
        pytest.param("", [], id="empty-file"),
    ],
)
def test_token_file_parses_kube_apiserver_format(
    text: str, expected: list[tuple[str, str, str, tuple[str, ...]]]
) -> None:
    assert users(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "tok1,alice",
            "tokens.csv:1: must have at least 3 columns (token, user name, user uid), found 2",
            id="two-columns",
        ),
        pytest.param("# ok\ntok1", "tokens.csv:2: must have at least 3 columns", id="one-column-line-2"),
        pytest.param("tok1,alice,1,g1,g2", "tokens.csv:1: has 5 columns, at most 4", id="unquoted-groups"),
        pytest.param('tok1,alice,1,"g1', "tokens.csv:1: malformed CSV", id="unterminated-quote"),
        pytest.param(",alice,1", "tokens.csv:1: empty token", id="empty-token"),
        pytest.param("tok1,,1", "tokens.csv:1: empty user name", id="empty-user"),
        pytest.param(
            '"to k",alice,1', "tokens.csv:1: a token may hold only visible ASCII", id="space-in-token"
        ),
        pytest.param("tökén,alice,1", "tokens.csv:1: a token may hold only visible ASCII", id="non-ascii"),
    ],
)
def test_token_file_bad_line_is_an_error_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(TokenFileError) as caught:
        parse_token_file(text, "tokens.csv")
    assert str(caught.value).startswith(message)


def test_duplicate_token_is_an_error_naming_both_lines() -> None:
    text = "tok1,alice,1\n# spacer\ntok2,bob,2\ntok1,mallory,3\n"
    with pytest.raises(TokenFileError, match=r"^tokens\.csv:4: duplicate token \(first on line 1\)$"):
        parse_token_file(text, "tokens.csv")


def test_token_file_error_never_echoes_the_token() -> None:
    with pytest.raises(TokenFileError) as caught:
        parse_token_file("s3cr3t-token,alice", "tokens.csv")
    assert "s3cr3t" not in str(caught.value)


def test_from_file_loads_and_tolerates_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_bytes(b"\xef\xbb\xbftok1,alice,1\n")
    authenticator = TokenAuthenticator.from_file(path)
    assert len(authenticator) == 1
    assert authenticator.authenticate("Bearer tok1").name == "alice"


def test_from_file_missing_file_is_a_token_file_error(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="cannot read token file"):
        TokenAuthenticator.from_file(tmp_path / "absent.csv")


def test_from_file_rejects_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_bytes(b"tok1,al\xffice,1\n")
    with pytest.raises(TokenFileError, match="not UTF-8"):
        TokenAuthenticator.from_file(path)


def test_from_file_error_names_the_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("tok1,alice,1\ntok1,bob,2\n")
    with pytest.raises(TokenFileError, match=rf"^{path}:2: duplicate token"):
        TokenAuthenticator.from_file(path)


# --- bearer header ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        pytest.param("Bearer tok1", "tok1", id="bearer"),
        pytest.param("bearer tok1", "tok1", id="lower-case-scheme"),
        pytest.param("BEARER tok1", "tok1", id="upper-case-scheme"),
        pytest.param("  Bearer tok1 \t", "tok1", id="surrounding-whitespace-trimmed-like-kubernetes"),
        pytest.param("Basic tok1", None, id="basic-scheme"),
        pytest.param("Bearertok1", None, id="no-space"),
        pytest.param("Bearer", None, id="scheme-only"),
        pytest.param("Bearer ", None, id="scheme-and-space"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
        pytest.param("Bearer  tok1", None, id="two-spaces"),
        pytest.param("Bearer\ttok1", None, id="tab-separator"),
        pytest.param("Bearer tok1 extra", None, id="trailing-junk"),
        pytest.param("tok1", None, id="bare-token"),
        pytest.param("Bearer tök1", None, id="non-ascii-token"),
    ],
)
def test_bearer_header_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


AUTHN = TokenAuthenticator.from_text(
    'tok-alice,alice,1001,"system:masters"\ntok-bob,bob,1002\ntok-node,system:node:worker-1,n1,system:nodes\n'
)


def test_known_token_authenticates_with_groups_and_system_authenticated() -> None:
    assert AUTHN.authenticate("Bearer tok-alice") == UserInfo(
        "alice", "1001", ("system:masters", AUTHENTICATED_GROUP)
    )
    assert AUTHN.authenticate("bearer tok-bob") == UserInfo("bob", "1002", (AUTHENTICATED_GROUP,))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer tok-unknown",
        "Bearer tok-alic",  # a prefix of a real token
        "Bearer tok-alice2",  # a real token plus more
        "Basic tok-alice",
        "Bearertok-alice",
        "Bearer  tok-alice",
        "Bearer tök-alice",  # non-ASCII must be a 401, not a TypeError from compare_digest
    ],
)
def test_missing_malformed_or_unknown_token_is_401_unauthorized(header: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        AUTHN.authenticate(header)
    error = caught.value
    assert (error.code, error.reason, error.message) == (401, "Unauthorized", "Unauthorized")
    assert error.to_status()["reason"] == "Unauthorized"


def test_authenticate_compares_against_every_token_without_stopping_at_a_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authenticator = TokenAuthenticator.from_text("\n".join(f"tok{i},user{i},{i}" for i in range(5)))
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    assert authenticator.authenticate("Bearer tok0").name == "user0"
    assert len(calls) == 5
    # Fixed-length digests, so no comparison is cut short by a length mismatch.
    assert {len(a) for a, _ in calls} | {len(b) for _, b in calls} == {32}


def test_authenticator_constructed_from_mapping_adds_system_authenticated() -> None:
    authenticator = TokenAuthenticator({"tok": UserInfo("svc", "9", ("g",))})
    assert authenticator.authenticate("Bearer tok").groups == ("g", AUTHENTICATED_GROUP)


# --- generated token file ---------------------------------------------------------------------------------

IDENTITIES = [
    UserInfo("admin", "admin", ("system:masters",)),
    UserInfo("system:kube-scheduler", "scheduler"),
    UserInfo("system:node:worker-1", "node-worker-1", ("system:nodes",)),
    UserInfo("viewer, with comma", "v", ("system:viewers", "team-a")),
]


def test_generated_token_file_is_private_and_authenticates_each_identity(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    tokens = generate_token_file(path, IDENTITIES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["tokens.csv"]  # no temporary file left behind
    authenticator = TokenAuthenticator.from_file(path)
    for identity in IDENTITIES:
        user = authenticator.authenticate(f"Bearer {tokens[identity.name]}")
        assert user == UserInfo(identity.name, identity.uid, (*identity.groups, AUTHENTICATED_GROUP))
    assert len(set(tokens.values())) == len(IDENTITIES)
    assert all(len(token) >= 43 for token in tokens.values())  # 256 bits, URL-safe base64


def test_generated_tokens_differ_between_runs(tmp_path: Path) -> None:
    first = generate_token_file(tmp_path / "a.csv", IDENTITIES[:1])
    second = generate_token_file(tmp_path / "b.csv", IDENTITIES[:1])
    assert first != second


def test_generate_token_file_refuses_to_replace_an_existing_file_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    old = generate_token_file(path, IDENTITIES[:1])
    with pytest.raises(FileExistsError):
        generate_token_file(path, IDENTITIES[:1])
    assert TokenAuthenticator.from_file(path).authenticate(f"Bearer {old['admin']}").name == "admin"
    assert os.listdir(tmp_path) == ["tokens.csv"]
    new = generate_token_file(path, IDENTITIES[:1], overwrite=True)
    assert TokenAuthenticator.from_file(path).authenticate(f"Bearer {new['admin']}").name == "admin"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "identities",
    [
        pytest.param([UserInfo("")], id="empty-name"),
        pytest.param([UserInfo("a"), UserInfo("a")], id="duplicate-name"),
        pytest.param([UserInfo("a", "", ("g1,g2",))], id="comma-in-group"),
        pytest.param([UserInfo("a\nb")], id="line-break-in-name"),
        pytest.param([UserInfo(" a ")], id="spaces-around-name"),
    ],
)
def test_generate_token_file_refuses_identities_the_format_cannot_carry(
    tmp_path: Path, identities: list[UserInfo]
) -> None:
    with pytest.raises(ValueError):
        generate_token_file(tmp_path / "tokens.csv", identities)
    assert os.listdir(tmp_path) == []


# --- the auth matrix --------------------------------------------------------------------------------------

ADMIN = UserInfo("alice", "1", ("system:masters", AUTHENTICATED_GROUP))
VIEWER = UserInfo("bob", "2", ("system:viewers", AUTHENTICATED_GROUP))
SCHEDULER = UserInfo("system:kube-scheduler", "3", (AUTHENTICATED_GROUP,))
CONTROLLERS = UserInfo("system:kube-controller-manager", "4", (AUTHENTICATED_GROUP,))
NODE1 = UserInfo("system:node:worker-1", "5", ("system:nodes", AUTHENTICATED_GROUP))
IMPOSTOR = UserInfo("system:node:worker-1", "6", (AUTHENTICATED_GROUP,))
NODES_GROUP_ONLY = UserInfo("dave", "7", ("system:nodes", AUTHENTICATED_GROUP))
NAMELESS_NODE = UserInfo("system:node:", "8", ("system:nodes", AUTHENTICATED_GROUP))
NOBODY = UserInfo("carol", "9", (AUTHENTICATED_GROUP,))

GROUPS = {
    "deployments": "apps",
    "replicasets": "apps",
    "endpointslices": "discovery.k8s.io",
    "leases": "coordination.k8s.io",
}

# Where pods run: what the API server's watch cache would answer.
PODS = {("default", "web-0"): "worker-1", ("default", "web-1"): "worker-2", ("default", "pending"): None}


def lookup(namespace: str, name: str) -> str | None:
    return PODS.get((namespace, name))


AUTHZ = Authorizer(lookup)


def request(user: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "") -> Attributes:
    """``request(NODE1, "update", "pods/status", "default", "web-0")``; the API group follows the resource."""
    base, _, sub = resource.partition("/")
    return Attributes(user, verb, GROUPS.get(base, ""), base, sub, namespace, name)


Case = tuple[UserInfo, str, str, str, str]


def case(user: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "") -> Case:
    return (user, verb, resource, namespace, name)


ROLE_LABELS = {
    ADMIN: "admin",
    VIEWER: "viewer",
    SCHEDULER: "scheduler",
    CONTROLLERS: "controller-manager",
    NODE1: "node-worker-1",
    IMPOSTOR: "impostor-without-nodes-group",
    NODES_GROUP_ONLY: "nodes-group-without-node-name",
    NAMELESS_NODE: "empty-node-name",
    NOBODY: "no-role",
}


def case_id(c: Case) -> str:
    """``node-worker-1 update pods/status default/web-0``."""
    user, verb, resource, namespace, name = c
    where = "/".join(part for part in (namespace, name) if part)
    return " ".join(part for part in (ROLE_LABELS[user], verb or '""', resource, where) if part)


ALLOWED: list[Case] = [
    # cluster-admin: everything
    *(case(ADMIN, verb, "pods", "default", "web-1") for verb in ("get", "update", "patch", "delete")),
    case(ADMIN, "list", "pods"),
    case(ADMIN, "watch", "pods", "default"),
    case(ADMIN, "create", "pods", "default", "new"),
    case(ADMIN, "create", "pods/binding", "default", "pending"),
    case(ADMIN, "update", "pods/status", "default", "web-1"),
    case(ADMIN, "create", "pods/eviction", "default", "web-1"),
    case(ADMIN, "patch", "deployments/scale", "default", "web"),
    case(ADMIN, "delete", "nodes", "", "worker-2"),
    case(ADMIN, "delete", "namespaces", "", "default"),
    case(ADMIN, "update", "leases", "kube-node-lease", "worker-2"),
    # viewer: get, list, watch on everything
    *(case(VIEWER, verb, "pods", "default") for verb in ("list", "watch")),
    case(VIEWER, "get", "pods", "default", "web-0"),
    case(VIEWER, "get", "pods/status", "default", "web-0"),
    case(VIEWER, "list", "nodes"),
    case(VIEWER, "get", "deployments", "default", "web"),
    case(VIEWER, "get", "deployments/scale", "default", "web"),
    case(VIEWER, "watch", "replicasets"),
    case(VIEWER, "list", "endpointslices", "default"),
    case(VIEWER, "list", "leases", "kube-node-lease"),
    case(VIEWER, "list", "events", "default"),
    case(VIEWER, "get", "namespaces", "", "default"),
    # kube-scheduler
    *(case(SCHEDULER, verb, "pods") for verb in ("list", "watch")),
    case(SCHEDULER, "get", "pods", "default", "pending"),
    case(SCHEDULER, "list", "nodes"),
    case(SCHEDULER, "watch", "namespaces"),
    case(SCHEDULER, "list", "services"),
    case(SCHEDULER, "watch", "replicasets"),
    case(SCHEDULER, "create", "pods/binding", "default", "pending"),
    case(SCHEDULER, "update", "pods/status", "default", "pending"),
    case(SCHEDULER, "patch", "pods/status", "default", "pending"),
    *(case(SCHEDULER, verb, "events", "default") for verb in ("create", "update", "patch")),
    *(
        case(SCHEDULER, verb, "leases", "kube-system", "kube-scheduler")
        for verb in ("get", "create", "update")
    ),
    # kube-controller-manager
    *(case(CONTROLLERS, "list", resource) for resource in ("pods", "nodes", "namespaces", "services")),
    *(case(CONTROLLERS, "watch", resource) for resource in ("replicasets", "deployments", "endpointslices")),
    case(CONTROLLERS, "list", "leases", "kube-node-lease"),
    case(CONTROLLERS, "get", "events", "default", "e1"),
    *(
        case(CONTROLLERS, verb, "pods", "default", "web-1")
        for verb in ("create", "update", "patch", "delete")
    ),
    *(case(CONTROLLERS, verb, "replicasets", "default", "rs") for verb in ("create", "update", "delete")),
    case(CONTROLLERS, "update", "replicasets/status", "default", "rs"),
    case(CONTROLLERS, "patch", "deployments", "default", "web"),
    case(CONTROLLERS, "delete", "deployments", "default", "web"),
    case(CONTROLLERS, "update", "deployments/status", "default", "web"),
    *(case(CONTROLLERS, verb, "endpointslices", "default", "s") for verb in ("create", "patch", "delete")),
    case(CONTROLLERS, "delete", "services", "default", "db"),
    case(CONTROLLERS, "delete", "leases", "kube-node-lease", "worker-2"),
    case(CONTROLLERS, "create", "events", "default"),
    case(CONTROLLERS, "delete", "events", "default", "e1"),
    case(CONTROLLERS, "update", "pods/status", "default", "web-1"),
    case(CONTROLLERS, "create", "pods/eviction", "default", "web-1"),
    case(CONTROLLERS, "update", "nodes", "", "worker-2"),
    case(CONTROLLERS, "patch", "nodes/status", "", "worker-2"),
    case(CONTROLLERS, "delete", "namespaces", "", "doomed"),
    case(CONTROLLERS, "update", "namespaces/status", "", "doomed"),
    case(CONTROLLERS, "update", "namespaces/finalize", "", "doomed"),
    *(
        case(CONTROLLERS, verb, "leases", "kube-system", "kube-controller-manager")
        for verb in ("get", "create", "update")
    ),
    # node worker-1: reads, its own Node and Lease, the pods bound to it, events
    *(case(NODE1, verb, "pods") for verb in ("list", "watch")),
    case(NODE1, "get", "pods", "default", "web-1"),
    case(NODE1, "get", "nodes", "", "worker-2"),
    case(NODE1, "list", "nodes"),
    case(NODE1, "watch", "services"),
    case(NODE1, "list", "endpointslices"),
    case(NODE1, "create", "nodes", "", "worker-1"),
    case(NODE1, "update", "nodes", "", "worker-1"),
    case(NODE1, "patch", "nodes", "", "worker-1"),
    case(NODE1, "update", "nodes/status", "", "worker-1"),
    case(NODE1, "patch", "nodes/status", "", "worker-1"),
    *(case(NODE1, verb, "leases", "kube-node-lease", "worker-1") for verb in ("get", "create", "update")),
    case(NODE1, "update", "pods/status", "default", "web-0"),
    case(NODE1, "patch", "pods/status", "default", "web-0"),
    case(NODE1, "delete", "pods", "default", "web-0"),
    *(case(NODE1, verb, "events", "default") for verb in ("create", "update", "patch")),
]

REFUSED: list[Case] = [
    # viewer: nothing but reads
    *(case(VIEWER, verb, "pods", "default", "web-0") for verb in ("create", "update", "patch", "delete")),
    case(VIEWER, "update", "pods/status", "default", "web-0"),
    case(VIEWER, "create", "pods/binding", "default", "pending"),
    case(VIEWER, "patch", "deployments/scale", "default", "web"),
    case(VIEWER, "create", "namespaces", "", "x"),
    # kube-scheduler: no pod writes beyond binding and status, no lease but its own
    *(case(SCHEDULER, verb, "pods", "default", "web-0") for verb in ("create", "update", "patch", "delete")),
    case(SCHEDULER, "create", "pods/eviction", "default", "web-0"),
    case(SCHEDULER, "list", "deployments"),
    case(SCHEDULER, "list", "endpointslices"),
    case(SCHEDULER, "update", "nodes", "", "worker-1"),
    case(SCHEDULER, "update", "nodes/status", "", "worker-1"),
    case(SCHEDULER, "delete", "events", "default", "e1"),
    case(SCHEDULER, "list", "leases", "kube-system"),
    case(SCHEDULER, "get", "leases", "kube-system", "kube-controller-manager"),
    case(SCHEDULER, "update", "leases", "kube-system", "kube-controller-manager"),
    case(SCHEDULER, "update", "leases", "default", "kube-scheduler"),
    case(SCHEDULER, "update", "leases", "kube-node-lease", "worker-1"),
    case(SCHEDULER, "delete", "leases", "kube-system", "kube-scheduler"),
    # kube-controller-manager: creates only what it owns
    case(CONTROLLERS, "create", "deployments", "default", "web"),
    case(CONTROLLERS, "create", "services", "default", "db"),
    case(CONTROLLERS, "create", "namespaces", "", "x"),
    case(CONTROLLERS, "create", "nodes", "", "worker-9"),
    case(CONTROLLERS, "delete", "nodes", "", "worker-1"),
    case(CONTROLLERS, "create", "pods/binding", "default", "pending"),
    case(CONTROLLERS, "update", "deployments/scale", "default", "web"),
    case(CONTROLLERS, "create", "leases", "kube-system", "kube-scheduler"),
    case(CONTROLLERS, "create", "leases", "kube-node-lease", "worker-1"),
    case(CONTROLLERS, "update", "namespaces", "", "default"),
    # node worker-1: never another node's objects, never pods not bound to it
    case(NODE1, "create", "nodes", "", "worker-2"),
    case(NODE1, "update", "nodes", "", "worker-2"),
    case(NODE1, "patch", "nodes", "", "worker-2"),
    case(NODE1, "update", "nodes/status", "", "worker-2"),
    case(NODE1, "patch", "nodes/status", "", "worker-2"),
    case(NODE1, "update", "nodes/status"),
    case(NODE1, "create", "nodes"),  # generateName: no name to check
    case(NODE1, "delete", "nodes", "", "worker-1"),
    case(NODE1, "get", "leases", "kube-node-lease", "worker-2"),
    case(NODE1, "update", "leases", "kube-node-lease", "worker-2"),
    case(NODE1, "create", "leases", "kube-node-lease", "worker-2"),
    case(NODE1, "delete", "leases", "kube-node-lease", "worker-1"),
    case(NODE1, "list", "leases", "kube-node-lease"),
    case(NODE1, "update", "leases", "kube-system", "worker-1"),
    case(NODE1, "update", "pods/status", "default", "web-1"),  # bound to worker-2
    case(NODE1, "patch", "pods/status", "default", "web-1"),
    case(NODE1, "update", "pods/status", "default", "pending"),  # not bound
    case(NODE1, "update", "pods/status", "default", "ghost"),  # unknown
    case(NODE1, "update", "pods/status", "other", "web-0"),  # same name, other namespace
    case(NODE1, "delete", "pods", "default", "web-1"),
    case(NODE1, "delete", "pods", "default", "pending"),
    case(NODE1, "update", "pods", "default", "web-0"),  # the spec, even of its own pod
    case(NODE1, "patch", "pods", "default", "web-0"),
    case(NODE1, "create", "pods", "default", "mirror"),
    case(NODE1, "create", "pods/binding", "default", "pending"),
    case(NODE1, "create", "pods/eviction", "default", "web-0"),
    case(NODE1, "list", "namespaces"),
    case(NODE1, "get", "deployments", "default", "web"),
    case(NODE1, "list", "replicasets"),
    case(NODE1, "list", "events"),
    case(NODE1, "delete", "events", "default", "e1"),
    case(NODE1, "update", "services", "default", "db"),
    case(NODE1, "delete", "endpointslices", "default", "s"),
    # a node name without the group, the group without a node name, and nobody in particular
    case(IMPOSTOR, "get", "pods", "default", "web-0"),
    case(IMPOSTOR, "list", "nodes"),
    case(IMPOSTOR, "update", "nodes/status", "", "worker-1"),
    case(IMPOSTOR, "update", "pods/status", "default", "web-0"),
    case(IMPOSTOR, "update", "leases", "kube-node-lease", "worker-1"),
    case(NODES_GROUP_ONLY, "list", "pods"),
    case(NODES_GROUP_ONLY, "update", "nodes/status", "", "dave"),
    case(NAMELESS_NODE, "list", "pods"),
    case(NAMELESS_NODE, "update", "nodes", "", ""),
    case(NOBODY, "get", "pods", "default", "web-0"),
    case(NOBODY, "list", "namespaces"),
    # verbs outside the API are refused even for cluster-admin
    case(ADMIN, "deleteall", "pods", "default"),
    case(ADMIN, "*", "pods", "default"),
    case(ADMIN, "", "pods", "default"),
]


@pytest.mark.parametrize("c", ALLOWED, ids=case_id)
def test_role_is_allowed(c: Case) -> None:
    decision = AUTHZ.authorize(request(*c))
    assert decision.allowed, decision.reason
    assert decision.reason.startswith("allowed by ClusterRoleBinding")


@pytest.mark.parametrize("c", REFUSED, ids=case_id)
def test_role_is_refused(c: Case) -> None:
    attrs = request(*c)
    assert not AUTHZ.authorize(attrs).allowed
    with pytest.raises(ApiError) as caught:
        AUTHZ.ensure_allowed(attrs)
    assert (caught.value.code, caught.value.reason) == (403, "Forbidden")


def test_allowed_decision_names_the_binding_and_subject() -> None:
    assert AUTHZ.authorize(request(ADMIN, "delete", "nodes", "", "w")).reason == (
        "allowed by ClusterRoleBinding 'cluster-admin' of ClusterRole 'cluster-admin' "
        "to Group 'system:masters'"
    )
    assert AUTHZ.authorize(request(NODE1, "update", "pods/status", "default", "web-0")).reason == (
        "allowed by ClusterRoleBinding 'system:node' of ClusterRole 'system:node' to Node 'worker-1'"
    )


def test_refusal_reason_says_the_pod_is_bound_elsewhere() -> None:
    decision = AUTHZ.authorize(request(NODE1, "update", "pods/status", "default", "web-1"))
    assert decision == auth.Decision(False, "pod default/web-1 is not bound to node 'worker-1'")


def test_pod_lookup_runs_once_and_only_for_a_node_acting_on_one_pod() -> None:
    calls: list[tuple[str, str]] = []

    def counting(namespace: str, name: str) -> str | None:
        calls.append((namespace, name))
        return lookup(namespace, name)

    authorizer = Authorizer(counting)
    authorizer.authorize(request(ADMIN, "update", "pods/status", "default", "web-0"))
    authorizer.authorize(request(SCHEDULER, "update", "pods/status", "default", "web-0"))
    authorizer.authorize(request(NODE1, "get", "pods", "default", "web-0"))
    authorizer.authorize(request(IMPOSTOR, "update", "pods/status", "default", "web-0"))
    authorizer.authorize(request(NODE1, "update", "pods/status", "default", ""))
    assert calls == []
    authorizer.authorize(request(NODE1, "delete", "pods", "default", "web-1"))
    assert calls == [("default", "web-1")]


def test_node_is_refused_a_pod_whose_lookup_answers_empty_node_name() -> None:
    authorizer = Authorizer(lambda namespace, name: "")
    assert not authorizer.authorize(request(NODE1, "update", "pods/status", "default", "web-0")).allowed


def test_node_identity_needs_both_the_user_prefix_and_the_group() -> None:
    assert node_name(NODE1) == "worker-1"
    assert node_name(IMPOSTOR) is None
    assert node_name(NODES_GROUP_ONLY) is None
    assert node_name(NAMELESS_NODE) is None


def test_a_node_in_system_masters_keeps_cluster_admin() -> None:
    both = UserInfo("system:node:worker-1", "x", ("system:nodes", "system:masters"))
    assert AUTHZ.authorize(request(both, "update", "nodes", "", "worker-2")).allowed


@given(
    verb=st.sampled_from(sorted(auth.VERBS)),
    resource=st.sampled_from(
        ["pods", "pods/status", "pods/binding", "nodes", "nodes/status", "leases", "deployments", "events"]
    ),
    namespace=st.sampled_from(["", "default", "kube-system", "kube-node-lease"]),
    name=st.sampled_from(["", "worker-1", "web-0", "kube-scheduler"]),
    groups=st.lists(st.sampled_from(["system:authenticated", "team-a", "system:unauthenticated"])),
)
def test_no_role_means_no_access(
    verb: str, resource: str, namespace: str, name: str, groups: list[str]
) -> None:
    user = UserInfo("system:node:worker-1", "", tuple(groups))
    assert not AUTHZ.authorize(request(user, verb, resource, namespace, name)).allowed


@given(
    verb=st.sampled_from(["create", "update", "patch", "delete"]),
    resource=st.sampled_from(["nodes", "nodes/status", "leases", "pods", "pods/status"]),
    name=st.sampled_from(["worker-2", "worker-10", "worker-1x", "web-1", "pending", ""]),
    namespace=st.sampled_from(["", "default", "kube-node-lease"]),
)
def test_node_never_writes_an_object_of_another_node(
    verb: str, resource: str, name: str, namespace: str
) -> None:
    assert not AUTHZ.authorize(request(NODE1, verb, resource, namespace, name)).allowed


# --- 403 message ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        pytest.param(
            request(NODE1, "update", "pods/status", "default", "web-0"),
            'pods "web-0" is forbidden: User "system:node:worker-1" cannot update resource "pods/status" '
            'in API group "" in the namespace "default"',
            id="namespaced-subresource",
        ),
        pytest.param(
            request(IMPOSTOR, "list", "nodes"),
            'nodes is forbidden: User "system:node:worker-1" cannot list resource "nodes" in API group "" '
            "at the cluster scope",
            id="cluster-scope-list",
        ),
        pytest.param(
            request(NODE1, "update", "nodes", "", "worker-2"),
            'nodes "worker-2" is forbidden: User "system:node:worker-1" cannot update resource "nodes" '
            'in API group "" at the cluster scope',
            id="cluster-scope-named",
        ),
        pytest.param(
            request(VIEWER, "patch", "deployments/scale", "default", "web"),
            'deployments.apps "web" is forbidden: User "bob" cannot patch resource "deployments/scale" '
            'in API group "apps" in the namespace "default"',
            id="group-qualified",
        ),
        pytest.param(
            request(VIEWER, "create", "pods", "default", "web-9"),
            'pods is forbidden: User "bob" cannot create resource "pods" in API group "" '
            'in the namespace "default"',
            id="create-has-no-name-as-in-kubernetes",
        ),
        pytest.param(
            request(VIEWER, "create", "pods/binding", "default", "web-9"),
            'pods "web-9" is forbidden: User "bob" cannot create resource "pods/binding" in API group "" '
            'in the namespace "default"',
            id="subresource-create-has-the-name",
        ),
        pytest.param(
            request(UserInfo('ev"il\nname'), "get", "pods", "default", "x"),
            'pods "x" is forbidden: User "ev\\"il\\nname" cannot get resource "pods" in API group "" '
            'in the namespace "default"',
            id="user-name-escaped-like-go-quote",
        ),
    ],
)
def test_forbidden_message_is_kubernetes_wording(attrs: Attributes, message: str) -> None:
    assert forbidden_message(attrs) == message
    # No pod is bound anywhere here, so worker-1's status update on web-0 is refused too.
    with pytest.raises(ApiError) as caught:
        Authorizer(lambda namespace, name: None).ensure_allowed(attrs)
    assert caught.value.message == message


def test_forbidden_status_carries_code_reason_and_details() -> None:
    status = forbidden(request(NODE1, "update", "pods/status", "default", "web-1")).to_status()
    assert status["code"] == 403
    assert status["reason"] == "Forbidden"
    assert status["details"] == {"kind": "pods", "name": "web-1"}
    assert "worker-2" not in status["message"]  # where the pod runs is for the log, not the client
    apps = forbidden(request(VIEWER, "delete", "deployments", "default", "web")).to_status()
    assert apps["details"] == {"group": "apps", "kind": "deployments", "name": "web"}


# --- the policy table itself ------------------------------------------------------------------------------


def test_rule_with_unknown_verb_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="unknown verbs"):
        rule("escalate", "pods")


def test_pod_on_own_node_rule_must_be_about_core_pods() -> None:
    with pytest.raises(ValueError, match="applies to core pods only"):
        rule("update", "nodes", only=Only.POD_ON_OWN_NODE)


def test_node_relative_role_cannot_be_bound_to_users_or_groups() -> None:
    role = ClusterRole("own", (rule("update", "nodes", only=Only.OWN_NODE),))
    with pytest.raises(ValueError, match="node-relative"):
        ClusterRoleBinding("b", role, groups=frozenset({"system:masters"}))


def test_rule_with_names_never_matches_a_request_without_a_name() -> None:
    leases = rule("list", "leases", "coordination.k8s.io", names="kube-scheduler")
    assert not leases.matches(request(SCHEDULER, "list", "leases", "kube-system"))


def test_extra_binding_grants_through_the_same_table() -> None:
    proxier = ClusterRole("system:node-proxier", (rule(("list", "watch"), "services"),))
    authorizer = Authorizer(
        lookup, (*DEFAULT_BINDINGS, ClusterRoleBinding("kp", proxier, users=frozenset({"system:kube-proxy"})))
    )
    proxy = UserInfo("system:kube-proxy")
    assert authorizer.authorize(request(proxy, "watch", "services")).allowed
    assert not authorizer.authorize(request(proxy, "get", "services", "default", "db")).allowed
