"""The cluster topology: which replicas and workers a cluster has, their ports, timings and components.

A topology file (``infra/topology.yaml``) is the single description of a cluster that ``make up`` starts.
It is a plain data model, validated when it is constructed, so a bad file fails with one clear line per
problem before anything starts::

    topology = load_topology(DEFAULT_TOPOLOGY, workers=10)
    [p.program for p in topology.placements()]  # ['cp-1-nats', 'cp-2-nats', 'cp-3-nats']

A *component* runs on every host of its role (``control-plane`` replicas or ``worker`` nodes); each
(host, component) pair is a *placement*, which becomes one supervised program named ``<host>-<component>``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

INFRA_DIR = Path(__file__).resolve().parents[1] / "infra"
DEFAULT_TOPOLOGY = INFRA_DIR / "topology.yaml"

NATS = "nats"
"""The one built-in component: a nats-server per control-plane replica, started from its own config."""

Role = Literal["control-plane", "worker", "node"]
"""Where a component runs: every control-plane replica, every worker, or every node (both: a kubelet)."""
HostRole = Literal["control-plane", "worker"]
Port = Annotated[int, Field(ge=1, le=65535)]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")


class TopologyError(ValueError):
    """A topology file that cannot be read or does not validate; the message names every problem."""


def _dns_label(value: str, what: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} must be a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Replica(_Model):
    """A control-plane replica and the ports of the nats-server beside it."""

    name: str
    nats_port: Port = Field(description="NATS client port")
    route_port: Port = Field(description="NATS cluster (route) port")
    monitor_port: Port | None = Field(default=None, description="NATS HTTP monitoring port (/varz)")
    https_port: Port | None = Field(
        default=None,
        description="the API server's Kubernetes REST port (HTTPS, for kubectl); none: any free one",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_label(value, "replica name")

    def ports(self) -> dict[str, int]:
        found = {"nats_port": self.nats_port, "route_port": self.route_port}
        for optional in ("monitor_port", "https_port"):
            port = getattr(self, optional)
            if port is not None:
                found[optional] = port
        return found


def _check_cpu(value: str) -> str:
    if not _CPU.match(value) or float(value.rstrip("m")) <= 0:
        raise ValueError(f"cpu {value!r} must be a positive CPU quantity such as 4, 1.5 or 500m")
    return value


def _check_memory(value: str) -> str:
    number = re.match(r"^\d+(\.\d+)?", value)
    if not _MEMORY.match(value) or number is None or float(number.group(0)) <= 0:
        raise ValueError(f"memory {value!r} must be a positive memory quantity such as 8Gi or 512Mi")
    return value


class WorkerPool(_Model):
    """``count`` identical worker nodes named ``<name_prefix>-1`` … ``<name_prefix>-<count>``."""

    count: int = Field(ge=1, le=1000)
    name_prefix: str = "worker"
    cpu: str = Field(default="4", description="CPU capacity per node, a Kubernetes quantity: 4, 500m")
    memory: str = Field(default="8Gi", description="memory capacity per node, a Kubernetes quantity: 8Gi")

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _dns_label(value, "worker name_prefix")

    _cpu = field_validator("cpu")(_check_cpu)
    _memory = field_validator("memory")(_check_memory)

    def names(self) -> list[str]:
        return [f"{self.name_prefix}-{i}" for i in range(1, self.count + 1)]


class ControlPlaneNodes(_Model):
    """Control-plane replicas register as Nodes too: small, and tainted so that pods land on workers."""

    cpu: str = Field(default="2", description="CPU capacity of each control-plane Node")
    memory: str = Field(default="4Gi", description="memory capacity of each control-plane Node")
    taints: str = Field(
        default="node-role.kubernetes.io/control-plane:NoSchedule",
        description="taints the control-plane Nodes register with (kubelet --taints syntax)",
    )

    _cpu = field_validator("cpu")(_check_cpu)
    _memory = field_validator("memory")(_check_memory)


class Timings(_Model):
    """Failure-detection settings, much faster than Kubernetes' defaults so experiments are quick."""

    node_grace_period_seconds: float = Field(default=5, gt=0)
    eviction_toleration_seconds: int = Field(default=5, ge=0)
    leader_lease_seconds: float = Field(default=3, gt=0)
    leader_renew_deadline_seconds: float = Field(default=2, gt=0)
    leader_retry_period_seconds: float = Field(default=0.5, gt=0)
    node_heartbeat_seconds: float = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Timings:
        # The same rules client-go's leader election and the node lifecycle controller rely on.
        lease, renew, retry = (
            self.leader_lease_seconds,
            self.leader_renew_deadline_seconds,
            self.leader_retry_period_seconds,
        )
        if not lease > renew > retry:
            raise ValueError(
                "leader timings must satisfy leader_lease_seconds > leader_renew_deadline_seconds > "
                "leader_retry_period_seconds"
            )
        if not self.node_heartbeat_seconds < self.node_grace_period_seconds:
            raise ValueError("node_heartbeat_seconds must be less than node_grace_period_seconds")
        return self


