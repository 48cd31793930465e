"""Where tests find the real-world manifests (``../shared/manifests``, beside the checkout), and what they
do without them: skip with a message, except under ``CI=true``, where the tests run and fail — CI puts
the manifests there, so their absence means the tests of what real users write would prove nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MANIFESTS = Path(__file__).resolve().parents[1].parent / "shared" / "manifests"

needs_manifests = pytest.mark.skipif(
    not MANIFESTS.is_dir() and os.environ.get("CI") != "true",
    reason="../shared/manifests is not beside the checkout",
)
"""Marks a test that reads the manifests."""


def require_manifests() -> None:
    """Inside a test: skip without the manifests, or fail under ``CI=true``."""
    if not MANIFESTS.is_dir():
        missing = f"{MANIFESTS} is absent: ../shared/manifests is not beside the checkout"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} — and under CI=true that is a failure", pytrace=False)
        pytest.skip(missing)
