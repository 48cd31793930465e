"""API discovery for the REST front: ``/version``, ``/api``, ``/apis``, aggregated and per group/version.

Clients learn what the server serves from these: kubectl maps ``po`` to ``pods`` with ``shortNames``,
``get all`` with ``categories``, reads the scale subresource's group/version/kind before scaling, and checks
``pods/eviction`` in ``/api/v1`` before draining. Aggregated discovery (``apidiscovery.k8s.io/v2``) answers
``/api`` and ``/apis`` in two requests; the per group/version ``APIResourceList``s stay served, since
some clients (drain's eviction check) ask them directly. A group/version is listed only if it has resources:
client-go treats an empty one as a failed download and then re-reads discovery on every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.apiserver.collection import serves_delete_collection
from services.apiserver.metrics import METRICS_RESOURCES, METRICS_VERBS
from shared.models import RESOURCES, ResourceType

Doc = dict[str, Any]

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SERVER_VERSION = (1, 37, 0)
MAIN_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
COLLECTION_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # None: the parent resource's group and version
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """A served resource as discovery describes it."""

    rt: ResourceType
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = MAIN_VERBS

    @property
    def singular(self) -> str:
        return self.rt.kind.lower()


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, STATUS_VERBS)


def _scale() -> Subresource:
    return Subresource("scale", "Scale", STATUS_VERBS, "autoscaling", "v1")


_EXTRA: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[Subresource, ...]]] = {
    "pods": (
        ("po",),
        ("all",),
        (
            _status("Pod"),
            Subresource("binding", "Binding", ("create",)),
            Subresource("eviction", "Eviction", ("create",), "policy", "v1"),
            Subresource("log", "Pod", ("get",)),
        ),
    ),
    "nodes": (("no",), (), (_status("Node"),)),
    "namespaces": (("ns",), (), (_status("Namespace"),)),
    "services": (("svc",), ("all",), (_status("Service"),)),
    "events": (("ev",), (), ()),
    "deployments": (("deploy",), ("all",), (_status("Deployment"), _scale())),
    "replicasets": (("rs",), ("all",), (_status("ReplicaSet"), _scale())),
}

SERVED: tuple[ResourceInfo, ...] = (
    *(
        ResourceInfo(
            rt,
            *_EXTRA.get(rt.plural, ((), (), ())),
            verbs=COLLECTION_VERBS if serves_delete_collection(rt) else MAIN_VERBS,
        )
        for rt in RESOURCES
    ),
    # Computed from the kubelets, read-only; kubectl top needs the group listed (see metrics.py).
    *(ResourceInfo(rt, verbs=METRICS_VERBS) for rt in METRICS_RESOURCES),
)


def served_resource(group: str, version: str, plural: str) -> ResourceType | None:
    """The served resource a REST path names, stored or computed."""
    for info in SERVED:
        if (info.rt.group, info.rt.version, info.rt.plural) == (group, version, plural):
            return info.rt
    return None


def group_versions() -> dict[str, list[str]]:
    """Group → its versions, core (``""``) included, in the order resources are registered."""
    found: dict[str, list[str]] = {}
    for info in SERVED:
        versions = found.setdefault(info.rt.group, [])
        if info.rt.version not in versions:
            versions.append(info.rt.version)
    return found


def resources_in(group: str, version: str) -> list[ResourceInfo]:
    return [info for info in SERVED if (info.rt.group, info.rt.version) == (group, version)]


def version_info() -> Doc:
    major, minor, patch = SERVER_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.{patch}+kubenats",
        "gitCommit": "kubenats",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


# --- legacy discovery -------------------------------------------------------------------------------------


def api_versions(server_address: str) -> Doc:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(name: str, versions: list[str]) -> Doc:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def api_group_list() -> Doc:
    groups = [api_group(name, versions) for name, versions in group_versions().items() if name]
    for group in groups:
        del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> Doc | None:
    served = resources_in(group, version)
    if not served:
        return None
    resources: list[Doc] = []
    for info in served:
        entry: Doc = {
            "name": info.rt.plural,
            "singularName": info.singular,
            "namespaced": info.rt.namespaced,
            "kind": info.rt.kind,
            "verbs": list(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        resources.append(entry)
        for sub in info.subresources:
            sub_entry: Doc = {
                "name": f"{info.rt.plural}/{sub.name}",
                "singularName": "",
                "namespaced": info.rt.namespaced,
                "kind": sub.kind,
                "verbs": list(sub.verbs),
            }
            if sub.group is not None:
                sub_entry.update(group=sub.group, version=sub.version)
            resources.append(sub_entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# --- aggregated discovery (apidiscovery.k8s.io/v2) --------------------------------------------------------


def _aggregated_resource(info: ResourceInfo) -> Doc:
    rt = info.rt
    entry: Doc = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if info.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {
                    "group": rt.group if sub.group is None else sub.group,
                    "version": rt.version if sub.version is None else sub.version,
                    "kind": sub.kind,
                },
                "verbs": list(sub.verbs),
            }
            for sub in info.subresources
        ]
    return entry


def aggregated(core: bool) -> Doc:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core``) or of ``/apis`` (every named group)."""
    items: list[Doc] = []
    for group, versions in group_versions().items():
        if bool(group) == core:
            continue
        items.append(
            {
                "metadata": {"name": group} if group else {},
                "versions": [
                    {
                        "version": version,
                        "freshness": "Current",
                        "resources": [_aggregated_resource(info) for info in resources_in(group, version)],
                    }
                    for version in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str) -> bool:
    """Whether the ``Accept`` header asks for aggregated discovery v2 (client-go lists it first)."""
    for media in accept.split(","):
        params = {
            key.strip(): value.strip()
            for part in media.split(";")[1:]
            if "=" in part
            for key, value in [part.split("=", 1)]
        }
        if params.get("as") == "APIGroupDiscoveryList" and params.get("v") == "v2":
            return params.get("g") == "apidiscovery.k8s.io"
    return False
