"""The status manager: writes pod statuses through ``pods/status``, once per change, and holds them while
the node cannot reach the API server (partition, crash) to write the latest when it can again.

As Kubernetes' ``pkg/kubelet/status``: the pod worker sets the status it computed; only a status that
differs from the last one written (ignoring probe and heartbeat times, which Kubernetes leaves alone
too) costs a request.
"""

from __future__ import annotations

from typing import Any

from shared.apiclient import ApiClient
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import Pod, PodStatus, to_dict

log = get_logger("kubelet.status")

Object = dict[str, Any]


class StatusManager:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.connected = True
        """False while partitioned or crashed: statuses are kept, not written."""
        self._written: dict[str, Object] = {}
        self._pending: dict[str, Object] = {}
        self.writes = 0

    async def set(self, pod: Pod, status: PodStatus) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        wanted = to_dict(status)
        if self._written.get(key) == wanted and key not in self._pending:
            return
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace},
            "status": wanted,
        }
        self._pending[key] = body
        if self.connected:
            await self._write(key, body)

    async def _write(self, key: str, body: Object) -> None:
        try:
            await self.api.update_status(body)
        except ApiError as error:
            if error.code != 404:
                raise
            # The pod is gone; its worker learns that from the informer.
        self.writes += 1
        self._written[key] = body["status"]
        if self._pending.get(key) is body:
            del self._pending[key]

    async def flush(self) -> None:
        """Write every status held back while disconnected."""
        for key, body in list(self._pending.items()):
            try:
                await self._write(key, body)
            except (ApiError, OSError, TimeoutError) as error:
                log.warning("pod status write failed", pod=key, error=repr(error))

    def latest(self, pod: Pod) -> PodStatus | None:
        """The last status set for ``pod`` (written or pending): fresher than the informer's copy."""
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        body = self._pending.get(key)
        status = body["status"] if body is not None else self._written.get(key)
        return PodStatus.model_validate(status) if status is not None else None

    def forget(self, key: str) -> None:
        self._written.pop(key, None)
        self._pending.pop(key, None)

    def reset(self) -> None:
        """After a reboot nothing is known to have been written."""
        self._written.clear()
        self._pending.clear()
