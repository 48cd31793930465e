"""A network partition between control-plane replicas, as ``chaos.network.partition`` describes it.

The message body names groups of replicas, ``{"groups": [["cp-1"], ["cp-2", "cp-3"]]}``: replicas in the
same group reach each other, replicas in different groups do not, and a replica named in no group reaches
everyone (a partition is about the replicas it names). ``chaos.reset`` heals it. Every component that
honours partitions keeps one :class:`PartitionState` and asks it :meth:`~PartitionState.can_reach`
before it talks to, or listens to, another replica.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.subjects import token

Spec = TypeVar("Spec", bound=BaseModel)


class PartitionError(ValueError):
    """A ``chaos.network.partition`` body that does not describe a partition."""


class PartitionSpec(BaseModel):
    """The body of ``chaos.network.partition``: disjoint, non-empty groups of replica names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: list[list[str]] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _names_are_tokens(cls, groups: list[list[str]]) -> list[list[str]]:
        for group in groups:
            if not group:
                raise ValueError("a group names at least one replica")
            for name in group:
                token(name)
        return groups

    @model_validator(mode="after")
    def _disjoint(self) -> PartitionSpec:
        seen: set[str] = set()
        for group in self.groups:
            for name in group:
                if name in seen:
                    raise ValueError(f"replica {name!r} is in more than one group")
                seen.add(name)
        return self


def parse_partition(data: bytes) -> PartitionSpec:
    """The partition a chaos message body describes; :class:`PartitionError` says why it does not."""
    return parse_chaos_body(PartitionSpec, data, PartitionError)


def parse_chaos_body(model: type[Spec], data: bytes, error: type[ValueError]) -> Spec:
    """A ``chaos.network.*`` message body as ``model``; ``error`` names what is wrong (not JSON, or each
    field that does not validate)."""
    try:
        return model.model_validate(json.loads(data or b"null"))
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise error(f"not JSON: {problem}") from None
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in invalid.errors()
        )
        raise error(problems) from None


@dataclass
class PartitionState:
    """Which replica reaches which, now: whole (everyone reaches everyone) until :meth:`partition`."""

    _group_of: dict[str, int] = field(default_factory=dict)

    @property
    def partitioned(self) -> bool:
        return bool(self._group_of)

    def partition(self, spec: PartitionSpec) -> None:
        """Replace the current partition (a new message is the whole truth, not an addition)."""
        self._group_of = {name: number for number, group in enumerate(spec.groups) for name in group}

    def reset(self) -> None:
        self._group_of = {}

    def can_reach(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` can exchange messages; symmetric, and a replica always reaches itself."""
        if a == b or a not in self._group_of or b not in self._group_of:
            return True
        return self._group_of[a] == self._group_of[b]

    def group_of(self, name: str) -> list[str] | None:
        """The replicas in ``name``'s group, sorted, or None when no group names it."""
        number = self._group_of.get(name)
        if number is None:
            return None
        return sorted(n for n, g in self._group_of.items() if g == number)

    def groups(self) -> list[list[str]]:
        """The current groups, sorted, for logs and status."""
        numbers = sorted(set(self._group_of.values()))
        return [sorted(n for n, g in self._group_of.items() if g == number) for number in numbers]
