"""What unknown-field detection costs the API server per write: one walk of the object against its schema.

Every create, update and patch walks the written object (``services.apiserver.fieldvalidation``), so its
cost is added to each write. Measured on a kubelet-style pod with status and managed fields, the
manifests' nginx Deployment, and the largest served manifest; plus the one-off cost of loading and
compiling Kubernetes' schemas. Run: ``.venv/bin/python bench/unknown_fields.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from services.apiserver.schemas.catalog import component_schemas
from services.apiserver.schemas.unknownfields import checker_for
from shared.models import resource_for_kind

MANIFESTS = Path(__file__).resolve().parents[2] / "shared" / "manifests"
ROUNDS = 5000


def _pod() -> dict[str, Any]:
    containers = [
        {
            "name": f"c{i}",
            "image": "nginx:1.25",
            "ports": [{"containerPort": 80 + i, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "env": [{"name": "MODE", "value": "prod"}],
            "readinessProbe": {"httpGet": {"path": "/", "port": 80 + i}, "periodSeconds": 5},
        }
        for i in range(2)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d9f8b-abcde",
            "namespace": "default",
            "labels": {"app": "web", "pod-template-hash": "7d9f8b"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b", "uid": "u"}
            ],
            "managedFields": [
                {"manager": "kubelet", "operation": "Update", "fieldsV1": {"f:status": {"f:phase": {}}}}
            ],
        },
        "spec": {"nodeName": "node-1", "containers": containers, "tolerations": [{"operator": "Exists"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True"} for t in ("Ready", "Initialized", "PodScheduled")],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "t"}},
                }
                for c in containers
            ],
        },
    }


def _largest_manifest() -> dict[str, Any]:
    docs = yaml.safe_load_all(
        (MANIFESTS / "gcp-microservices-demo" / "kubernetes-manifests.yaml").read_text()
    )
    served = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Deployment"]
    return max(served, key=lambda d: len(yaml.safe_dump(d)))


def _per_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(ROUNDS):
        fn()
    return (time.perf_counter() - start) / ROUNDS * 1e6


def _check(doc: dict[str, Any]) -> Callable[[], object]:
    rt = resource_for_kind(doc["apiVersion"], doc["kind"])
    assert rt is not None
    checker = checker_for(rt.group, rt.version, rt.kind)
    assert checker is not None and not checker.unknown(doc), "the benchmark objects have no unknown fields"
    return lambda: checker.unknown(doc)


def main() -> None:
    start = time.perf_counter()
    component_schemas()
    checker_for("", "v1", "Pod")
    checker_for("apps", "v1", "Deployment")
    setup = (time.perf_counter() - start) * 1e3
    nginx = yaml.safe_load((MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml").read_text())
    rows = [
        ("pod with status (2 containers)", _per_call(_check(_pod()))),
        ("nginx deployment manifest", _per_call(_check(nginx))),
        ("largest deployment manifest", _per_call(_check(_largest_manifest()))),
    ]
    print(f"{'load and compile the schemas (once)':<40} {setup:8.1f} ms")
    for name, micros in rows:
        print(f"{name:<40} {micros:8.1f} µs/object")


if __name__ == "__main__":
    main()
