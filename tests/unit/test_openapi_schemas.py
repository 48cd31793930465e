"""The OpenAPI v3 documents: Kubernetes' schemas for every served kind, complete and in OpenAPI's form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.apiserver.rest import discovery, openapi
from services.apiserver.schemas.catalog import schema_name

GROUP_VERSIONS = [(g, v) for g, versions in discovery.group_versions().items() for v in versions]


def refs(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return {ref for item in schema for ref in refs(item)}
    if not isinstance(schema, dict):
        return set()
    own = {schema["$ref"]} if isinstance(schema.get("$ref"), str) else set()
    return own | {ref for value in schema.values() for ref in refs(value)}


def document(group: str, version: str) -> dict[str, Any]:
    doc = openapi.group_version_document(group, version)
    assert doc is not None
    return doc


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS)
def test_every_reference_resolves_inside_its_document(group: str, version: str) -> None:
    doc = document(group, version)
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS)
def test_documents_are_openapi_not_json_schema(group: str, version: str) -> None:
    text = json.dumps(document(group, version))
    assert "#/$defs/" not in text and '"null"' not in text


@pytest.mark.parametrize("info", discovery.SERVED, ids=lambda info: f"{info.rt.group}/{info.rt.plural}")
def test_every_served_kind_is_described_with_its_group_version_kind(info: discovery.ResourceInfo) -> None:
    rt = info.rt
    schema = document(rt.group, rt.version)["components"]["schemas"][
        schema_name(rt.group, rt.version, rt.kind)
    ]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": rt.group, "version": rt.version, "kind": rt.kind}
    ]
    assert schema["description"] and {"apiVersion", "kind", "metadata"} <= set(schema["properties"])
    assert "enum" not in schema["properties"]["kind"]


@pytest.mark.parametrize(
    "info", [i for i in discovery.SERVED if "patch" in i.verbs], ids=lambda info: info.rt.plural
)
def test_writable_kinds_declare_field_validation_on_patch(info: discovery.ResourceInfo) -> None:
    # What kubectl looks for before leaving unknown fields to the server.
    rt = info.rt
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    patches = [
        ops["patch"]
        for ops in document(rt.group, rt.version)["paths"].values()
        if ops.get("patch", {}).get("x-kubernetes-group-version-kind") == gvk
    ]
    assert patches and all("fieldValidation" in {p["name"] for p in patch["parameters"]} for patch in patches)
    assert all("application/strategic-merge-patch+json" not in p["requestBody"]["content"] for p in patches)


def test_subresource_kinds_are_described_where_they_are_served() -> None:
    core = document("", "v1")
    assert core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"][
        "x-kubernetes-group-version-kind"
    ] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert "io.k8s.api.policy.v1.Eviction" in core["components"]["schemas"]
    assert "io.k8s.api.core.v1.Binding" in core["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.Scale" in document("apps", "v1")["components"]["schemas"]


def test_scalar_union_types_keep_their_names_for_explain() -> None:
    schemas = document("", "v1")["components"]["schemas"]
    quantity = schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert "type" not in quantity and quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"


def test_the_index_points_at_each_document_with_its_hash() -> None:
    paths = openapi.index()["paths"]
    assert set(paths) == {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in GROUP_VERSIONS}
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=") and len(url.split("=")[1]) == 128
    assert openapi.document_at("apis/apps/v1") is openapi.group_version_document("apps", "v1")
