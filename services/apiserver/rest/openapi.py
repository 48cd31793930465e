"""A small OpenAPI v3 description of the served resources: what kubectl needs to validate on the server.

kubectl's default ``--validate=strict`` first asks ``/openapi/v3`` whether the server takes the
``fieldValidation`` query parameter for the object's kind: it looks for a PATCH operation carrying the kind's
``x-kubernetes-group-version-kind`` and a ``fieldValidation`` parameter. Declaring that lets kubectl leave
validation to the server; without any OpenAPI it refuses to create or apply anything. The documents do not
declare ``application/strategic-merge-patch+json``: kubectl would then compute apply patches from these
schemas, which lack Kubernetes' patch metadata, instead of from its built-in types.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from services.apiserver.rest.discovery import group_versions, resources_in
from shared.models import ResourceType

Doc = dict[str, Any]

_QUERY_PARAMS = ("fieldValidation", "fieldManager", "dryRun")
_PATCH_TYPES = ("application/merge-patch+json", "application/json-patch+json")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvk(rt: ResourceType) -> Doc:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _schema_name(rt: ResourceType) -> str:
    group = rt.group or "core"
    return f"io.k8s.api.{group}.{rt.version}.{rt.kind}"


def _operations(rt: ResourceType) -> Doc:
    parameters = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in _QUERY_PARAMS]
    ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    return {
        "get": {"x-kubernetes-group-version-kind": _gvk(rt), "responses": ok},
        "put": {
            "x-kubernetes-group-version-kind": _gvk(rt),
            "parameters": parameters,
            "requestBody": {"content": {"application/json": {"schema": ref}}},
            "responses": ok,
        },
        "patch": {
            "x-kubernetes-group-version-kind": _gvk(rt),
            "parameters": parameters,
            "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES}},
            "responses": ok,
        },
        "delete": {"x-kubernetes-group-version-kind": _gvk(rt), "responses": ok},
    }


def _schema(rt: ResourceType) -> Doc:
    return {
        "type": "object",
        "description": f"{rt.kind} ({rt.api_version}) as kubenats serves it.",
        "properties": {
            "apiVersion": {"type": "string", "description": "The versioned schema of this object."},
            "kind": {"type": "string", "description": "The REST resource this object represents."},
            "metadata": {"type": "object", "description": "Standard object metadata."},
            "spec": {"type": "object", "description": "The desired state."},
            "status": {"type": "object", "description": "The observed state."},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt)],
    }


def group_version_document(group: str, version: str) -> Doc | None:
    # Read-only computed resources (metrics) take no writes, so there is nothing for kubectl to validate.
    served = [info for info in resources_in(group, version) if "patch" in info.verbs]
    if not served:
        return None
    paths: Doc = {}
    for info in served:
        rt = info.rt
        scope = "namespaces/{namespace}/" if rt.namespaced else ""
        paths[f"/{_gv_path(group, version)}/{scope}{rt.plural}/{{name}}"] = _operations(rt)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": {_schema_name(i.rt): _schema(i.rt) for i in served}},
    }


def _hash(doc: Doc) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()


def index() -> Doc:
    """``/openapi/v3``: where each group/version's document is, with a hash that changes with it."""
    paths: Doc = {}
    for group, versions in group_versions().items():
        for version in versions:
            doc = group_version_document(group, version)
            if doc is not None:
                url = f"/openapi/v3/{_gv_path(group, version)}?hash={_hash(doc)}"
                paths[_gv_path(group, version)] = {"serverRelativeURL": url}
    return {"paths": paths}


def document_at(path: str) -> Doc | None:
    """The document for ``api/v1`` or ``apis/<group>/<version>``; None if nothing is served there."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        return group_version_document("", parts[1])
    if parts[:1] == ["apis"] and len(parts) == 3:
        return group_version_document(parts[1], parts[2])
    return None
