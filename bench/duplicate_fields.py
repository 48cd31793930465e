"""What finding duplicate fields costs the API server's NATS front per write: one more parse of the bytes.

The bus validates every request's JSON into ``ApiRequest`` (pydantic, in Rust), which keeps the last of
two equal keys; ``services.apiserver.duplicatefields`` parses the raw bytes of a write that carries a
``body`` once more, with Python's C JSON scanner, to find repeats. Measured beside the bus's own decode
and the unknown-field walk every such write already pays, on the same objects as
``bench/unknown_fields.py``. Run: ``.venv/bin/python bench/duplicate_fields.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from unknown_fields import _largest_manifest, _pod

from services.apiserver.duplicatefields import duplicate_fields
from services.apiserver.schemas.unknownfields import checker_for
from shared.apiprotocol import ApiRequest
from shared.bus import decode_request
from shared.models import resource_for_kind

MANIFESTS = Path(__file__).resolve().parents[2] / "shared" / "manifests"
ROUNDS = 5000


def _per_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(ROUNDS):
        fn()
    return (time.perf_counter() - start) / ROUNDS * 1e6


def _row(name: str, obj: dict[str, Any]) -> tuple[str, int, float, float, float]:
    data = json.dumps({"namespace": "default", "body": obj}, separators=(",", ":")).encode()
    assert duplicate_fields(data, "body") == [], "the benchmark objects have no duplicate fields"
    rt = resource_for_kind(obj["apiVersion"], obj["kind"])
    assert rt is not None
    checker = checker_for(rt.group, rt.version, rt.kind)
    assert checker is not None
    decode = _per_call(lambda: decode_request(ApiRequest, data))
    unknown = _per_call(lambda: checker.unknown(obj))
    duplicates = _per_call(lambda: duplicate_fields(data, "body"))
    return name, len(data), decode, unknown, duplicates


def main() -> None:
    nginx = yaml.safe_load((MANIFESTS / "kubernetes-website" / "nginx-deployment.yaml").read_text())
    rows = [
        _row("pod with status (2 containers)", _pod()),
        _row("nginx deployment manifest", nginx),
        _row("largest deployment manifest", _largest_manifest()),
    ]
    print(f"{'µs per write':<34} {'bytes':>6} {'bus decode':>11} {'unknown':>9} {'duplicates':>11}")
    for name, size, decode, unknown, duplicates in rows:
        print(f"{name:<34} {size:>6} {decode:>11.1f} {unknown:>9.1f} {duplicates:>11.1f}")


if __name__ == "__main__":
    main()
