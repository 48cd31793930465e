"""Object metadata shared by every kind: ``ObjectMeta``, ``ListMeta``, references and label selectors.

``KubeObject`` is the base of every top-level kind (it carries ``apiVersion``, ``kind`` and ``metadata``).
``LabelSelector.matches`` follows ``metav1.LabelSelectorAsSelector``: requirements are ANDed, and an
empty selector matches every set of labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import Field

from shared.models.base import KubeModel
from shared.models.timestamps import Time

__all__ = [
    "KubeObject",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ListMeta",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "find_condition",
]


class OwnerReference(KubeModel):
    """Points from a dependent (a Pod) to its owner (a ReplicaSet); ``controller`` marks the managing one."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KubeModel):
    """``metadata`` of a persisted object. ``managedFields`` is kept as opaque JSON."""

    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)
    finalizers: list[str] = Field(default_factory=list)
    managed_fields: list[dict[str, Any]] = Field(default_factory=list)

    def controller_ref(self) -> OwnerReference | None:
        """The owner reference with ``controller: true``, if any."""
        return next((ref for ref in self.owner_references if ref.controller), None)


class ListMeta(KubeModel):
    """``metadata`` of a list: the revision it was read at and the token for the next page."""

    resource_version: str = ""
    continue_: str = Field(default="", alias="continue")
    remaining_item_count: int | None = None


class ObjectReference(KubeModel):
    """A reference to another object (an Event's subject, an endpoint's pod, a Binding's node)."""

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


class LabelSelectorRequirement(KubeModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


class LabelSelector(KubeModel):
    """``matchLabels`` and ``matchExpressions``, all of which must hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy every requirement; the empty selector matches everything."""
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(requirement.matches(labels) for requirement in self.match_expressions)

    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


class KubeObject(KubeModel):
    """A top-level API object. Subclasses narrow ``api_version`` and ``kind`` to their own literals."""

    _always_set: ClassVar[tuple[str, ...]] = ("api_version", "kind")

    api_version: str
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


class _HasType(Protocol):
    @property
    def type(self) -> str: ...


_C = TypeVar("_C", bound=_HasType)


def find_condition(conditions: Iterable[_C], condition_type: str) -> _C | None:
    """The condition of the given type (``Ready``, ``Available`` …) in a status, or None."""
    return next((c for c in conditions if c.type == condition_type), None)