# Placeholders a component's ``args`` may use, by role (every timing is one); see render.placeholders.
COMMON_PLACEHOLDERS = frozenset(
    {
        "name",
        "nats",
        "nats_local",
        "cluster_name",
        "state_dir",
        "data_dir",
        "token_file",
        *Timings.model_fields,
    }
)
NODE_PLACEHOLDERS = frozenset({"cpu", "memory", "node_role", "node_taints", "node_runtime"})
"""What every host knows about itself as a Node: capacity, role label, taints, and where its runtime runs."""
ROLE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "control-plane": COMMON_PLACEHOLDERS
    | {"peers", "https_port", "tls_cert_file", "tls_private_key_file"}
    | NODE_PLACEHOLDERS,
    "worker": COMMON_PLACEHOLDERS | NODE_PLACEHOLDERS,
    "node": COMMON_PLACEHOLDERS | NODE_PLACEHOLDERS,
}


class Component(_Model):
    """One kind of process, run on every host of its ``role`` when ``enabled``.

    ``module`` is started as ``python -m <module> <args>``; ``args`` may use ``{placeholders}`` (see
    ``ROLE_PLACEHOLDERS``). The ``nats`` component is the exception: it runs the nats-server binary.
    """

    role: Role
    enabled: bool = False
    module: str | None = None
    args: tuple[str, ...] = ()
    priority: int = Field(default=100, ge=1, le=999, description="supervisord start order, lowest first")

    @field_validator("module")
    @classmethod
    def _module(cls, value: str | None) -> str | None:
        if value is not None and not _MODULE.match(value):
            raise ValueError(f"module {value!r} must be a dotted Python module name")
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> Component:
        allowed = ROLE_PLACEHOLDERS[self.role]
        for arg in self.args:
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(arg) if f is not None]
            except ValueError as error:
                raise ValueError(f"argument {arg!r} is not a valid template: {error}") from None
            for placeholder in fields:
                if placeholder not in allowed:
                    raise ValueError(
                        f"argument {arg!r} uses unknown placeholder {{{placeholder}}} for role {self.role}; "
                        f"known: {', '.join(sorted(allowed))}"
                    )
        return self


@dataclass(frozen=True)
class Placement:
    """One component on one host: a single supervised program."""

    host: str
    role: HostRole
    """The host's own role (a ``node`` component is placed on hosts of both roles)."""
    component: str

    @property
    def program(self) -> str:
        return f"{self.host}-{self.component}"


