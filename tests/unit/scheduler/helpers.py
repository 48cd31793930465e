"""Builders for the scheduler's unit tests: PodInfo and NodeInfo from the project's object builders."""

from __future__ import annotations

from services.scheduler.nodeinfo import NodeInfo, PodInfo
from shared.models import to_dict
from tests.builders import NodeBuilder, PodBuilder, make_node


def pod_info(builder: PodBuilder) -> PodInfo:
    return PodInfo.of(to_dict(builder.obj()))


def node_info(builder: NodeBuilder, *pods: PodBuilder) -> NodeInfo:
    info = NodeInfo(builder.obj())
    for pod in pods:
        info.add_pod(pod_info(pod.node(info.name)))
    return info


def node(name: str, cpu: str | int = 4, memory: str = "8Gi", pods: int = 110) -> NodeBuilder:
    """A node with a hostname label and the given allocatable."""
    return (
        make_node()
        .name(name)
        .label("kubernetes.io/hostname", name)
        .capacity(cpu=cpu, memory=memory, pods=pods)
    )
