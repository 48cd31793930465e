"""A control plane per integration test module: nats-server, 3 etcd members and one API server.

Directories whose tests need another shape (HTTPS, more API servers, nodes) define their own
``control_plane``; pytest uses the nearest one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.apiserver.local_cluster import LocalControlPlane


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane(apiservers=1) as started:
        yield started
