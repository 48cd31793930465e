"""Validation refuses what kube-apiserver refuses, with its field paths and messages, accepts every real
manifest once defaulted, and keeps immutable fields immutable."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.apiserver.defaults import apply_defaults
from services.apiserver.validation import (
    POD_UPDATE_FORBIDDEN,
    to_status_error,
    validate_create,
    validate_update,
)
from shared.models import ErrorType, FieldError, resource_for_kind, to_dict
from tests.manifests import MANIFESTS, require_manifests

Obj = dict[str, Any]
Mutation = Callable[[Obj], None]

# --- valid objects to break --------------------------------------------------------------------------------


def _meta(name: str, namespace: str | None = "default") -> Obj:
    return {"name": name, "namespace": namespace} if namespace else {"name": name}


def valid(resource: str) -> Obj:
    """A defaulted object of ``resource`` that validates cleanly."""
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
    }
    objects: dict[str, Obj] = {
        "pods": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta("web"),
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]
            },
        },
        "deployments": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("web"),
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
        },
        "replicasets": {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": _meta("web"),
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(template)},
        },
        "services": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("web"),
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        "namespaces": {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("dev", None)},
        "nodes": {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": _meta("n1", None),
            "spec": {"podCIDRs": ["10.244.1.0/24"], "providerID": "kubenats://n1"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        },
        "leases": {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": _meta("n1", "kube-node-lease"),
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40},
        },
        "events": {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": _meta("web.17a"),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
            "reason": "Scheduled",
            "message": "Successfully assigned default/web to n1",
            "type": "Normal",
        },
        "endpointslices": {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": _meta("web-abc12"),
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 80}],
        },
    }
    return apply_defaults(resource, objects[resource])


def put(path: str, value: Any) -> Mutation:
    """Set ``value`` at a slash path (``spec/containers/0/image``), creating objects on the way; an index
    one past the end appends."""

    def mutate(obj: Obj) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        target: Any = obj
        for part in parents:
            target = target[part] if isinstance(part, int) else target.setdefault(part, {})
        if isinstance(last, int) and last == len(target):
            target.append(value)
        else:
            target[last] = value

    return mutate


def drop(path: str) -> Mutation:
    def mutate(obj: Obj) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        target: Any = obj
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(obj: Obj) -> None:
        for mutation in mutations:
            mutation(obj)

    return mutate


def messages(errors: list[FieldError]) -> list[str]:
    return [str(error) for error in errors]


C0 = "spec/containers/0"
TEMPLATE_C0 = "spec/template/spec/containers/0"
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
QUANTITY = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

CREATE_CASES: list[tuple[str, str, Mutation, str]] = [
    # Object metadata, shared by every kind.
    (
        "name_or_generate_name_required",
        "pods",
        drop("metadata/name"),
        "metadata.name: Required value: name or generateName is required",
    ),
    (
        "pod_name_dns_subdomain",
        "pods",
        put("metadata/name", "Web_1"),
        f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN}',
    ),
    (
        "generate_name_checked_as_prefix",
        "pods",
        put("metadata/generateName", "Web-"),
        f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN}',
    ),
    (
        "namespace_name_dns_label",
        "namespaces",
        put("metadata/name", "dev.team"),
        'metadata.name: Invalid value: "dev.team": must not contain dots',
    ),
    (
        "service_name_dns_1035",
        "services",
        put("metadata/name", "1web"),
        f'metadata.name: Invalid value: "1web": {DNS1035}',
    ),
    ("namespaced_needs_namespace", "pods", drop("metadata/namespace"), "metadata.namespace: Required value"),
    (
        "cluster_scoped_refuses_namespace",
        "nodes",
        put("metadata/namespace", "default"),
        "metadata.namespace: Forbidden: not allowed on this type",
    ),
    (
        "label_key_qualified_name",
        "pods",
        put("metadata/labels", {"-app": "web"}),
        f'metadata.labels: Invalid value: "-app": {QUALIFIED}',
    ),
    (
        "label_value_checked",
        "pods",
        put("metadata/labels", {"app": "web server"}),
        f'metadata.labels: Invalid value: "web server": {LABEL_VALUE}',
    ),
    (
        "owner_reference_needs_uid",
        "pods",
        put("metadata/ownerReferences", [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1"}]),
        "metadata.ownerReferences[0].uid: Required value: must not be empty",
    ),
    (
        "finalizer_standard_or_qualified",
        "pods",
        put("metadata/finalizers", ["cleanup"]),
        (
            'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name '
            "nor is it fully qualified"
        ),
    ),
    # Pod spec and containers.
    ("containers_required", "pods", put("spec/containers", []), "spec.containers: Required value"),
    ("container_name_required", "pods", drop(f"{C0}/name"), "spec.containers[0].name: Required value"),
    ("container_image_required", "pods", drop(f"{C0}/image"), "spec.containers[0].image: Required value"),
    (
        "container_name_dns_label",
        "pods",
        put(f"{C0}/name", "Web"),
        f'spec.containers[0].name: Invalid value: "Web": {LABEL}',
    ),
    (
        "container_names_unique",
        "pods",
        put("spec/containers/1", {**valid("pods")["spec"]["containers"][0], "ports": []}),
        'spec.containers[1].name: Duplicate value: "web"',
    ),
    (
        "init_container_names_unique_across_all",
        "pods",
        put("spec/initContainers", [{**valid("pods")["spec"]["containers"][0], "ports": []}]),
        'spec.initContainers[0].name: Duplicate value: "web"',
    ),
    (
        "pod_image_without_surrounding_spaces",
        "pods",
        put(f"{C0}/image", " nginx"),
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
    ),
    (
        "container_port_in_range",
        "pods",
        put(f"{C0}/ports/0/containerPort", 70000),
        (
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, "
            "inclusive"
        ),
    ),
    (
        "container_port_required",
        "pods",
        drop(f"{C0}/ports/0/containerPort"),
        "spec.containers[0].ports[0].containerPort: Required value",
    ),
    (
        "container_port_protocol_supported",
        "pods",
        put(f"{C0}/ports/0/protocol", "HTTP"),
        (
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", '
            '"TCP", "UDP"'
        ),
    ),
    (
        "container_port_name_iana",
        "pods",
        put(f"{C0}/ports/0/name", "http_port"),
        (
            'spec.containers[0].ports[0].name: Invalid value: "http_port": must contain only alpha-numeric '
            "characters (a-z, 0-9), and hyphens (-)"
        ),
    ),
    (
        "container_port_names_unique",
        "pods",
        put(
            f"{C0}/ports",
            [
                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                {"containerPort": 81, "name": "http", "protocol": "TCP"},
            ],
        ),
        'spec.containers[0].ports[1].name: Duplicate value: "http"',
    ),
    (
        "host_ports_unique",
        "pods",
        put(
            f"{C0}/ports",
            [
                {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"},
                {"containerPort": 81, "hostPort": 8080, "protocol": "TCP"},
            ],
        ),
        'spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080"',
    ),
    (
        "quantity_parses",
        "pods",
        put(f"{C0}/resources", {"requests": {"cpu": "abc"}}),
        f'spec.containers[0].resources.requests[cpu]: Invalid value: "abc": {QUANTITY}',
    ),
    (
        "quantity_not_negative",
        "pods",
        put(f"{C0}/resources", {"limits": {"memory": "-1Gi"}}),
        (
            'spec.containers[0].resources.limits[memory]: Invalid value: "-1Gi": must be greater than or '
            "equal to 0"
        ),
    ),
    (
        "request_not_above_limit",
        "pods",
        put(f"{C0}/resources", {"requests": {"cpu": "2"}, "limits": {"cpu": 1}}),
        (
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu '
            "limit of 1"
        ),
    ),
    (
        "extended_resource_request_equals_limit",
        "pods",
        put(f"{C0}/resources", {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}),
        (
            'spec.containers[0].resources.requests: Invalid value: "1": must be equal to nvidia.com/gpu '
            "limit of 2"
        ),
    ),
    (
        "extended_resource_needs_limit",
        "pods",
        put(f"{C0}/resources", {"requests": {"nvidia.com/gpu": "1"}}),
        (
            "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable "
            "resources"
        ),
    ),
    (
        "extended_resource_whole_units",
        "pods",
        put(
            f"{C0}/resources",
            {"requests": {"example.com/dongle": "500m"}, "limits": {"example.com/dongle": "500m"}},
        ),
        (
            'spec.containers[0].resources.requests[example.com/dongle]: Invalid value: "500m": must be an '
            "integer"
        ),
    ),
    (
        "container_resource_name_standard",
        "pods",
        put(f"{C0}/resources", {"requests": {"storage": "1Gi"}}),
        (
            'spec.containers[0].resources.requests[storage]: Invalid value: "storage": must be a standard '
            "resource for containers"
        ),
    ),
    (
        "restart_policy_enum",
        "pods",
        put("spec/restartPolicy", "Sometimes"),
        (
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", '
            '"Never"'
        ),
    ),
    (
        "dns_policy_enum",
        "pods",
        put("spec/dnsPolicy", "Google"),
        (
            'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
            '"ClusterFirst", "Default", "None"'
        ),
    ),
    (
        "pull_policy_enum",
        "pods",
        put(f"{C0}/imagePullPolicy", "Sometimes"),
        (
            'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "IfNotPresent", "Never"'
        ),
    ),
    (
        "grace_period_required",
        "pods",
        drop("spec/terminationGracePeriodSeconds"),
        "spec.terminationGracePeriodSeconds: Required value",
    ),
    (
        "probe_needs_handler",
        "pods",
        put(f"{C0}/livenessProbe", {"periodSeconds": 10, "successThreshold": 1}),
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
    ),
    (
        "probe_one_handler",
        "pods",
        put(f"{C0}/readinessProbe", {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}),
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
    ),
    (
        "liveness_success_threshold_one",
        "pods",
        put(f"{C0}/livenessProbe", {"tcpSocket": {"port": 80}, "successThreshold": 2}),
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
    ),
    (
        "probe_period_not_negative",
        "pods",
        put(f"{C0}/readinessProbe", {"tcpSocket": {"port": 80}, "periodSeconds": -1}),
        (
            "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or "
            "equal to 0"
        ),
    ),
    (
        "http_probe_scheme",
        "pods",
        put(f"{C0}/readinessProbe", {"httpGet": {"port": 80, "path": "/", "scheme": "FTP"}}),
        (
            'spec.containers[0].readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: '
            '"HTTP", "HTTPS"'
        ),
    ),
    (
        "init_container_probe_only_for_sidecars",
        "pods",
        put(
            "spec/initContainers",
            [
                {
                    **valid("pods")["spec"]["containers"][0],
                    "name": "init",
                    "ports": [],
                    "livenessProbe": {"exec": {"command": ["true"]}},
                }
            ],
        ),
        (
            "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without "
            "restartPolicy=Always"
        ),
    ),
    (
        "regular_container_no_restart_policy",
        "pods",
        put(f"{C0}/restartPolicy", "Always"),
        "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
    ),
    (
        "env_name_required",
        "pods",
        put(f"{C0}/env", [{"value": "1"}]),
        "spec.containers[0].env[0].name: Required value",
    ),
    (
        "env_value_or_value_from",
        "pods",
        put(
            f"{C0}/env",
            [{"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        ),
        (
            'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is '
            "not empty"
        ),
    ),
    (
        "volume_mount_names_a_volume",
        "pods",
        put(f"{C0}/volumeMounts", [{"name": "data", "mountPath": "/data"}]),
        'spec.containers[0].volumeMounts[0].name: Not found: "data"',
    ),
    (
        "volume_names_unique",
        "pods",
        put("spec/volumes", [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]),
        'spec.volumes[1].name: Duplicate value: "v"',
    ),
    (
        "toleration_empty_key_needs_exists",
        "pods",
        put("spec/tolerations", [{"operator": "Equal", "value": "x"}]),
        (
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is '
            'empty, which means "match all values and all keys"'
        ),
    ),
    (
        "toleration_seconds_need_no_execute",
        "pods",
        put(
            "spec/tolerations",
            [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}],
        ),
        (
            "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
            "`tolerationSeconds` is set"
        ),
    ),
    (
        "active_deadline_positive",
        "pods",
        put("spec/activeDeadlineSeconds", 0),
        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
    ),
    (
        "node_selector_values_are_label_values",
        "pods",
        put("spec/nodeSelector", {"disk": "fast ssd"}),
        f'spec.nodeSelector: Invalid value: "fast ssd": {LABEL_VALUE}',
    ),
    (
        "node_name_dns_subdomain",
        "pods",
        put("spec/nodeName", "Node_1"),
        f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN}',
    ),
    (
        "pod_affinity_needs_topology_key",
        "pods",
        put(
            "spec/affinity",
            {
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "db"}}}
                    ]
                }
            },
        ),
        (
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: "
            "Required value: can not be empty"
        ),
    ),
    (
        "preferred_weight_1_to_100",
        "pods",
        put(
            "spec/affinity",
            {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]
                }
            },
        ),
        (
            "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid "
            "value: 0: must be in the range 1-100"
        ),
    ),
    (
        "host_network_host_port_matches",
        "pods",
        both(put("spec/hostNetwork", True), put(f"{C0}/ports/0/hostPort", 8080)),
        (
            "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when "
            "`hostNetwork` is true"
        ),
    ),
    (
        "pod_level_requests_cover_containers",
        "pods",
        both(
            put(f"{C0}/resources", {"requests": {"cpu": "2"}}),
            put("spec/resources", {"requests": {"cpu": "1"}}),
        ),
        (
            'spec.resources.requests[cpu]: Invalid value: "1": must be greater than or equal to aggregate '
            "container requests of 2"
        ),
    ),
    (
        "pod_level_resources_cpu_and_memory",
        "pods",
        put("spec/resources", {"limits": {"ephemeral-storage": "1Gi"}}),
        (
            'spec.resources.limits[ephemeral-storage]: Unsupported value: "ephemeral-storage": supported '
            'values: "cpu", "memory"'
        ),
    ),
    # Deployments and ReplicaSets.
    (
        "replicas_not_negative",
        "deployments",
        put("spec/replicas", -1),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
    ("deployment_selector_required", "deployments", drop("spec/selector"), "spec.selector: Required value"),
    (
        "selector_matches_template",
        "deployments",
        put("spec/template/metadata/labels", {"app": "other"}),
        (
            'spec.template.metadata.labels: Invalid value: {"app": "other"}: `selector` does not match '
            "template `labels`"
        ),
    ),
    (
        "selector_not_empty",
        "deployments",
        put("spec/selector", {}),
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment",
    ),
    (
        "selector_operator_known",
        "deployments",
        put("spec/selector", {"matchExpressions": [{"key": "app", "operator": "Has"}]}),
        'spec.selector.matchExpressions[0].operator: Invalid value: "Has": not a valid selector operator',
    ),
    (
        "template_restart_policy_always",
        "deployments",
        put("spec/template/spec/restartPolicy", "Never"),
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ),
    (
        "template_container_image_required",
        "deployments",
        drop(f"{TEMPLATE_C0}/image"),
        "spec.template.spec.containers[0].image: Required value",
    ),
    (
        "strategy_type_known",
        "deployments",
        put("spec/strategy", {"type": "BlueGreen"}),
        (
            'spec.strategy: Unsupported value: {"type": "BlueGreen"}: supported values: "Recreate", '
            '"RollingUpdate"'
        ),
    ),
    (
        "recreate_without_rolling_update",
        "deployments",
        put("spec/strategy/type", "Recreate"),
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
    ),
    (
        "rolling_update_cannot_stand_still",
        "deployments",
        put("spec/strategy/rollingUpdate", {"maxSurge": 0, "maxUnavailable": "0%"}),
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0',
    ),
    (
        "max_surge_percent_format",
        "deployments",
        put("spec/strategy/rollingUpdate/maxSurge", "half"),
        (
            'spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": a valid percent string must be '
            "a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
            "'[0-9]+%')"
        ),
    ),
    (
        "progress_deadline_after_min_ready",
        "deployments",
        put("spec/minReadySeconds", 600),
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
    ),
    (
        "replica_set_replicas_not_negative",
        "replicasets",
        put("spec/replicas", -2),
        "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
    ),
    ("replica_set_selector_required", "replicasets", drop("spec/selector"), "spec.selector: Required value"),
    (
        "replica_set_selector_matches_template",
        "replicasets",
        put("spec/selector/matchLabels", {"app": "api"}),
        (
            'spec.template.metadata.labels: Invalid value: {"app": "web"}: `selector` does not match '
            "template `labels`"
        ),
    ),
    # Services.
    ("service_ports_required", "services", put("spec/ports", []), "spec.ports: Required value"),
    (
        "service_port_in_range",
        "services",
        put("spec/ports/0/port", 70000),
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    (
        "service_ports_named_when_several",
        "services",
        put("spec/ports/1", {"port": 443, "protocol": "TCP", "targetPort": 443}),
        "spec.ports[0].name: Required value",
    ),
    (
        "service_port_protocol_and_number_unique",
        "services",
        put(
            "spec/ports",
            [
                {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "b", "port": 80, "protocol": "TCP", "targetPort": 81},
            ],
        ),
        'spec.ports[1]: Duplicate value: {"port": 80, "protocol": "TCP"}',
    ),
    (
        "service_target_port_name",
        "services",
        put("spec/ports/0/targetPort", "http_port"),
        (
            'spec.ports[0].targetPort: Invalid value: "http_port": must contain only alpha-numeric '
            "characters (a-z, 0-9), and hyphens (-)"
        ),
    ),
    (
        "service_type_enum",
        "services",
        put("spec/type", "Magic"),
        (
            'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
            '"LoadBalancer", "NodePort"'
        ),
    ),
    (
        "cluster_ip_service_no_node_port",
        "services",
        put("spec/ports/0/nodePort", 30001),
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ),
    (
        "session_affinity_enum",
        "services",
        put("spec/sessionAffinity", "Sticky"),
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
    ),
    (
        "cluster_ip_is_an_ip",
        "services",
        both(put("spec/clusterIP", "10.96.0.300"), put("spec/clusterIPs", ["10.96.0.300"])),
        (
            'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 '
            "or 2001:db8::ffff)"
        ),
    ),
    (
        "load_balancer_not_headless",
        "services",
        both(
            put("spec/type", "LoadBalancer"),
            put("spec/clusterIP", "None"),
            put("spec/allocateLoadBalancerNodePorts", True),
            put("spec/externalTrafficPolicy", "Cluster"),
        ),
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services",
    ),
    (
        "external_name_required",
        "services",
        both(
            put("spec/type", "ExternalName"),
            drop("spec/ipFamilies"),
            drop("spec/ipFamilyPolicy"),
            drop("spec/internalTrafficPolicy"),
        ),
        "spec.externalName: Required value",
    ),
    (
        "external_traffic_policy_only_when_exposed",
        "services",
        put("spec/externalTrafficPolicy", "Local"),
        (
            'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible '
            "services"
        ),
    ),
    # Namespaces, nodes, leases, events, endpoint slices.
    (
        "namespace_finalizer_standard",
        "namespaces",
        put("spec/finalizers", ["custom"]),
        (
            'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it '
            "fully qualified"
        ),
    ),
    (
        "taint_effect_required",
        "nodes",
        put("spec/taints", [{"key": "dedicated", "value": "db"}]),
        "spec.taints[0].effect: Required value",
    ),
    (
        "taint_effect_enum",
        "nodes",
        put("spec/taints", [{"key": "dedicated", "effect": "NoWay"}]),
        (
            'spec.taints[0].effect: Unsupported value: "NoWay": supported values: "NoSchedule", '
            '"PreferNoSchedule", "NoExecute"'
        ),
    ),
    (
        "node_capacity_not_negative",
        "nodes",
        put("status/capacity/cpu", "-1"),
        'status.capacity.cpu: Invalid value: "-1": must be greater than or equal to 0',
    ),
    (
        "node_pods_whole",
        "nodes",
        put("status/capacity/pods", "1500m"),
        'status.capacity.pods: Invalid value: "1500m": must be an integer',
    ),
    (
        "pod_cidr_valid",
        "nodes",
        put("spec/podCIDRs", ["10.244.1.0/33"]),
        (
            'spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. '
            "10.9.8.0/24 or 2001:db8::/64)"
        ),
    ),
    (
        "lease_duration_positive",
        "leases",
        put("spec/leaseDurationSeconds", 0),
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
    ),
    (
        "lease_transitions_not_negative",
        "leases",
        put("spec/leaseTransitions", -1),
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "event_in_its_objects_namespace",
        "events",
        put("involvedObject/namespace", "other"),
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ),
    (
        "new_style_event_names_its_reporter",
        "events",
        put("eventTime", "2025-01-01T00:00:00.000000Z"),
        "reportingComponent: Required value",
    ),
    (
        "endpoint_slice_address_type_required",
        "endpointslices",
        drop("addressType"),
        "addressType: Required value",
    ),
    (
        "endpoint_slice_address_type_enum",
        "endpointslices",
        put("addressType", "IPv5"),
        'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"',
    ),
    (
        "endpoint_needs_an_address",
        "endpointslices",
        put("endpoints/0/addresses", []),
        "endpoints[0].addresses: Required value: must contain at least 1 address",
    ),
    (
        "endpoint_address_of_its_type",
        "endpointslices",
        put("endpoints/0/addresses", ["fd00::1"]),
        'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
    ),
    (
        "endpoint_port_protocol_enum",
        "endpointslices",
        put("ports/0/protocol", "QUIC"),
        'ports[0].protocol: Unsupported value: "QUIC": supported values: "SCTP", "TCP", "UDP"',
    ),
    # Types the schema refuses, reported where validation does not look.
    (
        "integer_field_refuses_text",
        "deployments",
        put("spec/replicas", "three"),
        (
            'spec.replicas: Invalid value: "three": Input should be a valid integer, unable to parse string '
            "as an integer"
        ),
    ),
    (
        "list_field_refuses_text",
        "pods",
        put(f"{C0}/ports", "80"),
        'spec.containers[0].ports: Invalid value: "80": Input should be a valid list',
    ),
]


@pytest.mark.parametrize(
    "resource",
    [
        "pods",
        "deployments",
        "replicasets",
        "services",
        "namespaces",
        "nodes",
        "leases",
        "events",
        "endpointslices",
    ],
)
def test_valid_object_has_no_errors(resource: str) -> None:
    assert messages(validate_create(resource, valid(resource))) == []


@pytest.mark.parametrize(
    ("resource", "mutate", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CREATE_CASES]
)
def test_create_refused_with_kubernetes_message(resource: str, mutate: Mutation, expected: str) -> None:
    obj = valid(resource)
    mutate(obj)
    assert expected in messages(validate_create(resource, obj))


def test_pod_with_several_problems_reports_each_in_order() -> None:
    obj = valid("pods")
    obj["spec"]["containers"][0] = {**obj["spec"]["containers"][0], "name": "", "image": ""}
    assert messages(validate_create("pods", obj)) == [
        "spec.containers[0].name: Required value",
        "spec.containers[0].image: Required value",
    ]


def test_validation_never_mutates_its_input() -> None:
    obj = valid("pods")
    obj["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "abc"}}
    before = copy.deepcopy(obj)
    validate_create("pods", obj)
    validate_update("pods", obj, before)
    assert obj == before


def test_a_part_of_the_wrong_type_is_reported_once() -> None:
    obj = valid("pods")
    obj["spec"] = ["not", "an", "object"]
    errors = validate_create("pods", obj)
    assert [e.field for e in errors] == ["spec"]
    assert errors[0].type is ErrorType.INVALID


KUBECTL_DRY_RUN = [
    pytest.param(
        "pods",
        """
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    run: web
  name: web
  namespace: default