class Topology(_Model):
    """A whole cluster; see ``infra/topology.yaml`` for the default one, field by field."""

    cluster_name: str = "kubenats"
    host: IPv4Address = Field(default=IPv4Address("127.0.0.1"), description="address every server binds")
    replicas: tuple[Replica, ...] = Field(min_length=1, max_length=9)
    workers: WorkerPool
    control_plane_nodes: ControlPlaneNodes = ControlPlaneNodes()
    timings: Timings = Timings()
    components: dict[str, Component]

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name(cls, value: str) -> str:
        return _dns_label(value, "cluster_name")

    @field_validator("components")
    @classmethod
    def _components(cls, value: dict[str, Component]) -> dict[str, Component]:
        for name, component in value.items():
            _dns_label(name, "component name")
            if name == NATS:
                if component.role != "control-plane" or not component.enabled:
                    raise ValueError("component 'nats' must have role control-plane and be enabled")
                if component.module is not None or component.args:
                    raise ValueError("component 'nats' runs the nats-server binary: give no module or args")
            elif component.module is None:
                raise ValueError(f"component {name!r} needs a module to run (python -m <module>)")
        if NATS not in value:
            raise ValueError("components must include 'nats': every other component talks over it")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Topology:
        replica_names = [r.name for r in self.replicas]
        _no_duplicates(replica_names, "replica name")
        _no_duplicates([*replica_names, *self.workers.names()], "host name (replica or worker)")
        ports = [(port, f"{r.name}.{field}") for r in self.replicas for field, port in r.ports().items()]
        counts = Counter(port for port, _ in ports)
        for port, count in counts.items():
            if count > 1:
                users = ", ".join(where for p, where in ports if p == port)
                raise ValueError(f"port {port} is used more than once: {users}")
        _no_duplicates([p.program for p in self.placements(enabled_only=False)], "program name")
        return self

    def hosts(self, role: Role) -> list[str]:
        replicas = [r.name for r in self.replicas]
        if role == "control-plane":
            return replicas
        return self.workers.names() if role == "worker" else [*replicas, *self.workers.names()]

    def host_role(self, host: str) -> HostRole:
        return "control-plane" if host in {r.name for r in self.replicas} else "worker"

    def placements(self, enabled_only: bool = True) -> list[Placement]:
        """Every (host, component) pair, replicas first, in component start order."""
        ordered = sorted(self.components.items(), key=lambda item: item[1].priority)
        return [
            Placement(host=host, role=self.host_role(host), component=name)
            for name, component in ordered
            if component.enabled or not enabled_only
            for host in self.hosts(component.role)
        ]

    def replica(self, name: str) -> Replica:
        for replica in self.replicas:
            if replica.name == name:
                return replica
        raise KeyError(name)

    def nats_url(self, replica: Replica) -> str:
        return f"nats://{self.host}:{replica.nats_port}"

    def nats_urls(self) -> list[str]:
        return [self.nats_url(r) for r in self.replicas]

    def with_workers(self, count: int) -> Topology:
        """The same topology with ``count`` workers, validated again."""
        data = self.model_dump(mode="json")
        data["workers"]["count"] = count
        return validate_topology(data)


def _no_duplicates(values: list[str], what: str) -> None:
    duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "topology"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "\n".join(lines)


def validate_topology(data: Any, source: str = "topology") -> Topology:
    """Build a ``Topology`` from parsed data; ``TopologyError`` names each bad field."""
    try:
        return Topology.model_validate(data)
    except ValidationError as error:
        raise TopologyError(f"{source} is invalid:\n{_describe(error)}") from None


def load_topology(path: Path | str = DEFAULT_TOPOLOGY, workers: int | None = None) -> Topology:
    """Read and validate a topology file; ``workers`` (``make up WORKERS=10``) overrides the worker count."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise TopologyError(f"cannot read topology {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise TopologyError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise TopologyError(f"{path} must hold a mapping (cluster_name, replicas, workers, …)")
    if workers is not None:
        pool = data.get("workers")
        data["workers"] = {**(pool if isinstance(pool, dict) else {}), "count": workers}
    return validate_topology(data, source=str(path))
