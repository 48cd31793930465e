"""The scheduler cache: nodes with the pods on them, including pods *assumed* onto a node before the API
server has confirmed their binding.

After a cycle picks a node, :meth:`SchedulerCache.assume` puts the pod on it at once, so the next cycle —
which may start before the binding is written — already sees those resources taken. The binding then
either shows up through the pod informer (:meth:`add_pod` confirms the assumption) or fails
(:meth:`forget` takes the pod off the node again). Pods bound to a node not seen yet are kept on a
placeholder, so their requests count as soon as the node appears.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduler.framework import ClusterEvent, node_update_events
from services.scheduler.nodeinfo import NodeInfo, PodInfo
from shared.models import Node, ObjectMeta


@dataclass
class _PodState:
    pod: PodInfo
    node: str
    assumed: bool
    binding_finished: bool = False


class SchedulerCache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._placeholders: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._list: list[NodeInfo] | None = None

    # --- nodes -----------------------------------------------------------------------------------------

    def set_node(self, node: Node) -> frozenset[ClusterEvent]:
        """Add or update a node; returns what changed, in cluster-event terms."""
        name = node.metadata.name
        fresh = NodeInfo(node)
        current = self._nodes.get(name)
        events = node_update_events(current, fresh)
        if current is not None:
            current.set_node(node)
            return events
        placeholder = self._placeholders.pop(name, None)
        if placeholder is not None:
            placeholder.set_node(node)
            fresh = placeholder
        self._nodes[name] = fresh
        self._list = None
        return events

    def remove_node(self, name: str) -> None:
        info = self._nodes.pop(name, None)
        self._list = None
        if info is not None and info.pods:
            # Its pods are still bound to it as far as the API server knows; keep counting them.
            self._placeholders[name] = info

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def snapshot(self) -> list[NodeInfo]:
        """The nodes, in a stable order. The NodeInfos are the live ones: read them within one cycle."""
        if self._list is None:
            self._list = sorted(self._nodes.values(), key=lambda n: n.name)
        return self._list

    # --- pods ------------------------------------------------------------------------------------------

    def assume(self, pod: PodInfo, node: str) -> None:
        """Count ``pod`` on ``node`` now, before its binding is confirmed."""
        if pod.key in self._pods:
            raise ValueError(f"pod {pod.key} is already in the cache")
        self._pods[pod.key] = _PodState(pod, node, assumed=True)
        self._info_for(node).add_pod(pod)

    def finish_binding(self, key: str) -> None:
        state = self._pods.get(key)
        if state is not None and state.assumed:
            state.binding_finished = True

    def forget(self, key: str) -> bool:
        """Undo :meth:`assume` (the binding failed); False if the pod is not assumed."""
        state = self._pods.get(key)
        if state is None or not state.assumed:
            return False
        del self._pods[key]
        self._remove_from_node(key, state.node)
        return True

    def is_assumed(self, key: str) -> bool:
        state = self._pods.get(key)
        return state is not None and state.assumed

    def add_pod(self, pod: PodInfo) -> None:
        """A pod bound to ``pod.node_name`` (from the informer): confirms an assumption or adds it."""
        state = self._pods.get(pod.key)
        if state is not None:
            if state.node != pod.node_name:
                # Bound elsewhere than assumed (another scheduler won): count it where it really is.
                self._remove_from_node(pod.key, state.node)
            else:
                self._info_for(state.node).remove_pod(pod.key)
        self._pods[pod.key] = _PodState(pod, pod.node_name, assumed=False)
        self._info_for(pod.node_name).add_pod(pod)

    def remove_pod(self, key: str) -> bool:
        """The pod was deleted or finished; False if the cache did not hold it."""
        state = self._pods.pop(key, None)
        if state is None:
            return False
        self._remove_from_node(key, state.node)
        return True

    def pod(self, key: str) -> PodInfo | None:
        state = self._pods.get(key)
        return state.pod if state else None

    def pods_on(self, node: str) -> list[PodInfo]:
        info = self._nodes.get(node) or self._placeholders.get(node)
        return list(info.pods.values()) if info else []

    def counts(self) -> dict[str, int]:
        assumed = sum(1 for s in self._pods.values() if s.assumed)
        return {"nodes": len(self._nodes), "pods": len(self._pods), "assumed": assumed}

    # --- internals --------------------------------------------------------------------------------------

    def _info_for(self, name: str) -> NodeInfo:
        info = self._nodes.get(name) or self._placeholders.get(name)
        if info is None:
            info = self._placeholders[name] = NodeInfo(Node(metadata=ObjectMeta(name=name)))
        return info

    def _remove_from_node(self, key: str, name: str) -> None:
        info = self._nodes.get(name) or self._placeholders.get(name)
        if info is None:
            return
        info.remove_pod(key)
        if name in self._placeholders and not info.pods:
            del self._placeholders[name]
