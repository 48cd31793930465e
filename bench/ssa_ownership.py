"""What field ownership costs the API server per write: managedFields for an update, and one apply.

Every write through a request records its writer's ``Update`` entry (``record_update``), so its cost is
added to each pod status update a kubelet makes; ``apply`` is the server-side apply verb's core. Run:
``.venv/bin/python bench/ssa_ownership.py``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from shared.patchmeta import schema_for
from shared.ssa.apply import Writer, apply, record_update

MANIFESTS = Path(__file__).resolve().parents[2] / "shared" / "manifests"
ROUNDS = 2000


def _pod() -> dict[str, Any]:
    containers = [
        {"name": f"c{i}", "image": "nginx:1.25", "ports": [{"containerPort": 80 + i, "protocol": "TCP"}]}
        for i in range(2)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1", "containers": containers},
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True"} for t in ("Ready", "Initialized", "PodScheduled")],
            "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0} for c in containers],
        },
    }


def _per_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(ROUNDS):
        fn()
    return (time.perf_counter() - start) / ROUNDS * 1e6


def main() -> None:
    pod_schema = schema_for("v1", "Pod")
    writer = Writer("kubelet", "v1", "2026-01-01T00:00:00Z", "status")
    old = record_update(None, _pod(), Writer("scheduler", "v1", "t"), pod_schema)
    new = copy.deepcopy(old)
    new["status"]["containerStatuses"][0]["restartCount"] = 1
    deployment = yaml.safe_load((MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml").read_text())
    schema = schema_for("apps/v1", "Deployment")
    kubectl = Writer("kubectl", "apps/v1", "t")
    live = apply({}, deployment, kubectl, schema)
    changed = copy.deepcopy(deployment)
    changed["spec"]["replicas"] = 5
    rows = [
        ("record_update, pod status write", _per_call(lambda: record_update(old, new, writer, pod_schema))),
        ("apply, nginx deployment, changed", _per_call(lambda: apply(live, changed, kubectl, schema))),
    ]
    for name, micros in rows:
        print(f"{name:<36} {micros:8.1f} µs/call")


if __name__ == "__main__":
    main()
