"""Kubernetes' API schemas for the kinds kubenats serves, in the OpenAPI v3 form kube-apiserver publishes.

The schemas come from the ``kubernetes-validate`` package, which ships Kubernetes' own definitions (the
v1.37 ``_definitions.json``: every type with its descriptions, ``required`` fields, enums, list types and
strategic-merge-patch keys) rewritten as JSON Schema. :func:`component_schemas` turns them back into
what ``/openapi/v3`` documents carry under ``components.schemas``: references point at
``#/components/schemas/…`` and sit in an ``allOf`` beside the field's description, nullable type lists
become plain types, and the ``apiVersion``/``kind`` enums the JSON-Schema rewrite adds are dropped. The
resource metrics kinds (``metrics.k8s.io``), which metrics-server and not Kubernetes defines, are
described here.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from shared.resourcemetrics import METRICS_GROUP, METRICS_VERSION

Doc = dict[str, Any]

SCHEMA_PACKAGE = "kubernetes_validate"
KUBERNETES_VERSION = "v1.37.0"
_DEFINITIONS = f"kubernetes-json-schema/{KUBERNETES_VERSION}-local/_definitions.json"
_JSON_REF = "#/$defs/"
_OPENAPI_REF = "#/components/schemas/"

# Descriptions for the two scalar types whose definitions come without one. Both stay ``oneOf`` their
# forms, as in Kubernetes' v3 documents, so that kubectl explain names them (``<map[string]Quantity>``).
_DESCRIPTIONS: dict[str, Doc] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "A value that is either an integer or a string (a number or a name, such as a port).",
        "format": "int-or-string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "A fixed-point number with an optional unit suffix, such as 100m, 2Gi or 1.5.",
    },
}


def schema_name(group: str, version: str, kind: str) -> str:
    """The component name Kubernetes gives a kind: ``io.k8s.api.apps.v1.Deployment``."""
    if group == METRICS_GROUP:
        return f"io.k8s.metrics.pkg.apis.metrics.{version}.{kind}"
    short = group.split(".", 1)[0] if group else "core"
    return f"io.k8s.api.{short}.{version}.{kind}"


def _definitions_file() -> Path:
    # Found without importing the package: only its data is used, and its import pulls in jsonschema.
    spec = importlib.util.find_spec(SCHEMA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {SCHEMA_PACKAGE} package (Kubernetes' schemas) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / _DEFINITIONS


def _converted(schema: Any, top_level_kind: bool = False) -> Any:
    if isinstance(schema, list):
        return [_converted(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = {"$ref": _OPENAPI_REF + schema["$ref"].removeprefix(_JSON_REF)}
        siblings = {key: _converted(value) for key, value in schema.items() if key != "$ref"}
        return {"allOf": [ref], **siblings} if siblings else ref
    out: Doc = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        elif key == "properties":
            out[key] = {name: _property(name, prop, top_level_kind) for name, prop in value.items()}
        else:
            out[key] = _converted(value)
    return out


def _property(name: str, prop: Any, top_level_kind: bool) -> Any:
    converted = _converted(prop)
    if top_level_kind and name in ("apiVersion", "kind") and isinstance(converted, dict):
        converted.pop("enum", None)
    return converted


@functools.cache
def component_schemas() -> dict[str, Doc]:
    """Every schema by component name, as kube-apiserver v1.37 publishes them (plus metrics.k8s.io)."""
    with _definitions_file().open(encoding="utf-8") as file:
        definitions: dict[str, Doc] = json.load(file)["$defs"]
    schemas: dict[str, Doc] = {}
    for name, schema in definitions.items():
        schemas[name] = {
            **_DESCRIPTIONS.get(name, {}),
            **_converted(schema, "x-kubernetes-group-version-kind" in schema),
        }
    schemas.update(_metrics_schemas())
    return schemas


def referenced(names: list[str]) -> dict[str, Doc]:
    """The named schemas and every schema they reference, directly or not."""
    schemas = component_schemas()
    found: dict[str, Doc] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = schemas[name]
        pending.extend(_refs(found[name]))
    return dict(sorted(found.items()))


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, list):
        return [ref for item in schema for ref in _refs(item)]
    if not isinstance(schema, dict):
        return []
    own = [schema["$ref"].removeprefix(_OPENAPI_REF)] if isinstance(schema.get("$ref"), str) else []
    return own + [ref for key, value in schema.items() if key != "$ref" for ref in _refs(value)]


# --- metrics.k8s.io ------------------------------------------------------------------------------------

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
_DURATION = "io.k8s.apimachinery.pkg.apis.meta.v1.Duration"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _ref(name: str, description: str) -> Doc:
    return {"allOf": [{"$ref": _OPENAPI_REF + name}], "description": description}


def _usage() -> Doc:
    return {
        "type": "object",
        "description": "Resource name (cpu, memory) to the amount in use over the window.",
        "additionalProperties": {"$ref": _OPENAPI_REF + _QUANTITY},
    }


def _measured(kind: str, description: str, fields: Doc, required: list[str]) -> Doc:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": {"type": "string", "description": "The versioned schema of this object."},
            "kind": {"type": "string", "description": "The REST resource this object represents."},
            "metadata": _ref(_META, "Standard object metadata: the measured object's name (and namespace)."),
            "timestamp": _ref(_TIME, "The end of the window the usage was measured over."),
            "window": _ref(_DURATION, "The length of the window the usage was measured over."),
            **fields,
        },
        "required": ["timestamp", "window", *required],
        "x-kubernetes-group-version-kind": [
            {"group": METRICS_GROUP, "version": METRICS_VERSION, "kind": kind}
        ],
    }


def _metrics_schemas() -> dict[str, Doc]:
    container = schema_name(METRICS_GROUP, METRICS_VERSION, "ContainerMetrics")
    return {
        # metav1.Duration has no schema of its own in Kubernetes' definitions: fields using it are strings.
        _DURATION: {"type": "string", "description": "A length of time, such as 10s, 1m30s or 2h."},
        schema_name(METRICS_GROUP, METRICS_VERSION, "NodeMetrics"): _measured(
            "NodeMetrics",
            "The resource usage of one node, measured by its kubelet.",
            {"usage": _usage()},
            ["usage"],
        ),
        schema_name(METRICS_GROUP, METRICS_VERSION, "PodMetrics"): _measured(
            "PodMetrics",
            "The resource usage of one pod's containers, measured by the kubelet of its node.",
            {
                "containers": {
                    "type": "array",
                    "description": "The usage of each container of the pod.",
                    "items": {"$ref": _OPENAPI_REF + container},
                    "x-kubernetes-list-type": "atomic",
                }
            },
            ["containers"],
        ),
        container: {
            "type": "object",
            "description": "The resource usage of one container.",
            "properties": {
                "name": {"type": "string", "description": "The container's name, as in the pod's spec."},
                "usage": _usage(),
            },
            "required": ["name", "usage"],
        },
    }
