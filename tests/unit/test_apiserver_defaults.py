"""Defaulting fills in what Kubernetes fills in, keeps what it was given, never changes its input, and
gives the same result when applied twice."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.apiserver.defaults import DEFAULT_TOLERATION_SECONDS, apply_defaults, image_tag, qos_class
from shared.models import resource_for_kind
from tests.manifests import MANIFESTS

Path_ = tuple[str | int, ...]

NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {**NOT_READY, "key": "node.kubernetes.io/unreachable"}


def at(obj: Any, path: Path_) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def pod(**spec: Any) -> dict[str, Any]:
    container = {"name": "web", "image": "nginx:1.25"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [container], **spec},
    }


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "nginx:1.25", **fields}


def deployment(**spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template, **spec},
    }


def replica_set(**spec: Any) -> dict[str, Any]:
    return {**deployment(**spec), "kind": "ReplicaSet"}


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def namespace(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}, **spec}


def node(**status: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": status}


def endpoint_slice(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default"},
        "addressType": "IPv4",
        **fields,
    }


FILLED = [
    # Pod spec (SetDefaults_PodSpec) and the Pod itself (SetDefaults_Pod, strategy, admission).
    ("pod_restart_policy_always", "pods", pod(), ("spec", "restartPolicy"), "Always"),
    ("pod_grace_period_30", "pods", pod(), ("spec", "terminationGracePeriodSeconds"), 30),
    ("pod_dns_policy_cluster_first", "pods", pod(), ("spec", "dnsPolicy"), "ClusterFirst"),
    ("pod_default_scheduler", "pods", pod(), ("spec", "schedulerName"), "default-scheduler"),
    ("pod_empty_security_context", "pods", pod(), ("spec", "securityContext"), {}),
    ("pod_service_links_enabled", "pods", pod(), ("spec", "enableServiceLinks"), True),
    ("pod_priority_zero", "pods", pod(), ("spec", "priority"), 0),
    ("pod_preempts_lower_priority", "pods", pod(), ("spec", "preemptionPolicy"), "PreemptLowerPriority"),
    (
        "pod_system_priority_class_resolved",
        "pods",
        pod(priorityClassName="system-node-critical"),
        ("spec", "priority"),
        2000001000,
    ),
    ("pod_phase_pending", "pods", pod(), ("status", "phase"), "Pending"),
    ("pod_without_resources_best_effort", "pods", pod(), ("status", "qosClass"), "BestEffort"),
    ("pod_tolerates_unready_nodes_300s", "pods", pod(), ("spec", "tolerations"), [NOT_READY, UNREACHABLE]),
    # Containers (SetDefaults_Container and friends).
    (
        "container_pull_if_not_present_for_tag",
        "pods",
        pod(),
        ("spec", "containers", 0, "imagePullPolicy"),
        "IfNotPresent",
    ),
    (
        "container_termination_message_path",
        "pods",
        pod(),
        ("spec", "containers", 0, "terminationMessagePath"),
        "/dev/termination-log",
    ),
    (
        "container_termination_message_policy_file",
        "pods",
        pod(),
        ("spec", "containers", 0, "terminationMessagePolicy"),
        "File",
    ),
    (
        "container_port_protocol_tcp",
        "pods",
        pod(containers=[container(ports=[{"containerPort": 80}])]),
        ("spec", "containers", 0, "ports", 0, "protocol"),
        "TCP",
    ),
    (
        "probe_timings",
        "pods",
        pod(containers=[container(livenessProbe={"tcpSocket": {"port": 80}})]),
        ("spec", "containers", 0, "livenessProbe"),
        {
            "tcpSocket": {"port": 80},
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
    ),
    (
        "probe_http_get_path_and_scheme",
        "pods",
        pod(containers=[container(readinessProbe={"httpGet": {"port": 8080}})]),
        ("spec", "containers", 0, "readinessProbe", "httpGet"),
        {"port": 8080, "path": "/", "scheme": "HTTP"},
    ),
    (
        "init_container_defaults_too",
        "pods",
        pod(initContainers=[container(name="init", image="busybox")]),
        ("spec", "initContainers", 0, "imagePullPolicy"),
        "Always",
    ),
    (
        "env_field_ref_api_version_v1",
        "pods",
        pod(
            containers=[
                container(env=[{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}])
            ]
        ),
        ("spec", "containers", 0, "env", 0, "valueFrom", "fieldRef", "apiVersion"),
        "v1",
    ),
    (
        "host_network_host_port_is_container_port",
        "pods",
        pod(hostNetwork=True, containers=[container(ports=[{"containerPort": 8080}])]),
        ("spec", "containers", 0, "ports", 0, "hostPort"),
        8080,
    ),
    (
        "volume_without_source_is_empty_dir",
        "pods",
        pod(volumes=[{"name": "scratch"}]),
        ("spec", "volumes", 0),
        {"name": "scratch", "emptyDir": {}},
    ),
    (
        "secret_volume_mode_0644",
        "pods",
        pod(volumes=[{"name": "s", "secret": {"secretName": "s"}}]),
        ("spec", "volumes", 0, "secret", "defaultMode"),
        420,
    ),
    # Deployments and ReplicaSets (apps/v1 defaults).
    ("deployment_one_replica", "deployments", deployment(), ("spec", "replicas"), 1),
    (
        "deployment_rolling_update_25_percent",
        "deployments",
        deployment(),
        ("spec", "strategy"),
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    ),
    (
        "deployment_rolling_update_fills_the_missing_half",
        "deployments",
        deployment(strategy={"rollingUpdate": {"maxSurge": 1}}),
        ("spec", "strategy"),
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
    ),
    (
        "deployment_recreate_gets_no_rolling_update",
        "deployments",
        deployment(strategy={"type": "Recreate"}),
        ("spec", "strategy"),
        {"type": "Recreate"},
    ),
    ("deployment_revision_history_10", "deployments", deployment(), ("spec", "revisionHistoryLimit"), 10),
    (
        "deployment_progress_deadline_600",
        "deployments",
        deployment(),
        ("spec", "progressDeadlineSeconds"),
        600,
    ),
    ("deployment_min_ready_0", "deployments", deployment(), ("spec", "minReadySeconds"), 0),
    (
        "deployment_template_pod_spec_defaults",
        "deployments",
        deployment(),
        ("spec", "template", "spec", "restartPolicy"),
        "Always",
    ),
    (
        "deployment_template_container_defaults",
        "deployments",
        deployment(),
        ("spec", "template", "spec", "containers", 0, "terminationMessagePolicy"),
        "File",
    ),
    ("replica_set_one_replica", "replicasets", replica_set(), ("spec", "replicas"), 1),
    (
        "replica_set_template_defaults",
        "replicasets",
        replica_set(),
        ("spec", "template", "spec", "dnsPolicy"),
        "ClusterFirst",
    ),
    # Services.
    ("service_cluster_ip_type", "services", service(), ("spec", "type"), "ClusterIP"),
    ("service_no_session_affinity", "services", service(), ("spec", "sessionAffinity"), "None"),
    ("service_port_protocol_tcp", "services", service(), ("spec", "ports", 0, "protocol"), "TCP"),
    ("service_target_port_is_port", "services", service(), ("spec", "ports", 0, "targetPort"), 80),
    (
        "service_named_target_port_kept",
        "services",
        service(ports=[{"port": 80, "targetPort": "http"}]),
        ("spec", "ports", 0, "targetPort"),
        "http",
    ),
    ("service_internal_traffic_cluster", "services", service(), ("spec", "internalTrafficPolicy"), "Cluster"),
    ("service_single_stack", "services", service(), ("spec", "ipFamilyPolicy"), "SingleStack"),
    ("service_ipv4", "services", service(), ("spec", "ipFamilies"), ["IPv4"]),
    (
        "headless_service_without_selector_requires_dual_stack",
        "services",
        {**service(clusterIP="None"), "spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
        ("spec", "ipFamilyPolicy"),
        "RequireDualStack",
    ),
    ("headless_service_cluster_ips", "services", service(clusterIP="None"), ("spec", "clusterIPs"), ["None"]),
    (
        "node_port_external_traffic_cluster",
        "services",
        service(type="NodePort"),
        ("spec", "externalTrafficPolicy"),
        "Cluster",
    ),
    (
        "load_balancer_allocates_node_ports",
        "services",
        service(type="LoadBalancer"),
        ("spec", "allocateLoadBalancerNodePorts"),
        True,
    ),
    (
        "client_ip_affinity_three_hours",
        "services",
        service(sessionAffinity="ClientIP"),
        ("spec", "sessionAffinityConfig"),
        {"clientIP": {"timeoutSeconds": 10800}},
    ),
    ("service_status_load_balancer", "services", service(), ("status",), {"loadBalancer": {}}),
    # Namespaces, nodes, endpoint slices.
    ("namespace_kubernetes_finalizer", "namespaces", namespace(), ("spec", "finalizers"), ["kubernetes"]),
    ("namespace_active", "namespaces", namespace(), ("status", "phase"), "Active"),
    (
        "namespace_name_label",
        "namespaces",
        namespace(),
        ("metadata", "labels", "kubernetes.io/metadata.name"),
        "dev",
    ),
    (
        "namespace_emptied_finalizers_stay_empty",
        "namespaces",
        namespace(spec={"finalizers": []}),
        ("spec", "finalizers"),
        [],
    ),
    (
        "node_allocatable_is_capacity",
        "nodes",
        node(capacity={"cpu": "4", "pods": "110"}),
        ("status", "allocatable"),
        {"cpu": "4", "pods": "110"},
    ),
    (
        "node_allocatable_kept",
        "nodes",
        node(capacity={"cpu": "4"}, allocatable={"cpu": "3500m"}),
        ("status", "allocatable"),
        {"cpu": "3500m"},
    ),
    (
        "endpoint_slice_port_tcp",
        "endpointslices",
        endpoint_slice(ports=[{"port": 80}]),
        ("ports", 0),
        {"port": 80, "name": "", "protocol": "TCP"},
    ),
    (
        "endpoint_slice_conditions_left_as_given",
        "endpointslices",
        endpoint_slice(endpoints=[{"addresses": ["10.0.0.1"], "conditions": {"ready": False}}]),
        ("endpoints", 0),
        {"addresses": ["10.0.0.1"], "conditions": {"ready": False}},
    ),
]


@pytest.mark.parametrize(
    ("resource", "obj", "path", "expected"), [pytest.param(*c[1:], id=c[0]) for c in FILLED]
)
def test_defaulting_fills_kubernetes_default(
    resource: str, obj: dict[str, Any], path: Path_, expected: Any
) -> None:
    assert at(apply_defaults(resource, obj), path) == expected


KEPT = [
    ("pod_restart_policy", "pods", pod(restartPolicy="Never"), ("spec", "restartPolicy"), "Never"),
    (
        "pod_grace_period",
        "pods",
        pod(terminationGracePeriodSeconds=5),
        ("spec", "terminationGracePeriodSeconds"),
        5,
    ),
    (
        "container_pull_policy",
        "pods",
        pod(containers=[container(image="nginx", imagePullPolicy="Never")]),
        ("spec", "containers", 0, "imagePullPolicy"),
        "Never",
    ),
    (
        "probe_period",
        "pods",
        pod(containers=[container(livenessProbe={"exec": {"command": ["true"]}, "periodSeconds": 3})]),
        ("spec", "containers", 0, "livenessProbe", "periodSeconds"),
        3,
    ),
    ("service_type", "services", service(type="NodePort"), ("spec", "type"), "NodePort"),
    ("deployment_replicas", "deployments", deployment(replicas=0), ("spec", "replicas"), 0),
    (
        "deployment_revision_limit",
        "deployments",
        deployment(revisionHistoryLimit=0),
        ("spec", "revisionHistoryLimit"),
        0,
    ),
    ("pod_phase", "pods", {**pod(), "status": {"phase": "Running"}}, ("status", "phase"), "Running"),
]


@pytest.mark.parametrize(
    ("resource", "obj", "path", "expected"), [pytest.param(*c[1:], id=c[0]) for c in KEPT]
)
def test_defaulting_keeps_given_value(resource: str, obj: dict[str, Any], path: Path_, expected: Any) -> None:
    assert at(apply_defaults(resource, obj), path) == expected


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:v2", "IfNotPresent"),
        ("app@sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904", "IfNotPresent"),
        ("app:latest@sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904", "Always"),
    ],
)
def test_image_pull_policy_always_only_for_latest_or_untagged(image: str, policy: str) -> None:
    defaulted = apply_defaults("pods", pod(containers=[container(image=image)]))
    assert defaulted["spec"]["containers"][0]["imagePullPolicy"] == policy
    assert (image_tag(image) == "latest") is (policy == "Always")


@pytest.mark.parametrize(
    ("given", "added"),
    [
        pytest.param([], [NOT_READY, UNREACHABLE], id="none_given_both_added"),
        pytest.param(
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 60,
                }
            ],
            [UNREACHABLE],
            id="own_not_ready_kept_unreachable_added",
        ),
        pytest.param([{"operator": "Exists"}], [], id="tolerate_everything_adds_nothing"),
        pytest.param(
            [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}],
            [NOT_READY],
            id="any_effect_counts_as_no_execute",
        ),
        pytest.param(
            [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}],
            [NOT_READY, UNREACHABLE],
            id="no_schedule_only_is_not_enough",
        ),
    ],
)
def test_default_toleration_seconds_added_unless_already_tolerated(
    given: list[dict[str, Any]], added: list[dict[str, Any]]
) -> None:
    defaulted = apply_defaults("pods", pod(tolerations=copy.deepcopy(given)))
    assert defaulted["spec"]["tolerations"] == given + added


def test_default_toleration_seconds_is_a_parameter() -> None:
    defaulted = apply_defaults("pods", pod(), toleration_seconds=30)
    assert [t["tolerationSeconds"] for t in defaulted["spec"]["tolerations"]] == [30, 30]
    assert DEFAULT_TOLERATION_SECONDS == 300


def test_pod_requests_default_to_limits() -> None:
    resources = {"limits": {"cpu": 0.5, "memory": "128Mi"}, "requests": {"cpu": "250m"}}
    defaulted = apply_defaults("pods", pod(containers=[container(resources=resources)]))
    assert defaulted["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "250m", "memory": "128Mi"}


def test_template_requests_are_not_defaulted_to_limits() -> None:
    # Kubernetes does this on Pods only: the pod made from the template gets it when it is created.
    template_container = container(resources={"limits": {"cpu": "1"}})
    spec = {"containers": [template_container]}
    obj = deployment(template={"metadata": {"labels": {"app": "web"}}, "spec": spec})
    assert (
        "requests"
        not in apply_defaults("deployments", obj)["spec"]["template"]["spec"]["containers"][0]["resources"]
    )


@pytest.mark.parametrize("key", ["tolerations", "priority", "enableServiceLinks", "preemptionPolicy"])
def test_template_gets_no_pod_only_defaults(key: str) -> None:
    assert key not in apply_defaults("deployments", deployment())["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        pytest.param([{}], "BestEffort", id="nothing_set"),
        pytest.param([{"requests": {"cpu": "100m"}}], "Burstable", id="request_only"),
        pytest.param(
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}],
            "Guaranteed",
            id="requests_equal_limits",
        ),
        pytest.param(
            [{"limits": {"cpu": "1", "memory": "1Gi"}}, {"limits": {"cpu": "1"}}],
            "Burstable",
            id="one_container_without_memory_limit",
        ),
        pytest.param([{"requests": {"cpu": "0"}}], "BestEffort", id="zero_request_is_none"),
    ],
)
def test_qos_class_as_kubernetes_computes_it(resources: list[dict[str, Any]], qos: str) -> None:
    containers = [container(name=f"c{i}", resources=r) for i, r in enumerate(resources)]
    assert qos_class({"containers": containers}) == qos


def test_pod_with_limits_only_is_guaranteed_after_defaulting() -> None:
    resources = {"limits": {"cpu": "500m", "memory": "64Mi"}}
    defaulted = apply_defaults("pods", pod(containers=[container(resources=resources)]))
    assert defaulted["status"]["qosClass"] == "Guaranteed"


@pytest.mark.parametrize(
    ("obj", "absent"),
    [
        pytest.param(
            service(type="ExternalName", externalName="db.example.com"),
            "ipFamilies",
            id="external_name_no_families",
        ),
        pytest.param(
            service(type="ExternalName", externalName="db.example.com"),
            "internalTrafficPolicy",
            id="external_name_no_traffic",
        ),
        pytest.param(service(), "externalTrafficPolicy", id="cluster_ip_not_externally_accessible"),
        pytest.param(service(), "allocateLoadBalancerNodePorts", id="only_load_balancers_allocate"),
        pytest.param(
            service(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}}),
            "sessionAffinityConfig",
            id="no_affinity_no_config",
        ),
        pytest.param(service(), "clusterIP", id="cluster_ip_is_allocated_by_admission"),
    ],
)
def test_service_fields_not_defaulted(obj: dict[str, Any], absent: str) -> None:
    assert absent not in apply_defaults("services", obj)["spec"]


def test_namespace_being_deleted_does_not_get_its_finalizer_back() -> None:
    terminating = namespace(spec={})
    terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    assert "finalizers" not in apply_defaults("namespaces", terminating)["spec"]


def test_node_spec_gets_no_defaults() -> None:
    obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert apply_defaults("nodes", obj) == obj


@pytest.mark.parametrize(
    ("resource", "obj"),
    [
        pytest.param(
            "leases",
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"}, "spec": {}},
            id="lease",
        ),
        pytest.param(
            "events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "e"},
                "involvedObject": {"kind": "Pod"},
            },
            id="event",
        ),
        pytest.param("widgets", {"kind": "Widget", "spec": {"size": 1}}, id="unknown_resource"),
    ],
)
def test_resources_without_defaults_come_back_equal(resource: str, obj: dict[str, Any]) -> None:
    result = apply_defaults(resource, obj)
    assert result == obj
    assert result is not obj


EXAMPLES = [
    ("pods", pod(containers=[container(resources={"limits": {"cpu": "1"}}, ports=[{"containerPort": 80}])])),
    ("deployments", deployment()),
    ("replicasets", replica_set()),
    ("services", service(type="LoadBalancer", sessionAffinity="ClientIP")),
    ("namespaces", namespace()),
    ("nodes", node(capacity={"cpu": "2"})),
    ("endpointslices", endpoint_slice(ports=[{"port": 80}])),
]


@pytest.mark.parametrize(("resource", "obj"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_defaulting_never_mutates_its_input(resource: str, obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    apply_defaults(resource, obj)
    assert obj == before


@pytest.mark.parametrize(("resource", "obj"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_defaulting_is_idempotent(resource: str, obj: dict[str, Any]) -> None:
    once = apply_defaults(resource, obj)
    assert apply_defaults(resource, once) == once


def _with_unknown_fields(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    marked = copy.deepcopy(obj)
    marked["x-top"] = {"keep": [1, 2]}
    marked["metadata"]["x-meta"] = "m"
    if isinstance(marked.get("spec"), dict):
        marked["spec"]["x-spec"] = True
    if resource == "pods":
        marked["spec"]["containers"][0]["x-container"] = {"nested": None}
    if resource in ("deployments", "replicasets"):
        marked["spec"]["template"]["spec"]["containers"][0]["x-container"] = 1
    return marked


@pytest.mark.parametrize(("resource", "obj"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_unknown_fields_survive_defaulting(resource: str, obj: dict[str, Any]) -> None:
    defaulted = apply_defaults(resource, _with_unknown_fields(resource, obj))
    assert defaulted["x-top"] == {"keep": [1, 2]}
    assert defaulted["metadata"]["x-meta"] == "m"
    if isinstance(obj.get("spec"), dict):
        assert defaulted["spec"]["x-spec"] is True
    if resource == "pods":
        assert defaulted["spec"]["containers"][0]["x-container"] == {"nested": None}
    if resource in ("deployments", "replicasets"):
        assert defaulted["spec"]["template"]["spec"]["containers"][0]["x-container"] == 1


@pytest.mark.parametrize(
    ("resource", "obj"),
    [
        pytest.param("pods", {"kind": "Pod", "spec": []}, id="pod_spec_not_an_object"),
        pytest.param(
            "pods", {"kind": "Pod", "spec": {"containers": "web", "tolerations": "all"}}, id="pod_lists_wrong"
        ),
        pytest.param(
            "services", {"kind": "Service", "spec": {"ports": [80, None]}}, id="service_ports_not_objects"
        ),
        pytest.param(
            "deployments", {"kind": "Deployment", "spec": {"strategy": "fast"}}, id="strategy_not_an_object"
        ),
    ],
)
def test_defaulting_leaves_malformed_parts_for_validation(resource: str, obj: dict[str, Any]) -> None:
    once = apply_defaults(resource, obj)
    assert apply_defaults(resource, once) == once


# --- property: defaulting twice is defaulting once, whatever was given ---------------------------------

_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_images = st.sampled_from(["nginx", "nginx:latest", "nginx:1.25", "busybox@sha256:abc", "reg:5000/app"])
_quantities = st.sampled_from(["100m", "1", 0.5, 2, "64Mi", "1Gi"])
_resources = st.fixed_dictionaries(
    {},
    optional={
        "limits": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities, max_size=2),
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities, max_size=2),
    },
)
_probe = st.fixed_dictionaries(
    {
        "httpGet": st.fixed_dictionaries(
            {"port": st.integers(1, 65535)}, optional={"path": st.just("/healthz")}
        )
    },
    optional={"periodSeconds": st.integers(1, 60), "failureThreshold": st.integers(1, 10)},
)
_container = st.fixed_dictionaries(
    {"name": _names, "image": _images},
    optional={
        "imagePullPolicy": st.sampled_from(["Always", "Never"]),
        "ports": st.lists(
            st.fixed_dictionaries(
                {"containerPort": st.integers(1, 65535)}, optional={"protocol": st.just("UDP")}
            ),
            max_size=2,
        ),
        "resources": _resources,
        "livenessProbe": _probe,
        "x-unknown": st.integers(),
    },
)
_toleration = st.fixed_dictionaries(
    {},
    optional={
        "key": st.sampled_from(
            ["", "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "team"]
        ),
        "operator": st.sampled_from(["Exists", "Equal"]),
        "effect": st.sampled_from(["", "NoExecute", "NoSchedule"]),
        "tolerationSeconds": st.integers(0, 600),
    },
)
_pod_spec = st.fixed_dictionaries(
    {"containers": st.lists(_container, min_size=1, max_size=3)},
    optional={
        "initContainers": st.lists(_container, max_size=2),
        "restartPolicy": st.sampled_from(["Always", "OnFailure", "Never"]),
        "tolerations": st.lists(_toleration, max_size=3),
        "hostNetwork": st.booleans(),
        "priorityClassName": st.sampled_from(["system-cluster-critical", "batch"]),
        "volumes": st.lists(st.fixed_dictionaries({"name": _names}), max_size=2),
    },
)
_pods = _pod_spec.map(
    lambda spec: ("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
)
_services = st.fixed_dictionaries(
    {
        "ports": st.lists(
            st.fixed_dictionaries(
                {"port": st.integers(1, 65535)},
                optional={"targetPort": st.one_of(st.integers(0, 65535), _names)},
            ),
            max_size=3,
        )
    },
    optional={
        "type": st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]),
        "clusterIP": st.sampled_from(["None", "10.96.0.10"]),
        "selector": st.dictionaries(_names, _names, max_size=2),
        "sessionAffinity": st.sampled_from(["None", "ClientIP"]),
    },
).map(
    lambda spec: (
        "services",
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec},
    )
)
_deployments = st.fixed_dictionaries(
    {"template": _pod_spec.map(lambda spec: {"spec": spec})},
    optional={
        "replicas": st.integers(0, 5),
        "strategy": st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["Recreate", "RollingUpdate"]),
                "rollingUpdate": st.fixed_dictionaries({}, optional={"maxSurge": st.integers(0, 3)}),
            },
        ),
    },
).map(
    lambda spec: (
        "deployments",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec},
    )
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(_pods, _services, _deployments))
def test_defaulting_twice_equals_defaulting_once(case: tuple[str, dict[str, Any]]) -> None:
    resource, obj = case
    before = copy.deepcopy(obj)
    once = apply_defaults(resource, obj)
    assert apply_defaults(resource, once) == once
    assert obj == before


# --- the shared manifests ------------------------------------------------------------------------------


def _manifest_documents() -> Iterator[Any]:
    if not MANIFESTS.is_dir():
        return
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if not isinstance(doc, dict):
                continue
            rt = resource_for_kind(str(doc.get("apiVersion")), str(doc.get("kind")))
            if rt is not None:
                yield pytest.param(rt.plural, doc, id=f"{path.relative_to(MANIFESTS)}#{index}-{doc['kind']}")


MANIFEST_DOCUMENTS = list(_manifest_documents())


@pytest.mark.skipif(not MANIFEST_DOCUMENTS, reason=f"no manifests under {MANIFESTS}")
@pytest.mark.parametrize(("resource", "doc"), MANIFEST_DOCUMENTS)
def test_manifest_defaulting_is_idempotent_and_keeps_every_given_value(
    resource: str, doc: dict[str, Any]
) -> None:
    once = apply_defaults(resource, doc)
    assert apply_defaults(resource, once) == once
    _assert_contains(doc, once, resource)


def _assert_contains(given: Any, defaulted: Any, where: str) -> None:
    """Every value given is still there; defaulting only adds (a Service with no session affinity drops its
    affinity config, which no manifest here has)."""
    if isinstance(given, dict):
        for key, value in given.items():
            assert key in defaulted, f"{where}.{key} dropped"
            _assert_contains(value, defaulted[key], f"{where}.{key}")
    elif isinstance(given, list):
        assert len(defaulted) >= len(given), f"{where}: items dropped"
        for index, value in enumerate(given):
            _assert_contains(value, defaulted[index], f"{where}[{index}]")
    else:
        assert defaulted == given, f"{where}: {given!r} became {defaulted!r}"
