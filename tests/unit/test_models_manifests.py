"""Real-world manifests parse into the models and come back with every key and value they went in with.

Normalisation allowed in the round trip, and only this: a quantity written as a YAML number
(``cpu: 0.5``, ``cpu: 2``) comes back as a string with the same decimal text (``"0.5"``, ``"2"``), which is
also how Kubernetes' JSON writes quantities. Everything else must be identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.models import (
    Deployment,
    LabelSelector,
    Lease,
    Node,
    NodeSelector,
    ObjectList,
    Pod,
    PodCondition,
    Quantity,
    ReplicaSet,
    Service,
    Status,
    StatusError,
    Taint,
    Toleration,
    UnsupportedKindError,
    WatchEvent,
    field_errors,
    is_node_ready,
    make_list,
    new_already_exists,
    new_conflict,
    new_forbidden,
    new_invalid,
    new_not_found,
    new_resource_expired,
    new_unauthorized,
    parse_object,
    parse_watch_event,
    pod_requests,
    scaled_value_from_int_or_percent,
    to_dict,
    to_json,
)
from tests.builders import make_node, make_pod
from tests.manifests import MANIFESTS, needs_manifests, require_manifests

SUPPORTED = {
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "Service"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("coordination.k8s.io/v1", "Lease"),
    ("v1", "Event"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
}
EXPECTED_UNSUPPORTED = {
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("v1", "LimitRange"),
    ("v1", "ReplicationController"),
    ("extensions/v1beta1", "Deployment"),
}
QUANTITY_MAPS = {"requests", "limits", "capacity", "allocatable", "overhead"}


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    if not MANIFESTS.is_dir():
        return
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        docs = yaml.safe_load_all(path.read_text(encoding="utf-8"))
        for index, doc in enumerate(docs):
            if doc is not None:
                yield f"{path.relative_to(MANIFESTS)}#{index}-{doc.get('kind')}", doc


DOCUMENTS = list(_documents())
SUPPORTED_DOCS = [
    pytest.param(doc, id=name) for name, doc in DOCUMENTS if (doc["apiVersion"], doc["kind"]) in SUPPORTED
]
UNSUPPORTED_DOCS = [
    pytest.param(doc, id=name) for name, doc in DOCUMENTS if (doc["apiVersion"], doc["kind"]) not in SUPPORTED
]


def _load(name: str) -> dict[str, Any]:
    require_manifests()
    doc = yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def assert_preserved(given: Any, written: Any, path: str = "") -> None:
    """Every key path and leaf value of ``given`` is in ``written`` (quantity numbers may become text)."""
    if isinstance(given, Mapping):
        assert isinstance(written, Mapping), f"{path}: expected a mapping, got {written!r}"
        for key, value in given.items():
            assert key in written, f"{path}.{key}: key dropped"
            assert_preserved(value, written[key], f"{path}.{key}")
    elif isinstance(given, list):
        assert isinstance(written, list) and len(written) == len(given), f"{path}: list changed"
        for index, (g, w) in enumerate(zip(given, written, strict=True)):
            assert_preserved(g, w, f"{path}[{index}]")
    elif path.rsplit(".", 2)[-2] in QUANTITY_MAPS and isinstance(given, int | float) and given is not True:
        assert written == repr(given), f"{path}: quantity {given!r} came back as {written!r}"
    else:
        assert written == given and type(written) is type(given), f"{path}: {given!r} became {written!r}"


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ({"a": {"b": 1}}, {"a": {}}),
        ({"a": [1, 2]}, {"a": [1]}),
        ({"a": 1}, {"a": "1"}),
        ({"requests": {"cpu": 0.5}}, {"requests": {"cpu": "500m"}}),
    ],
)
def test_round_trip_check_catches_dropped_keys_and_changed_values(given: Any, written: Any) -> None:
    with pytest.raises(AssertionError):
        assert_preserved(given, written)


# Shapes as `kubectl get -o yaml` prints them, for the kinds no manifest file has; `x-extra` keys are unknown
# fields at several depths that must survive.
NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "worker-1", "labels": {"kubernetes.io/hostname": "worker-1"}, "x-extra": 1},
    "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "k", "effect": "NoSchedule", "x-extra": True}]},
    "status": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "3800m", "memory": 8000000000, "pods": 110},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": "2024-05-01T12:00:00Z",
                "lastTransitionTime": "2024-05-01T11:00:00Z",
                "reason": "KubeletReady",
            }
        ],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
        "nodeInfo": {"kubeletVersion": "v1.31.0", "architecture": "amd64", "x-extra": "kept"},
        "images": [{"names": ["nginx"], "sizeBytes": 1}],
    },
}
LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "worker-1", "namespace": "kube-node-lease", "resourceVersion": "42"},
    "spec": {
        "holderIdentity": "worker-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2024-05-01T12:00:00.123456Z",
        "acquireTime": "2024-05-01T11:00:00.000000Z",
    },
}
EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "web-0.17c", "namespace": "default", "creationTimestamp": None},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0", "apiVersion": "v1"},
    "reason": "Scheduled",
    "message": "Successfully assigned default/web-0 to worker-1",
    "source": {"component": "default-scheduler"},
    "firstTimestamp": "2024-05-01T12:00:00Z",
    "lastTimestamp": "2024-05-01T12:00:00Z",
    "count": 1,
    "type": "Normal",
    "eventTime": None,
    "reportingComponent": "default-scheduler",
}
ENDPOINT_SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {"name": "web-abc12", "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "endpoints": [
        {
            "addresses": ["10.244.1.5"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": "worker-1",
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0", "uid": "u1"},
            "x-extra": {"deep": [1, 2]},
        }
    ],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
}


@needs_manifests
def test_the_manifest_corpus_covers_supported_and_unsupported_kinds() -> None:
    kinds = {(doc["apiVersion"], doc["kind"]) for _, doc in DOCUMENTS}
    assert kinds >= EXPECTED_UNSUPPORTED
    assert kinds >= {("v1", "Pod"), ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("v1", "Service")}


@pytest.mark.parametrize("doc", [*SUPPORTED_DOCS, NODE, LEASE, EVENT, ENDPOINT_SLICE])
def test_supported_kind_round_trips_every_key_and_value(doc: dict[str, Any]) -> None:
    obj = parse_object(doc)
    written = to_dict(obj)
    assert_preserved(doc, written)
    assert to_dict(parse_object(written)) == written
    assert json.loads(to_json(obj)) == written


@pytest.mark.parametrize("doc", UNSUPPORTED_DOCS)
def test_unsupported_kind_is_refused_naming_kind_and_version(doc: dict[str, Any]) -> None:
    expected = f'no kind "{doc["kind"]}" is registered for version "{doc["apiVersion"]}"'
    with pytest.raises(UnsupportedKindError) as caught:
        parse_object(doc)
    assert str(caught.value) == expected


def test_extensions_v1beta1_deployment_is_refused() -> None:
    doc = _load("kubernetes-examples/guestbook-frontend-deployment.yaml")
    with pytest.raises(UnsupportedKindError, match='no kind "Deployment" is registered for version'):
        parse_object(doc)


def test_document_without_kind_is_refused() -> None:
    with pytest.raises(UnsupportedKindError, match="Object 'Kind' is missing"):
        parse_object({"apiVersion": "v1", "metadata": {"name": "x"}})


def test_yaml_number_quantity_is_written_back_as_its_text() -> None:
    pod = parse_object(_load("kubernetes-examples/mysql.yaml"))
    assert isinstance(pod, Pod)
    assert pod.spec.containers[0].resources.limits["cpu"] == Quantity("500m")
    assert to_dict(pod)["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "0.5"}


def test_unset_defaults_read_as_kubernetes_defaults_but_are_not_written() -> None:
    deployment = parse_object(_load("kubernetes-website/nginx-deployment.yaml"))
    assert isinstance(deployment, Deployment)
    assert deployment.spec.strategy.rolling_update.max_surge == "25%"
    assert deployment.spec.template.spec.restart_policy == "Always"
    assert "strategy" not in to_dict(deployment)["spec"]


def test_percent_max_surge_keeps_its_string_and_resolves_against_replicas() -> None:
    deployment = parse_object(_load("kubernetes-website/deployment-retainkeys.yaml"))
    assert isinstance(deployment, Deployment)
    surge = deployment.spec.strategy.rolling_update.max_surge
    assert surge == "30%"
    assert scaled_value_from_int_or_percent(surge, 10, round_up=True) == 3
    assert scaled_value_from_int_or_percent("25%", 3, round_up=False) == 0
    with pytest.raises(ValueError, match="not a percentage"):
        scaled_value_from_int_or_percent("3", 10, round_up=True)


def test_unknown_fields_survive_at_every_depth() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": True}
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "x0": 1,
        "metadata": {"name": "p", "x1": {"a": [1]}, "ownerReferences": [{**owner, "x2": 2}]},
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}, "x3": 3}, "x4": "4"}],
            "affinity": {"nodeAffinity": {"x5": 5}},
            "x6": None,
        },
        "status": {"containerStatuses": [{"name": "c", "state": {"running": {"x7": 7}}}]},
    }
    assert_preserved(doc, to_dict(parse_object(doc)))


def test_object_built_in_code_writes_kind_and_in_place_edits() -> None:
    pod = Pod()
    assert to_dict(pod) == {"apiVersion": "v1", "kind": "Pod"}
    pod.metadata.labels["app"] = "web"
    pod.status.conditions.append(PodCondition(type="Ready", status="True"))
    assert to_dict(pod)["metadata"] == {"labels": {"app": "web"}}
    assert to_dict(pod)["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


def test_missing_container_name_reports_a_kubernetes_field_path() -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"}, "spec": {"containers": [{}]}}
    with pytest.raises(ValidationError) as caught:
        parse_object(doc)
    errors = field_errors(caught.value, Pod)
    assert [str(e) for e in errors] == ["spec.containers[0].name: Required value"]
    status = new_invalid("Pod", "web-0", errors)
    assert status.message == 'Pod "web-0" is invalid: spec.containers[0].name: Required value'
    assert to_dict(status)["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].name"}
    ]


def test_bad_quantity_and_operator_report_paths_with_map_keys_in_brackets() -> None:
    container = {"name": "c", "resources": {"requests": {"cpu": "10mi"}}}
    selector = {"matchExpressions": [{"key": "a", "operator": "Maybe"}]}
    template = {"spec": {"containers": [container]}}
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"selector": selector, "template": template},
    }
    with pytest.raises(ValidationError) as caught:
        parse_object(doc)
    assert sorted(str(e) for e in field_errors(caught.value, Deployment)) == [
        'spec.selector.matchExpressions[0].operator: Unsupported value: "Maybe": '
        'supported values: "In", "NotIn", "Exists", "DoesNotExist"',
        'spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: "10mi": '
        "unable to parse quantity's suffix",
    ]


def test_pod_requests_uses_pod_level_resources_when_set() -> None:
    pod = parse_object(_load("kubernetes-website/pod-level-resources.yaml"))
    assert isinstance(pod, Pod)
    assert pod_requests(pod) == {"cpu": Quantity("1"), "memory": Quantity("100Mi")}


def test_pod_requests_of_a_single_container_pod() -> None:
    pod = parse_object(_load("kubernetes-website/cpu-request-limit.yaml"))
    assert isinstance(pod, Pod)
    assert pod_requests(pod) == {"cpu": Quantity("500m")}


def test_pod_requests_sums_only_what_containers_request() -> None:
    pod = parse_object(_load("kubernetes-website/qos-pod-4.yaml"))
    assert isinstance(pod, Pod)
    assert pod_requests(pod) == {"memory": Quantity("200Mi")}


def test_pod_requests_take_the_larger_of_containers_and_each_init_container() -> None:
    pod = (
        make_pod()
        .requests(cpu="200m", memory="1Gi")
        .requests(cpu="300m")
        .init_container("init", {"cpu": "1", "memory": "100Mi"})
    )
    assert pod_requests(pod.obj()) == {"cpu": Quantity("1"), "memory": Quantity("1Gi")}


def test_pod_requests_add_sidecars_to_containers_and_to_later_init_containers() -> None:
    pod = (
        make_pod()
        .init_container("sidecar", {"cpu": "100m"}, sidecar=True)
        .init_container("init", {"cpu": "450m"})
        .requests(cpu="200m")
        .requests(cpu="200m")
        .obj()
    )
    # Apps and sidecar: 500m. While "init" runs beside the sidecar: 550m.
    assert pod_requests(pod) == {"cpu": Quantity("550m")}


def test_pod_level_resources_override_only_cpu_memory_and_hugepages() -> None:
    pod = make_pod().requests({"nvidia.com/gpu": 1}, cpu="2", memory="1Gi").pod_resources(cpu="3").obj()
    pod.spec.overhead["cpu"] = Quantity("250m")
    assert pod_requests(pod) == {
        "cpu": Quantity("3250m"),
        "memory": Quantity("1Gi"),
        "nvidia.com/gpu": Quantity(1),
    }


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {"app": "x"}, True),
        ({}, {}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "fe"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
        ({"matchLabels": {"app": "web"}}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, {"env": "b"}, True),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {"env": "a"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": "a"}, False),
        (
            {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]},
            {"app": "web"},
            False,
        ),
    ],
)
def test_label_selector_matches_like_kubernetes(
    selector: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    assert LabelSelector.model_validate(selector).matches(labels) is matches


def test_service_selector_matches_the_deployment_pod_template() -> None:
    service = parse_object(_load("kubernetes-website/nginx-service.yaml"))
    deployment = parse_object(_load("kubernetes-website/nginx-deployment.yaml"))
    assert isinstance(service, Service) and isinstance(deployment, Deployment)
    template_labels = deployment.spec.template.metadata.labels
    assert LabelSelector(match_labels=service.spec.selector).matches(template_labels)
    assert deployment.spec.selector is not None and deployment.spec.selector.matches(template_labels)


def test_website_replica_set_selector_also_matches_guestbook_frontend_pods() -> None:
    replica_set = parse_object(_load("kubernetes-website/frontend.yaml"))
    guestbook = parse_object(_load("kubernetes-examples/frontend-deployment.yaml"))
    assert isinstance(replica_set, ReplicaSet) and isinstance(guestbook, Deployment)
    assert replica_set.spec.selector is not None
    assert replica_set.spec.selector.matches(guestbook.spec.template.metadata.labels)


def test_pod_affinity_terms_parse_match_expressions() -> None:
    pod = parse_object(_load("kubernetes-website/pod-with-pod-affinity.yaml"))
    assert isinstance(pod, Pod) and pod.spec.affinity is not None and pod.spec.affinity.pod_affinity
    (term,) = pod.spec.affinity.pod_affinity.required_during_scheduling_ignored_during_execution
    assert term.topology_key == "topology.kubernetes.io/zone"
    assert term.label_selector is not None
    assert term.label_selector.matches({"security": "S1"})
    assert not term.label_selector.matches({"security": "S2"})


def test_named_target_port_resolves_against_the_pod_container_ports() -> None:
    service = parse_object(
        {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": "http"}]}}
    )
    assert isinstance(service, Service)
    port = service.spec.ports[0]
    assert port.resolve_target_port(make_pod().container(ports={"http": 8080}).obj()) == 8080
    assert port.resolve_target_port(make_pod().obj()) is None


def test_node_builder_and_parsed_node_expose_readiness_and_allocatable() -> None:
    node = parse_object(NODE)
    assert isinstance(node, Node) and is_node_ready(node)
    assert node.status.allocatable["cpu"].milli_value() == 3800
    built = make_node().name("n1").capacity(cpu=4, memory="8Gi").ready(False).obj()
    assert not is_node_ready(built)
    assert to_dict(built)["status"]["capacity"] == {"cpu": "4", "memory": "8Gi"}


def test_lease_times_keep_microseconds() -> None:
    lease = parse_object(LEASE)
    assert isinstance(lease, Lease) and lease.spec.renew_time is not None
    assert lease.spec.renew_time.microsecond == 123456
    assert to_dict(lease)["spec"]["renewTime"] == "2024-05-01T12:00:00.123456Z"


def test_list_kinds_parse_into_typed_lists_and_make_list_writes_items() -> None:
    pods = make_list(Pod, [make_pod().name("a").obj()], resource_version="7", continue_token="t")
    written = to_dict(pods)
    assert written["apiVersion"] == "v1" and written["kind"] == "PodList"
    assert written["metadata"] == {"resourceVersion": "7", "continue": "t"}
    parsed = parse_object(written)
    assert isinstance(parsed, ObjectList) and isinstance(parsed.items[0], Pod)
    assert to_dict(parsed) == written


def test_watch_events_parse_objects_and_error_statuses() -> None:
    added = parse_watch_event({"type": "ADDED", "object": NODE})
    assert isinstance(added.object, Node)
    assert to_dict(added) == {"type": "ADDED", "object": to_dict(parse_object(NODE))}
    gone = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired"}
    error = parse_watch_event({"type": "ERROR", "object": gone})
    assert isinstance(error.object, Status) and error.object.code == 410
    assert to_dict(error)["object"] == gone


def test_typed_watch_event_reads_an_object_or_an_error_status() -> None:
    event = WatchEvent[Pod].model_validate(
        {"type": "MODIFIED", "object": {"apiVersion": "v1", "kind": "Pod"}}
    )
    assert isinstance(event.object, Pod)
    error = WatchEvent[Pod].model_validate(
        {"type": "ERROR", "object": {"apiVersion": "v1", "kind": "Status"}}
    )
    assert isinstance(error.object, Status)


@pytest.mark.parametrize(
    ("status", "code", "reason", "message"),
    [
        (new_not_found("pods", "web-0"), 404, "NotFound", 'pods "web-0" not found'),
        (
            new_already_exists("deployments", "web", "apps"),
            409,
            "AlreadyExists",
            'deployments.apps "web" already exists',
        ),
        (
            new_conflict("pods", "web-0"),
            409,
            "Conflict",
            'Operation cannot be fulfilled on pods "web-0": the object',
        ),
        (
            new_forbidden("pods", "", 'User "bob" cannot list'),
            403,
            "Forbidden",
            'pods is forbidden: User "bob"',
        ),
        (new_unauthorized(), 401, "Unauthorized", "Unauthorized"),
        (
            new_resource_expired("too old resource version: 5 (90)"),
            410,
            "Expired",
            "too old resource version",
        ),
    ],
)
def test_status_constructors_use_kubernetes_codes_reasons_and_wording(
    status: Status, code: int, reason: str, message: str
) -> None:
    written = to_dict(status)
    assert (written["kind"], written["apiVersion"], written["status"]) == ("Status", "v1", "Failure")
    assert (written["code"], written["reason"]) == (code, reason)
    assert written["message"].startswith(message)
    assert str(StatusError(status)) == status.message


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        (
            Toleration(key="k", value="v", effect="NoSchedule"),
            Taint(key="k", value="v", effect="NoSchedule"),
            True,
        ),
        (Toleration(key="k", value="w"), Taint(key="k", value="v", effect="NoSchedule"), False),
        (Toleration(key="k", operator="Exists"), Taint(key="k", value="v", effect="NoExecute"), True),
        (Toleration(operator="Exists"), Taint(key="any", effect="NoSchedule"), True),
        (
            Toleration(key="k", operator="Exists", effect="NoExecute"),
            Taint(key="k", effect="NoSchedule"),
            False,
        ),
    ],
)
def test_toleration_tolerates_taint_like_kubernetes(
    toleration: Toleration, taint: Taint, tolerated: bool
) -> None:
    assert toleration.tolerates(taint) is tolerated


def test_node_selector_ors_terms_and_ands_requirements() -> None:
    selector = NodeSelector.model_validate(
        {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n9"]}]},
            ]
        }
    )
    assert selector.matches({"zone": "a"}, "n1")
    assert selector.matches({"cores": "16"}, "n1")
    assert selector.matches({}, "n9")
    assert not selector.matches({"zone": "b", "cores": "4"}, "n1")
    assert not NodeSelector.model_validate({"nodeSelectorTerms": [{}]}).matches({}, "n1")
