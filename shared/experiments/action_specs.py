"""Method and rollback actions as an experiment file writes them: one pydantic model per ``type``.

Process actions act through supervisord on programs named ``<host>-<component>``; a target may instead
be a role resolved when the action runs (:data:`ROLES`), or ``$name``, what an earlier action saved with
``save_as``. Every action says whether it disrupts the cluster (the first disruption is the fault's t0,
the last one's end is where recovery is measured from).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.experiments.probe_specs import Probe
from shared.netchaos import MAX_DELAY_MS

ROLES = frozenset({"etcd-leader", "etcd-follower", "scheduler-leader", "controller-manager-leader"})
"""Targets that name a process by what it currently does rather than where it runs."""
PROGRAM = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
NODE_ACTIONS = ("crash", "recover", "partition", "heal")
REPLICA = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
REST = "rest"
"""In a partition's groups: every etcd member no other group names."""


class _ActionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    disruptive: ClassVar[bool] = True

    def describe(self) -> str:
        return str(getattr(self, "type", type(self).__name__))


class ProcessAction(_ActionSpec):
    """An action on one or more supervisord programs; ``target: x`` is shorthand for ``targets: [x]``."""

    targets: list[str] = Field(min_length=1)
    save_as: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "target" in data:
            if "targets" in data:
                raise ValueError("give either target or targets, not both")
            data = {**data, "targets": [data["target"]]}
            del data["target"]
        return data

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, targets: list[str]) -> list[str]:
        for target in targets:
            if target in ROLES or PROGRAM.match(target) or re.match(r"^\$[a-z][a-z0-9_]*$", target):
                continue
            raise ValueError(
                f"{target!r} is not a program name (cp-1-etcd), a role ({', '.join(sorted(ROLES))}) "
                "or a $reference"
            )
        return targets

    def describe(self) -> str:
        return f"{self.describe_verb()} {', '.join(self.targets)}"

    def describe_verb(self) -> str:
        return str(getattr(self, "type", "act on"))


class Kill(ProcessAction):
    """SIGKILL. supervisord restarts the program at once, unless ``hold``: then it stays down until a
    ``start`` action (or the rollbacks) starts it again."""

    type: Literal["kill"]
    hold: bool = False

    def describe_verb(self) -> str:
        return "kill and hold down" if self.hold else "kill"


class Pause(ProcessAction):
    """SIGSTOP: the process stays, frozen, holding its sockets."""

    type: Literal["pause"]


class Resume(ProcessAction):
    """SIGCONT."""

    type: Literal["resume"]


class Restart(ProcessAction):
    """A graceful stop and start, one target at a time, ``settle_seconds`` apart (a rolling restart)."""

    type: Literal["restart"]
    settle_seconds: float = Field(default=0.0, ge=0)


class Start(ProcessAction):
    """Start programs that are stopped (after ``kill`` with ``hold``); running ones are left alone."""

    type: Literal["start"]


class Chaos(_ActionSpec):
    """Publish a chaos subject: ``node`` with a node action, ``pod`` (``namespace/name``) killed, or reset."""

    type: Literal["chaos"]
    node: str | None = None
    pod: str | None = None
    reset: bool = False
    action: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Chaos:
        kinds = [
            kind for kind, given in (("node", self.node), ("pod", self.pod), ("reset", self.reset)) if given
        ]
        if len(kinds) != 1:
            raise ValueError("a chaos action names exactly one of node, pod or reset")
        if self.node and self.action not in NODE_ACTIONS:
            raise ValueError(f"node action must be one of {', '.join(NODE_ACTIONS)}, not {self.action!r}")
        if self.pod and self.action not in ("", "kill"):
            raise ValueError(f"the only pod action is kill, not {self.action!r}")
        return self

    def describe(self) -> str:
        if self.node:
            return f"chaos node {self.node} {self.action}"
        if self.pod:
            return f"chaos pod {self.pod} kill"
        return "chaos reset"


class Partition(_ActionSpec):
    """Publish ``chaos.network.partition``: replicas in different groups cannot reach each other.

    A group names replicas (``cp-1``), roles resolved to their replica when the action runs
    (``etcd-leader``), or ``rest``: every etcd member named in no other group. ``chaos reset`` heals it.
    ``save_as`` keeps the replicas of the first group (the side cut off) for later ``$name`` references,
    e.g. a ``leader-elected`` probe's ``not_held_by``."""

    type: Literal["partition"]
    groups: list[list[str]] = Field(min_length=2)
    save_as: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    @field_validator("groups")
    @classmethod
    def _known_members(cls, groups: list[list[str]]) -> list[list[str]]:
        names = [name for group in groups for name in group]
        if any(not group for group in groups):
            raise ValueError("a group names at least one replica, role or rest")
        for name in names:
            if not (name in ROLES or name == REST or REPLICA.match(name)):
                raise ValueError(
                    f"{name!r} is not a replica name (cp-1), a role ({', '.join(sorted(ROLES))}) or {REST}"
                )
        if names.count(REST) > 1:
            raise ValueError(f"{REST} may appear once")
        return groups

    def describe(self) -> str:
        return "partition " + " | ".join(", ".join(group) for group in self.groups)


class Latency(_ActionSpec):
    """Publish ``chaos.network.latency``: messages to and from ``replicas`` are held back by ``delay_ms``
    (plus or minus up to ``jitter_ms``). A replica may be named by a role, resolved when the action runs
    (``etcd-leader``). ``chaos reset`` removes it."""

    type: Literal["latency"]
    replicas: list[str] = Field(min_length=1)
    delay_ms: float = Field(gt=0, le=MAX_DELAY_MS)
    jitter_ms: float = Field(default=0, ge=0, le=MAX_DELAY_MS)

    @field_validator("replicas")
    @classmethod
    def _known_replicas(cls, replicas: list[str]) -> list[str]:
        for name in replicas:
            if not (name in ROLES or REPLICA.match(name)):
                raise ValueError(
                    f"{name!r} is not a replica name (cp-1) or a role ({', '.join(sorted(ROLES))})"
                )
        return replicas

    @model_validator(mode="after")
    def _jitter_within_delay(self) -> Latency:
        if self.jitter_ms > self.delay_ms:
            raise ValueError("jitter_ms may not exceed delay_ms")
        return self

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms:g}" if self.jitter_ms else ""
        return f"add {self.delay_ms:g}{jitter} ms latency to {', '.join(self.replicas)}"


class Wait(_ActionSpec):
    type: Literal["wait"]
    seconds: float = Field(ge=0)
    disruptive: ClassVar[bool] = False

    def describe(self) -> str:
        return f"wait {self.seconds:g} s"


class Scale(_ActionSpec):
    """Set a Deployment's replicas through its scale subresource."""

    type: Literal["scale"]
    namespace: str = "default"
    name: str
    replicas: int = Field(ge=0)

    def describe(self) -> str:
        return f"scale deployment {self.namespace}/{self.name} to {self.replicas}"


class Expect(_ActionSpec):
    """Poll a probe until it gives ``passes`` (within ``within`` seconds); failing to is a failed check.

    It proves the fault took hold: after killing two of three etcd members, writes must be refused."""

    type: Literal["expect"]
    probe: Probe
    passes: bool
    within: float = Field(default=10.0, gt=0)
    disruptive: ClassVar[bool] = False

    def describe(self) -> str:
        return f"expect {self.probe.label()} to {'pass' if self.passes else 'fail'} within {self.within:g} s"


Action = Annotated[
    Kill | Pause | Resume | Restart | Start | Chaos | Partition | Latency | Wait | Scale | Expect,
    Field(discriminator="type"),
]
