"""``python -m services.kubelet``: the node agent for one node (``--node``) or many hollow ones (``--nodes``).

    python -m services.kubelet --nats URL --node worker-1 --token-file tokens.csv --cpu 4 --memory 8Gi
    python -m services.kubelet --nats URL --nodes 'worker-{1..200}' --token-file tokens.csv

One node per process talks to its runtime process over NATS (``python -m services.runtime --node …``);
hollow nodes each hold an in-process runtime. Every node authenticates as ``system:node:<node>`` with
the token the token file gives that user.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from nats.aio.client import Client
from pydantic import Field, field_validator, model_validator

from services.kubelet.host import KubeletHost
from services.kubelet.kubelet import Kubelet, KubeletOptions
from services.kubelet.nodeconfig import NodeConfig, expand_names, parse_labels, parse_taints, token_for
from services.runtime import api as cri
from shared.apiclient import ApiClient
from shared.bus import connect
from shared.clock import RealClock
from shared.config import ServiceFlags, die, parse_flags
from shared.lifecycle import run_service
from shared.logging import configure, get_logger
from shared.models import Quantity
from shared.reachability import Reachability

log = get_logger("kubelet")

DRAIN_TIMEOUT = 5.0


class KubeletFlags(ServiceFlags):
    """The kubelet: registers its node(s), heartbeats, and runs the pods bound to them."""

    node: str = Field(default="", description="the node's name (one node per process)")
    nodes: str = Field(default="", description="hollow nodes: a brace pattern such as 'worker-{1..500}'")
    token_file: Path = Field(description="kube-apiserver token file; each node uses user system:node:<node>")
    cpu: str = Field(default="4", description="CPU capacity per node")
    memory: str = Field(default="8Gi", description="memory capacity per node")
    pods: int = Field(default=110, ge=1, description="pod capacity per node")
    reserved_cpu: str = Field(
        default="0", description="CPU kept from pods (allocatable = capacity - reserved)"
    )
    reserved_memory: str = Field(default="0", description="memory kept from pods")
    labels: str = Field(default="", description="extra node labels, k=v,…")
    taints: str = Field(default="", description="taints to register with, key[=value]:Effect,…")
    role: Literal["worker", "control-plane"] = Field(
        default="worker", description="node-role.kubernetes.io/<role>"
    )
    pod_cidr: str = Field(
        default="", description="the node's pod CIDR (default 10.244.<n>.0/24, n from the name)"
    )
    runtime: Literal["", "nats", "inprocess"] = Field(
        default="", description="nats (default for --node) or inprocess (default for --nodes)"
    )
    runtime_timeout: float = Field(default=2.0, gt=0, description="seconds a runtime call may take over NATS")
    lease_seconds: float = Field(default=10.0, gt=0, description="Lease renew interval (duration is 4x)")
    backoff_scale: float = Field(
        default=1.0, gt=0, description="scales CrashLoopBackOff (10 s doubling to 5 min)"
    )
    status_interval: float = Field(default=10.0, gt=0, description="how often node conditions are checked")

    @field_validator("cpu", "memory", "reserved_cpu", "reserved_memory")
    @classmethod
    def _quantity(cls, value: str) -> str:
        Quantity(value)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: str) -> str:
        parse_labels(value)
        return value

    @field_validator("taints")
    @classmethod
    def _taints(cls, value: str) -> str:
        parse_taints(value)
        return value

    @model_validator(mode="after")
    def _one_of_node_and_nodes(self) -> KubeletFlags:
        if bool(self.node) == bool(self.nodes):
            raise ValueError("give exactly one of --node and --nodes")
        names = expand_names(self.nodes or self.node)
        if self.pod_cidr and len(names) > 1:
            raise ValueError("--pod-cidr applies to one node only")
        return self

    def names(self) -> list[str]:
        return expand_names(self.nodes or self.node)

    def runtime_kind(self) -> str:
        return self.runtime or ("inprocess" if self.nodes else "nats")

    def node_config(self, name: str) -> NodeConfig:
        return NodeConfig(
            name=name,
            cpu=Quantity(self.cpu),
            memory=Quantity(self.memory),
            pods=self.pods,
            reserved_cpu=Quantity(self.reserved_cpu),
            reserved_memory=Quantity(self.reserved_memory),
            labels=parse_labels(self.labels),
            taints=tuple(parse_taints(self.taints)),
            role=self.role,
            pod_cidr=self.pod_cidr,
        )

    def options(self) -> KubeletOptions:
        return KubeletOptions(
            lease_seconds=self.lease_seconds,
            status_interval=self.status_interval,
            backoff_scale=self.backoff_scale,
            node_events=not self.nodes,  # hollow nodes record only their pods' events
        )


def make_runtime(flags: KubeletFlags, nc: Client, name: str, clock: RealClock) -> cri.RuntimeClient:
    if flags.runtime_kind() == "inprocess":
        from services.runtime.core import RuntimeCore
        from services.runtime.inprocess import InProcessRuntime
        from services.runtime.network import PodNetwork
        from services.runtime.timeline import Timeline

        # The node's pods serve on their addresses and send traffic from this process.
        core = RuntimeCore(name, timeline=Timeline.of(clock))
        return InProcessRuntime(core, clock, PodNetwork(nc, core, clock))
    from services.runtime.client import NatsRuntimeClient

    return NatsRuntimeClient(nc, name, timeout=flags.runtime_timeout)


async def main(flags: KubeletFlags, tokens: dict[str, str], stop: asyncio.Event) -> None:
    names = flags.names()
    nc = await connect(flags.servers, name=f"kubelet-{names[0]}" if len(names) == 1 else "kubelet-hollow")
    clock = RealClock()
    # A kubelet of one node honours network partitions that name its node (a control-plane replica's
    # node is named after the replica); hollow nodes share a connection and stay out of partitions.
    reachability = Reachability(nc, names[0]) if len(names) == 1 else None
    if reachability is not None:
        await reachability.start()
    kubelets = [
        Kubelet(
            flags.node_config(name),
            ApiClient(nc, tokens[name], reachability=reachability),
            make_runtime(flags, nc, name, clock),
            clock,
            flags.options(),
        )
        for name in names
    ]
    host = KubeletHost(nc, kubelets)
    await host.start()
    log.info("kubelet ready", nodes=len(names), first=names[0], runtime=flags.runtime_kind())
    await stop.wait()
    await host.stop()
    try:
        await asyncio.wait_for(nc.drain(), DRAIN_TIMEOUT)
    except TimeoutError:
        await nc.close()
    log.info("kubelet stopped", nodes=len(names))


def cli() -> None:
    flags = parse_flags(KubeletFlags, prog="python -m services.kubelet")
    configure(flags.log_level)
    try:
        text = flags.token_file.read_text(encoding="utf-8-sig")
    except OSError as error:
        die(f"--token-file {flags.token_file}: {error.strerror}")
    tokens: dict[str, str] = {}
    for name in flags.names():
        try:
            tokens[name] = token_for(text, name, str(flags.token_file))
        except (KeyError, ValueError) as error:
            die(str(error).strip("'\""))
    run_service(lambda stop: main(flags, tokens, stop))


if __name__ == "__main__":
    cli()
