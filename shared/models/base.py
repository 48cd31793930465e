"""The base model every Kubernetes API object and sub-object is built on.

Three promises hold for every model in this package:

* Kubernetes' camelCase JSON names on the wire (``nodeName``, ``hostIP``), snake_case names in Python.
* Unknown fields survive a round trip at every nesting level: ``extra="allow"`` keeps them as they came.
* Serialisation writes what was given, not what the model defaults to: ``to_dict`` dumps with aliases and
  ``exclude_unset``, so a manifest comes back with the same keys it went in with. Defaults in these models
  are Kubernetes' *effective* defaults (``restartPolicy`` reads as ``"Always"``) and are written out only
  once somebody sets them, which is how the API server's defaulting step persists them.

A field that was never set but was mutated in place (``pod.metadata.labels["a"] = "b"`` on the default empty
dict) counts as set when the model is serialised, so in-place edits are never silently dropped.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.alias_generators import to_camel

__all__ = ["KubeModel", "to_dict", "to_json"]


class KubeModel(BaseModel):
    """Base for every API model: camelCase aliases, unknown fields kept, unset fields not written."""

    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    # Fields that always count as set, so ``apiVersion`` and ``kind`` are written even for an object built
    # in code with their defaults.
    _always_set: ClassVar[tuple[str, ...]] = ()

    def model_post_init(self, context: Any, /) -> None:
        if self._always_set:
            self.__pydantic_fields_set__.update(self._always_set)

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        if info.exclude_unset:
            self._mark_mutated_fields()
        return handler(self)

    def _mark_mutated_fields(self) -> None:
        unset = type(self).model_fields.keys() - self.__pydantic_fields_set__
        for name in unset:
            if not _is_pristine(getattr(self, name)):
                self.__pydantic_fields_set__.add(name)


def _is_pristine(value: Any) -> bool:
    """Whether a never-set field still holds its untouched default: an empty container or pristine model."""
    if isinstance(value, KubeModel):
        if value.__pydantic_fields_set__ or value.__pydantic_extra__:
            return False
        unset = type(value).model_fields.keys()
        return all(_is_pristine(getattr(value, name)) for name in unset)
    if isinstance(value, dict | list):
        return not value
    # Scalars cannot change in place: assigning one marks the field as set.
    return True


def to_dict(obj: BaseModel) -> dict[str, Any]:
    """The object as Kubernetes JSON: camelCase keys, only the fields that were set, unknown fields kept."""
    return obj.model_dump(mode="json", by_alias=True, exclude_unset=True)


def to_json(obj: BaseModel) -> str:
    """The object as a compact Kubernetes JSON document (same rules as ``to_dict``)."""
    return obj.model_dump_json(by_alias=True, exclude_unset=True)
