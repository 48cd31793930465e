"""``deletecollection``'s pure parts: which resources and scopes serve it, routing, authorization."""

from __future__ import annotations

import pytest

from services.apiserver.auth import Attributes, Authorizer, UserInfo
from services.apiserver.collection import check_collection_delete, serves_delete_collection
from services.apiserver.handler import Route, authorization_attributes
from services.apiserver.metrics import METRICS_RESOURCES
from services.apiserver.rest import discovery
from services.apiserver.rest.paths import parse_path, route_for
from shared.apiprotocol import ApiRequest
from shared.errors import ApiError
from shared.models import RESOURCES, ResourceType


def _rt(plural: str) -> ResourceType:
    return next(rt for rt in RESOURCES if rt.plural == plural)


ADMIN = UserInfo("alice", "1", ("system:masters",))
VIEWER = UserInfo("bob", "2", ("system:viewers",))
SCHEDULER = UserInfo("system:kube-scheduler", "3", ())
CONTROLLERS = UserInfo("system:kube-controller-manager", "4", ())
NODE1 = UserInfo("system:node:worker-1", "5", ("system:nodes",))
AUTHZ = Authorizer(lambda namespace, name: "worker-1")
GROUPS = {"deployments": "apps", "replicasets": "apps", "endpointslices": "discovery.k8s.io"}


@pytest.mark.parametrize(
    ("plural", "served"),
    [
        ("pods", True),
        ("nodes", True),
        ("services", True),
        ("events", True),
        ("deployments", True),
        ("replicasets", True),
        ("leases", True),
        ("endpointslices", True),
        ("namespaces", False),
    ],
)
def test_every_stored_resource_but_namespaces_serves_delete_collection(plural: str, served: bool) -> None:
    assert serves_delete_collection(_rt(plural)) is served


def test_computed_metrics_resources_do_not_serve_delete_collection() -> None:
    assert not any(serves_delete_collection(rt) for rt in METRICS_RESOURCES)


@pytest.mark.parametrize(
    ("plural", "namespace", "allowed"),
    [
        ("pods", "team-a", True),
        ("pods", "", False),  # kube-apiserver routes /api/v1/pods for list and watch only
        ("deployments", "", False),
        ("nodes", "", True),  # cluster-scoped: the collection is the cluster's
        ("namespaces", "", False),
    ],
)
def test_collection_delete_needs_a_namespace_for_namespaced_resources(
    plural: str, namespace: str, allowed: bool
) -> None:
    if allowed:
        check_collection_delete(_rt(plural), namespace)
        return
    with pytest.raises(ApiError) as refused:
        check_collection_delete(_rt(plural), namespace)
    assert (refused.value.code, refused.value.reason) == (405, "MethodNotAllowed")
    assert refused.value.message == "the server does not allow this method on the requested resource"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces/ns/pods", ("pods", "ns")),
        ("/api/v1/pods", ("pods", "")),
        ("/api/v1/nodes", ("nodes", "")),
        ("/api/v1/namespaces", ("namespaces", "")),
        ("/apis/apps/v1/namespaces/ns/deployments", ("deployments", "ns")),
    ],
)
def test_delete_on_a_collection_path_routes_to_deletecollection(path: str, expected: tuple[str, str]) -> None:
    where = parse_path(path)
    r = route_for("DELETE", where, False)
    assert (r.rt.plural, where.namespace, r.verb) == (*expected, "deletecollection")


def _attributes(user: UserInfo, plural: str, namespace: str) -> Attributes:
    rt = next(rt for rt in RESOURCES if rt.plural == plural)
    return authorization_attributes(user, Route(rt, "deletecollection"), ApiRequest(namespace=namespace))


def test_deletecollection_without_a_namespace_is_authorized_at_the_cluster_scope() -> None:
    attributes = _attributes(ADMIN, "pods", "")
    assert (attributes.verb, attributes.namespace, attributes.name) == ("deletecollection", "", "")
    assert _attributes(ADMIN, "pods", "team-a").namespace == "team-a"


@pytest.mark.parametrize(
    ("user", "plural", "namespace", "allowed"),
    [
        (ADMIN, "pods", "team-a", True),
        (ADMIN, "nodes", "", True),
        # Kubernetes' namespace controller empties a deleted namespace collection by collection.
        (CONTROLLERS, "pods", "team-a", True),
        (CONTROLLERS, "services", "team-a", True),
        (CONTROLLERS, "deployments", "team-a", True),
        (CONTROLLERS, "endpointslices", "team-a", True),
        (VIEWER, "pods", "team-a", False),
        (SCHEDULER, "pods", "team-a", False),
        (NODE1, "pods", "team-a", False),  # a node deletes its own pods one by one
        (NODE1, "nodes", "", False),
    ],
)
def test_deletecollection_is_granted_as_kubernetes_default_roles_grant_it(
    user: UserInfo, plural: str, namespace: str, allowed: bool
) -> None:
    attributes = Attributes(user, "deletecollection", GROUPS.get(plural, ""), plural, "", namespace, "")
    assert AUTHZ.authorize(attributes).allowed is allowed


def test_refused_deletecollection_reads_as_kubernetes_words_it() -> None:
    attributes = Attributes(VIEWER, "deletecollection", "", "pods", "", "team-a", "")
    with pytest.raises(ApiError) as refused:
        AUTHZ.ensure_allowed(attributes)
    assert refused.value.code == 403
    assert refused.value.message == (
        'pods is forbidden: User "bob" cannot deletecollection resource "pods" in API group "" '
        'in the namespace "team-a"'
    )


def test_discovery_advertises_deletecollection_where_it_is_served() -> None:
    core = discovery.api_resource_list("", "v1")
    assert core is not None
    verbs = {entry["name"]: entry["verbs"] for entry in core["resources"]}
    assert verbs["pods"] == [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    assert "deletecollection" in verbs["nodes"]
    assert "deletecollection" not in verbs["namespaces"]
    assert "deletecollection" not in verbs["pods/status"]
    apps = discovery.aggregated(core=False)["items"]
    aggregated = {
        resource["resource"]: resource["verbs"]
        for item in apps
        for version in item["versions"]
        for resource in version["resources"]
    }
    assert "deletecollection" in aggregated["deployments"]
    assert "deletecollection" not in aggregated.get("pods", [])  # metrics.k8s.io pods are read-only