spec:
  containers:
  - image: nginx
    name: web
    resources: {}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
""",
        id="kubectl_run",
    ),
    pytest.param(
        "deployments",
        """
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  labels:
    app: web
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: web
    spec:
      containers:
      - image: nginx
        name: nginx
        resources: {}
status: {}
""",
        id="kubectl_create_deployment",
    ),
]


@pytest.mark.parametrize(("resource", "manifest"), KUBECTL_DRY_RUN)
def test_kubectl_dry_run_output_with_nulls_is_valid(resource: str, manifest: str) -> None:
    obj = apply_defaults(resource, yaml.safe_load(manifest))
    assert messages(validate_create(resource, obj)) == []


def test_unknown_resource_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="widgets"):
        validate_create("widgets", {})


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
_spec_keys = st.sampled_from(
    [
        "containers",
        "initContainers",
        "ports",
        "selector",
        "template",
        "strategy",
        "tolerations",
        "affinity",
        "resources",
        "replicas",
        "clusterIP",
        "type",
        "volumes",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "pods",
            "deployments",
            "replicasets",
            "services",
            "nodes",
            "namespaces",
            "endpointslices",
            "events",
            "leases",
        ]
    ),
    st.dictionaries(_spec_keys, _json, max_size=4),
    _json,
)
def test_any_json_is_validated_without_crashing(resource: str, spec: dict[str, Any], anything: Any) -> None:
    obj = valid(resource)
    obj["spec"] = spec
    obj["status"] = anything
    defaulted = apply_defaults(resource, obj)
    assert isinstance(validate_create(resource, defaulted), list)
    assert isinstance(validate_update(resource, defaulted, valid(resource)), list)


# --- updates -----------------------------------------------------------------------------------------------

UPDATE_REFUSED: list[tuple[str, str, Mutation, str]] = [
    (
        "name_immutable",
        "pods",
        put("metadata/name", "other"),
        'metadata.name: Invalid value: "other": field is immutable',
    ),
    (
        "namespace_immutable",
        "services",
        put("metadata/namespace", "prod"),
        'metadata.namespace: Invalid value: "prod": field is immutable',
    ),
    (
        "uid_immutable",
        "deployments",
        put("metadata/uid", "u-2"),
        'metadata.uid: Invalid value: "u-2": field is immutable',
    ),
    (
        "creation_timestamp_immutable",
        "nodes",
        put("metadata/creationTimestamp", "2025-02-02T00:00:00Z"),
        'metadata.creationTimestamp: Invalid value: "2025-02-02T00:00:00Z": field is immutable',
    ),
    (
        "generation_never_decreases",
        "deployments",
        put("metadata/generation", 1),
        "metadata.generation: Invalid value: 1: must not be decremented",
    ),
    (
        "pod_containers_fixed",
        "pods",
        put("spec/containers/1", {"name": "b", "image": "b"}),
        "spec.containers: Forbidden: pod updates may not add or remove containers",
    ),
    (
        "active_deadline_only_shortened",
        "pods",
        put("spec/activeDeadlineSeconds", 120),
        "spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous value",
    ),
    (
        "active_deadline_not_removed",
        "pods",
        drop("spec/activeDeadlineSeconds"),
        (
            "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to "
            "nil value"
        ),
    ),
    (
        "tolerations_only_added",
        "pods",
        put("spec/tolerations", []),
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
    ),
    (
        "node_name_fixed_once_set",
        "pods",
        put("spec/nodeName", "n2"),
        'spec.nodeName: Invalid value: "n2": field is immutable',
    ),
    (
        "cluster_ip_fixed_once_set",
        "services",
        put("spec/clusterIP", "10.96.0.20"),
        'spec.clusterIP: Invalid value: "10.96.0.20": field is immutable',
    ),
    (
        "deployment_selector_immutable",
        "deployments",
        put("spec/selector", {"matchLabels": {"app": "web", "tier": "front"}}),
        'spec.selector: Invalid value: {"matchLabels": {"app": "web", "tier": "front"}}: field is immutable',
    ),
    (
        "replica_set_selector_immutable",
        "replicasets",
        put("spec/selector/matchLabels", {}),
        'spec.selector: Invalid value: {"matchLabels": {}}: field is immutable',
    ),
    (
        "endpoint_slice_address_type_immutable",
        "endpointslices",
        put("addressType", "IPv6"),
        'addressType: Invalid value: "IPv6": field is immutable',
    ),
    (
        "node_pod_cidr_fixed_once_set",
        "nodes",
        put("spec/podCIDRs", ["10.244.9.0/24"]),
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
    ),
    (
        "node_provider_id_fixed_once_set",
        "nodes",
        put("spec/providerID", "other://n1"),
        'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
    ),
    (
        "no_new_finalizers_while_deleting",
        "namespaces",
        put("metadata/finalizers", ["example.com/keep"]),
        (
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, "
            'found new finalizers []string{"example.com/keep"}'
        ),
    ),
    (
        "update_still_validates_the_object",
        "deployments",
        put("spec/replicas", -1),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
]


def stored(resource: str) -> Obj:
    """A valid object as the store holds it: server metadata set, and a few fields an update may touch."""
    obj = valid(resource)
    obj["metadata"].update(
        uid="u-1", creationTimestamp="2025-01-01T00:00:00Z", resourceVersion="7", generation=2
    )
    if resource == "pods":
        obj["spec"]["nodeName"] = "n1"
        obj["spec"]["activeDeadlineSeconds"] = 60
        obj["spec"]["initContainers"] = [{"name": "init", "image": "busybox:1.36"}]
    if resource == "services":
        obj["spec"]["clusterIP"] = "10.96.0.10"
        obj["spec"]["clusterIPs"] = ["10.96.0.10"]
    if resource == "namespaces":
        obj["metadata"]["deletionTimestamp"] = "2025-01-02T00:00:00Z"
    return apply_defaults(resource, obj)


@pytest.mark.parametrize(
    ("resource", "mutate", "expected"), [pytest.param(*c[1:], id=c[0]) for c in UPDATE_REFUSED]
)
def test_update_refused_with_kubernetes_message(resource: str, mutate: Mutation, expected: str) -> None:
    old = stored(resource)
    new = copy.deepcopy(old)
    mutate(new)
    assert expected in messages(validate_update(resource, new, old))


UPDATE_ALLOWED: list[tuple[str, str, Mutation]] = [
    ("nothing_changed", "pods", lambda obj: None),
    ("pod_labels", "pods", put("metadata/labels", {"app": "web", "track": "canary"})),
    ("pod_container_image", "pods", put(f"{C0}/image", "nginx:1.27")),
    ("pod_init_container_image", "pods", put("spec/initContainers/0/image", "busybox:1.37")),
    ("pod_empty_list_same_as_none", "pods", put("spec/volumes", [])),
    ("pod_null_same_as_none", "pods", put("spec/nodeSelector", None)),
    ("pod_active_deadline_shortened", "pods", put("spec/activeDeadlineSeconds", 30)),
    (
        "pod_toleration_added",
        "pods",
        lambda obj: obj["spec"]["tolerations"].append(
            {"key": "team", "operator": "Equal", "value": "a", "effect": "NoSchedule"}
        ),
    ),
    ("pod_toleration_seconds_changed", "pods", put("spec/tolerations/0/tolerationSeconds", 10)),
    ("pod_status_changed", "pods", put("status", {"phase": "Running", "podIP": "10.244.1.5"})),
    ("deployment_scaled", "deployments", put("spec/replicas", 5)),
    ("deployment_template_changed", "deployments", put(f"{TEMPLATE_C0}/image", "nginx:1.27")),
    ("service_ports_changed", "services", put("spec/ports/0/targetPort", 8080)),
    (
        "service_to_external_name",
        "services",
        both(
            put("spec/type", "ExternalName"),
            put("spec/externalName", "db.example.com"),
            put("spec/clusterIP", ""),
            drop("spec/clusterIPs"),
            drop("spec/ipFamilies"),
            drop("spec/ipFamilyPolicy"),
            drop("spec/internalTrafficPolicy"),
        ),
    ),
    ("node_taints_changed", "nodes", put("spec/taints", [{"key": "maintenance", "effect": "NoSchedule"}])),
    ("node_unschedulable", "nodes", put("spec/unschedulable", True)),
    ("lease_renewed", "leases", put("spec/renewTime", "2025-01-01T00:00:10.000000Z")),
    ("endpoint_slice_endpoints_changed", "endpointslices", put("endpoints/0/conditions/ready", False)),
    ("generation_bumped", "deployments", put("metadata/generation", 3)),
]


@pytest.mark.parametrize(("resource", "mutate"), [pytest.param(*c[1:], id=c[0]) for c in UPDATE_ALLOWED])
def test_update_allowed(resource: str, mutate: Mutation) -> None:
    old = stored(resource)
    new = copy.deepcopy(old)
    mutate(new)
    assert messages(validate_update(resource, new, old)) == []


def test_pod_spec_change_refused_with_kubernetes_message_and_the_change() -> None:
    old = stored("pods")
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    errors = [e for e in validate_update("pods", new, old) if e.field == "spec"]
    assert len(errors) == 1
    message = str(errors[0])
    assert message.startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n"
    )
    assert "spec.containers[0].ports[0].containerPort: 80 -> 8080" in message
    assert message.startswith("spec: Forbidden: " + POD_UPDATE_FORBIDDEN)


def test_pod_image_and_forbidden_change_report_only_the_forbidden_one() -> None:
    old = stored("pods")
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.27"
    new["spec"]["dnsPolicy"] = "Default"
    message = messages(validate_update("pods", new, old))
    assert len(message) == 1
    assert message[0].endswith('  spec.dnsPolicy: "ClusterFirst" -> "Default"')


def test_pod_node_name_may_be_set_once_by_update() -> None:
    old = stored("pods")
    del old["spec"]["nodeName"]
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "n1"
    assert validate_update("pods", new, old) == []


def test_pod_node_name_change_reported_once() -> None:
    old = stored("pods")
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "n2"
    assert messages(validate_update("pods", new, old)) == [
        'spec.nodeName: Invalid value: "n2": field is immutable'
    ]


def test_grace_period_may_go_from_negative_to_one() -> None:
    old = stored("pods")
    old["spec"]["terminationGracePeriodSeconds"] = -1
    new = copy.deepcopy(old)
    new["spec"]["terminationGracePeriodSeconds"] = 1
    assert validate_update("pods", new, old) == []


def test_update_reports_a_repeated_problem_once() -> None:
    old = stored("pods")
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"-bad": "x"}
    assert messages(validate_update("pods", new, old)) == [
        f'metadata.labels: Invalid value: "-bad": {QUALIFIED}'
    ]


# --- the Status error ----------------------------------------------------------------------------------


def test_status_error_for_one_error_has_no_brackets() -> None:
    errors = [FieldError("spec.containers[0].name", ErrorType.REQUIRED)]
    status = to_status_error("Pod", "web", errors).status
    assert (status.code, status.reason, status.status) == (422, "Invalid", "Failure")
    assert status.message == 'Pod "web" is invalid: spec.containers[0].name: Required value'
    assert to_dict(status)["details"] == {
        "name": "web",
        "kind": "Pod",
        "causes": [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].name"}
        ],
    }


def test_status_error_lists_several_errors_in_brackets() -> None:
    obj = valid("pods")
    obj["spec"]["containers"][0].update(name="", image="")
    error = to_status_error("Pod", "web", validate_create("pods", obj))
    assert (
        str(error) == 'Pod "web" is invalid: [spec.containers[0].name: Required value, '
        "spec.containers[0].image: Required value]"
    )
    assert error.code == 422


def test_status_error_qualifies_kind_with_its_group() -> None:
    errors = [FieldError("spec.replicas", ErrorType.INVALID, -1, "must be greater than or equal to 0")]
    status = to_status_error("Deployment", "web", errors).status
    assert (
        status.message == 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    assert status.details is not None and status.details.group == "apps"


def test_status_error_drops_repeated_errors() -> None:
    error = FieldError("metadata.name", ErrorType.REQUIRED, None, "name or generateName is required")
    status = to_status_error("Pod", "", [error, error]).status
    assert (
        status.message == 'Pod "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert status.details is not None and len(status.details.causes) == 1


# --- the shared manifests ------------------------------------------------------------------------------


def _manifest_documents() -> Iterator[Any]:
    if not MANIFESTS.is_dir():
        return
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if not isinstance(doc, dict) or doc.get("kind") not in (
                "Pod",
                "Deployment",
                "ReplicaSet",
                "Service",
                "Namespace",
            ):
                continue
            # The extensions/v1beta1 Deployment is refused by the API server before validation.
            rt = resource_for_kind(str(doc.get("apiVersion")), doc["kind"])
            if rt is not None:
                yield pytest.param(
                    rt.plural, rt.namespaced, doc, id=f"{path.relative_to(MANIFESTS)}#{index}-{doc['kind']}"
                )


MANIFEST_DOCUMENTS = list(_manifest_documents())


@pytest.mark.skipif(not MANIFEST_DOCUMENTS, reason=f"no manifests under {MANIFESTS}")
@pytest.mark.parametrize(("resource", "namespaced", "doc"), MANIFEST_DOCUMENTS)
def test_manifest_defaults_and_validates_cleanly(resource: str, namespaced: bool, doc: Obj) -> None:
    doc = copy.deepcopy(doc)
    if namespaced:
        doc["metadata"].setdefault("namespace", "default")  # as the API server fills it from the request
    defaulted = apply_defaults(resource, doc)
    assert messages(validate_create(resource, defaulted)) == []
    assert messages(validate_update(resource, defaulted, defaulted)) == []


def test_every_supported_manifest_kind_is_covered() -> None:
    require_manifests()
    assert {p.values[0] for p in MANIFEST_DOCUMENTS} == {
        "pods",
        "deployments",
        "replicasets",
        "services",
        "namespaces",
    }
