"""The OpenAPI v3 description of the served resources, with Kubernetes' own schemas.

``/openapi/v3`` lists one document per group/version; each document has the paths of the resources served
there (and of their subresources) and, under ``components.schemas``, Kubernetes' v1.37 schemas for their
kinds and every type those reference (:mod:`services.apiserver.schemas.catalog`). kubectl reads them for
two things:

- ``kubectl explain``: descriptions, types and fields, found through the kind's
  ``x-kubernetes-group-version-kind``;
- validation: before a create or apply kubectl checks that the kind's PATCH operation takes the
  ``fieldValidation`` query parameter, and then leaves unknown fields to the server
  (:mod:`services.apiserver.fieldvalidation`); without any OpenAPI it refuses to create or apply anything.

The PATCH operations do not declare ``application/strategic-merge-patch+json``: kubectl would then compute
client-side apply patches from these documents instead of from its built-in types, which it does equally
well for the kinds served here, so the documents keep it on the path the apply tests exercise.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from services.apiserver.rest.discovery import ResourceInfo, Subresource, group_versions, resources_in
from services.apiserver.schemas.catalog import KUBERNETES_VERSION, referenced, schema_name

Doc = dict[str, Any]

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
_REF = "#/components/schemas/"


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvk(group: str, version: str, kind: str) -> Doc:
    return {"group": group, "version": version, "kind": kind}


def _params(names: tuple[str, ...]) -> list[Doc]:
    return [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for name in names
    ]


def _operations(gvk: Doc, verbs: tuple[str, ...]) -> Doc:
    """The operations on one path, for the verbs it serves, reading and writing the kind ``gvk`` names."""
    ref = {"$ref": _REF + schema_name(gvk["group"], gvk["version"], gvk["kind"])}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    body = {"content": {"application/json": {"schema": ref}}}
    common = {"x-kubernetes-group-version-kind": gvk, "responses": ok}
    ops: Doc = {}
    if "get" in verbs:
        ops["get"] = {**common, "x-kubernetes-action": "get"}
    if "update" in verbs:
        ops["put"] = {**common, "x-kubernetes-action": "put", "parameters": _params(_WRITE_PARAMS)}
        ops["put"]["requestBody"] = body
    if "patch" in verbs:
        ops["patch"] = {
            **common,
            "x-kubernetes-action": "patch",
            "parameters": _params((*_WRITE_PARAMS, "force")),
            "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES}},
        }
    if "create" in verbs:
        ops["post"] = {**common, "x-kubernetes-action": "post", "parameters": _params(_WRITE_PARAMS)}
        ops["post"]["requestBody"] = body
    if "delete" in verbs:
        ops["delete"] = {**common, "x-kubernetes-action": "delete"}
    return ops


def _subresource_paths(info: ResourceInfo, item_path: str) -> tuple[Doc, list[str]]:
    paths: Doc = {}
    kinds: list[str] = []
    for sub in info.subresources:
        gvk = _subresource_gvk(info, sub)
        if sub.name == "log":
            continue  # plain text, no schema
        paths[f"{item_path}/{sub.name}"] = _operations(gvk, sub.verbs)
        kinds.append(schema_name(gvk["group"], gvk["version"], gvk["kind"]))
    return paths, kinds


def _subresource_gvk(info: ResourceInfo, sub: Subresource) -> Doc:
    group = info.rt.group if sub.group is None else sub.group
    version = info.rt.version if sub.version is None else sub.version
    return _gvk(group, version, sub.kind)


@functools.cache
def group_version_document(group: str, version: str) -> Doc | None:
    """The document of one group/version; None if nothing is served there."""
    served = resources_in(group, version)
    if not served:
        return None
    paths: Doc = {}
    kinds: list[str] = []
    for info in served:
        rt = info.rt
        gvk = _gvk(rt.group, rt.version, rt.kind)
        scope = "namespaces/{namespace}/" if rt.namespaced else ""
        collection = f"/{_gv_path(group, version)}/{scope}{rt.plural}"
        paths[collection] = _operations(gvk, tuple(v for v in info.verbs if v == "create"))
        item_verbs = tuple(v for v in info.verbs if v in ("get", "update", "patch", "delete"))
        paths[f"{collection}/{{name}}"] = _operations(gvk, item_verbs)
        sub_paths, sub_kinds = _subresource_paths(info, f"{collection}/{{name}}")
        paths.update(sub_paths)
        kinds += [schema_name(rt.group, rt.version, rt.kind), *sub_kinds]
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": referenced(kinds)},
    }


@functools.cache
def _hash(group: str, version: str) -> str:
    doc = group_version_document(group, version)
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


def index() -> Doc:
    """``/openapi/v3``: where each group/version's document is, with a hash that changes with it."""
    paths: Doc = {}
    for group, versions in group_versions().items():
        for version in versions:
            if group_version_document(group, version) is not None:
                url = f"/openapi/v3/{_gv_path(group, version)}?hash={_hash(group, version)}"
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
