"""Every real-world manifest of a kind we serve is accepted as it is; other kinds get a clear 404."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared import bus, subjects
from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.models import resource_for_kind
from tests.manifests import MANIFESTS, needs_manifests

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def manifest_files() -> list[Path]:
    if not MANIFESTS.is_dir():
        return []
    return sorted(p for p in MANIFESTS.rglob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]


@needs_manifests
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_manifest_is_accepted_as_it_is(admin: ApiClient, path: Path) -> None:
    namespace = f"m-{uuid.uuid4().hex[:8]}"
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for doc in documents(path):
        rt = resource_for_kind(str(doc.get("apiVersion")), str(doc.get("kind")))
        if rt is None:
            await assert_kind_refused(admin, doc)
            continue
        if rt.kind == "Namespace":
            try:
                await admin.create(doc)
            except ApiError as error:  # two files here create the same namespace
                assert error.reason == "AlreadyExists", error.message
            continue
        # Each file goes to a namespace of its own: several files reuse names (frontend, redis-master).
        created = await admin.create({**doc, "metadata": {**doc["metadata"], "namespace": namespace}})
        assert created["metadata"]["uid"]
        assert created["kind"] == doc["kind"]


async def assert_kind_refused(admin: ApiClient, doc: dict[str, Any]) -> None:
    api_version = str(doc["apiVersion"])
    group, _, version = api_version.rpartition("/")
    plural = str(doc["kind"]).lower() + "s"
    subject = subjects.api(group, version, plural, "create")
    with pytest.raises(ApiError) as caught:
        await bus.request(admin.nc, subject, {"body": doc}, headers=admin.headers)
    assert caught.value.code == 404 and f'"{plural}"' in caught.value.message
