"""Test builders for API objects: ``make_pod().name("a").node("n1").requests(cpu="500m").obj()``.

Each builder wraps a real model and every method returns the builder, so a test states only what matters
to it (as the scheduler's ``pkg/scheduler/testing/wrappers.go`` does). ``obj()`` returns the model itself;
build a fresh one per test.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.models import (
    Container,
    ContainerPort,
    LabelSelector,
    Node,
    NodeCondition,
    ObjectMeta,
    OwnerReference,
    Pod,
    PodSpec,
    PodTemplateSpec,
    Quantity,
    ReplicaSet,
    ReplicaSetSpec,
    ResourceRequirements,
    Taint,
    Toleration,
)

__all__ = ["NodeBuilder", "PodBuilder", "ReplicaSetBuilder", "make_node", "make_pod", "make_replica_set"]


def _quantities(values: Mapping[str, str | int | float]) -> dict[str, Quantity]:
    return {name: Quantity(value) for name, value in values.items()}


class PodBuilder:
    def __init__(self) -> None:
        self._pod = Pod(metadata=ObjectMeta(name="pod", namespace="default"), spec=PodSpec(containers=[]))

    def name(self, name: str) -> PodBuilder:
        self._pod.metadata.name = name
        return self

    def namespace(self, namespace: str) -> PodBuilder:
        self._pod.metadata.namespace = namespace
        return self

    def uid(self, uid: str) -> PodBuilder:
        self._pod.metadata.uid = uid
        return self

    def label(self, key: str, value: str) -> PodBuilder:
        self._pod.metadata.labels[key] = value
        return self

    def labels(self, labels: Mapping[str, str]) -> PodBuilder:
        self._pod.metadata.labels.update(labels)
        return self

    def owner(self, kind: str, name: str, uid: str, api_version: str = "apps/v1") -> PodBuilder:
        ref = OwnerReference(api_version=api_version, kind=kind, name=name, uid=uid, controller=True)
        self._pod.metadata.owner_references.append(ref)
        return self

    def node(self, node_name: str) -> PodBuilder:
        self._pod.spec.node_name = node_name
        return self

    def container(
        self,
        name: str | None = None,
        image: str = "registry.k8s.io/pause:3.9",
        requests: Mapping[str, str | int | float] | None = None,
        limits: Mapping[str, str | int | float] | None = None,
        ports: Mapping[str, int] | None = None,
    ) -> PodBuilder:
        """Add a container; ``ports`` maps port names to numbers (``{"http": 8080}``)."""
        resources = ResourceRequirements()
        if requests:
            resources.requests = _quantities(requests)
        if limits:
            resources.limits = _quantities(limits)
        container = Container(
            name=name or f"c{len(self._pod.spec.containers)}",
            image=image,
            resources=resources,
        )
        if ports:
            container.ports = [ContainerPort(name=n, container_port=p) for n, p in ports.items()]
        self._pod.spec.containers.append(container)
        return self

    def init_container(
        self, name: str, requests: Mapping[str, str | int | float], sidecar: bool = False
    ) -> PodBuilder:
        container = Container(name=name, image="busybox", resources=ResourceRequirements())
        container.resources.requests = _quantities(requests)
        if sidecar:
            container.restart_policy = "Always"
        self._pod.spec.init_containers.append(container)
        return self

    def requests(
        self, extra: Mapping[str, str | int | float] | None = None, **resources: str | int | float
    ) -> PodBuilder:
        """Requests for one new container: ``.requests(cpu="500m", memory="1Gi")`` or a dict for names
        that are not identifiers (``{"nvidia.com/gpu": 1}``)."""
        return self.container(requests={**(extra or {}), **resources})

    def pod_resources(self, **requests: str | int | float) -> PodBuilder:
        """Pod-level ``spec.resources.requests``."""
        self._pod.spec.resources = ResourceRequirements(requests=_quantities(requests))
        return self

    def node_selector(self, **labels: str) -> PodBuilder:
        self._pod.spec.node_selector.update(labels)
        return self

    def toleration(self, key: str, value: str = "", effect: str = "", operator: str = "Equal") -> PodBuilder:
        self._pod.spec.tolerations.append(Toleration(key=key, value=value, effect=effect, operator=operator))
        return self

    def priority(self, priority: int) -> PodBuilder:
        self._pod.spec.priority = priority
        return self

    def phase(self, phase: str) -> PodBuilder:
        self._pod.status.phase = phase
        return self

    def obj(self) -> Pod:
        if not self._pod.spec.containers:
            self.container()
        return self._pod


class NodeBuilder:
    def __init__(self) -> None:
        self._node = Node(metadata=ObjectMeta(name="node"))

    def name(self, name: str) -> NodeBuilder:
        self._node.metadata.name = name
        return self

    def label(self, key: str, value: str) -> NodeBuilder:
        self._node.metadata.labels[key] = value
        return self

    def capacity(self, **resources: str | int | float) -> NodeBuilder:
        """Capacity and, unless set separately, the same allocatable: ``.capacity(cpu=4, memory="8Gi")``."""
        self._node.status.capacity.update(_quantities(resources))
        self._node.status.allocatable.update(_quantities(resources))
        return self

    def allocatable(self, **resources: str | int | float) -> NodeBuilder:
        self._node.status.allocatable.update(_quantities(resources))
        return self

    def taint(self, key: str, effect: str = "NoSchedule", value: str = "") -> NodeBuilder:
        self._node.spec.taints.append(Taint(key=key, value=value, effect=effect))
        return self

    def unschedulable(self, unschedulable: bool = True) -> NodeBuilder:
        self._node.spec.unschedulable = unschedulable
        return self

    def ready(self, ready: bool = True) -> NodeBuilder:
        status = "True" if ready else "False"
        self._node.status.conditions = [c for c in self._node.status.conditions if c.type != "Ready"]
        self._node.status.conditions.append(NodeCondition(type="Ready", status=status))
        return self

    def obj(self) -> Node:
        return self._node


class ReplicaSetBuilder:
    def __init__(self) -> None:
        self._rs = ReplicaSet(
            metadata=ObjectMeta(name="rs", namespace="default"),
            spec=ReplicaSetSpec(
                selector=LabelSelector(match_labels={"app": "rs"}),
                template=PodTemplateSpec(
                    metadata=ObjectMeta(labels={"app": "rs"}),
                    spec=PodSpec(containers=[Container(name="app", image="registry.k8s.io/pause:3.9")]),
                ),
            ),
        )

    def name(self, name: str) -> ReplicaSetBuilder:
        self._rs.metadata.name = name
        return self

    def namespace(self, namespace: str) -> ReplicaSetBuilder:
        self._rs.metadata.namespace = namespace
        return self

    def replicas(self, replicas: int) -> ReplicaSetBuilder:
        self._rs.spec.replicas = replicas
        return self

    def selector(self, **labels: str) -> ReplicaSetBuilder:
        """Sets both the selector and the template's labels, so they agree."""
        self._rs.spec.selector = LabelSelector(match_labels=dict(labels))
        self._rs.spec.template.metadata.labels = dict(labels)
        return self

    def obj(self) -> ReplicaSet:
        return self._rs


def make_pod() -> PodBuilder:
    return PodBuilder()


def make_node() -> NodeBuilder:
    return NodeBuilder()


def make_replica_set() -> ReplicaSetBuilder:
    return ReplicaSetBuilder()
