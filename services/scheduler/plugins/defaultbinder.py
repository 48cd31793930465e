"""DefaultBinder: make a placement durable by creating the pod's ``binding`` subresource."""

from __future__ import annotations

from typing import ClassVar

from services.scheduler.framework import SUCCESS, Status, error
from services.scheduler.nodeinfo import PodInfo
from shared.apiclient import ApiClient
from shared.errors import ApiError


class DefaultBinder:
    NAME: ClassVar[str] = "DefaultBinder"

    def __init__(self, client: ApiClient | None) -> None:
        self.client = client

    async def bind(self, pod: PodInfo, node: str) -> Status:
        if self.client is None:
            return error("no API client to bind with")
        try:
            await self.client.bind(pod.name, node, pod.namespace)
        except ApiError as failure:
            return error(f"binding rejected: {failure.code} {failure.message}")
        return SUCCESS
