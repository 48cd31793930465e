"""An experiment's setup: the objects of its manifests, created before it runs and deleted after.

Manifests are Kubernetes YAML (several documents per file), read relative to the experiment file. An
object that already exists is left as it is — a second run reuses the Deployment the first one made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from shared.apiclient import ApiClient, resource_of
from shared.errors import ApiError
from shared.experiments.model import ExperimentError, Setup

Object = dict[str, Any]


def read_manifests(setup: Setup, base: Path) -> list[Object]:
    """Every object of the setup's manifests; ``ExperimentError`` for a missing or malformed file."""
    objects: list[Object] = []
    for name in setup.manifests:
        path = base / name
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except OSError as error:
            raise ExperimentError(f"cannot read manifest {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ExperimentError(f"manifest {path} is not YAML: {error}") from None
        for document in documents:
            if document is None:
                continue
            if not isinstance(document, dict) or "kind" not in document:
                raise ExperimentError(f"manifest {path} holds something that is not a Kubernetes object")
            objects.append(document)
    return objects


def _namespace(obj: Object) -> str:
    return str(obj.get("metadata", {}).get("namespace") or "default")


async def create_objects(api: ApiClient, objects: Sequence[Object]) -> list[str]:
    """Create each object unless it exists; returns what was created, as ``kind/name``."""
    created = []
    for obj in objects:
        try:
            await api.create(obj, _namespace(obj))
        except ApiError as error:
            if error.code != 409:
                raise
            continue
        created.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return created


async def delete_objects(api: ApiClient, objects: Sequence[Object]) -> None:
    """Delete each object (its dependents in the background); one already gone is fine."""
    for obj in reversed(objects):
        try:
            await api.delete(
                resource_of(obj), obj["metadata"]["name"], _namespace(obj), propagation_policy="Background"
            )
        except ApiError as error:
            if error.code != 404:
                raise
