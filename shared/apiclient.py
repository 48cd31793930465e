"""A typed async client of the API server over NATS: every verb of ``shared.apiprotocol``.

Objects go in and come out as dicts in the Kubernetes wire form (``to_dict(model)`` and
``parse_object(obj)`` convert to and from the pydantic models), so nothing a caller does not model is
lost. Errors are :class:`~shared.errors.ApiError` with the server's ``Status`` code and reason; a 503
(no replica, or the store without a leader) is retried with back-off up to ``retry_for`` seconds.

A component on a control-plane replica gives its :class:`~shared.reachability.Reachability`: its requests
then name the replica, and while the network is partitioned they go to the API servers of its own group
(``api.replica.<replica>.…``, its own first, the next on each retry) and its watches move there.

Warnings the server sends beside a successful reply (``Warning: 299 - "unknown field \"spec.foo\""``,
:mod:`shared.apiwarnings`) go to ``on_warning``, once per warning, as their texts; kubectl prints each as
``Warning: <text>``. ``field_validation`` (``Strict``, ``Warn``, ``Ignore``) is sent with every write.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from nats.aio.client import Client

from shared import bus, subjects
from shared.apiprotocol import AUTHORIZATION_HEADER, ApiRequest, PatchType
from shared.apiwarnings import WARNING_HEADER, WarningHeaderError, parse_header_list
from shared.apiwatch import ApiWatch
from shared.errors import ApiError
from shared.logging import get_logger
from shared.models import ResourceType, resource_for_kind, resource_for_plural
from shared.podlogs import LogEntry, LogFollower, PodLogOptions, PodLogs
from shared.reachability import Reachability
from shared.resourcemetrics import NODE_METRICS, POD_METRICS

log = get_logger(__name__)

Object = dict[str, Any]
WarningHandler = Callable[[str], None]


def resource(group: str, version: str, plural: str) -> ResourceType:
    rt = resource_for_plural(group, version, plural)
    if rt is None:
        raise ValueError(f"unknown resource {plural} in {group or 'core'}/{version}")
    return rt


def resource_of(obj: Object) -> ResourceType:
    rt = resource_for_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if rt is None:
        raise ValueError(f'no kind "{obj.get("kind")}" is registered for version "{obj.get("apiVersion")}"')
    return rt


class ApiClient:
    def __init__(
        self,
        nc: Client,
        token: str,
        *,
        timeout: float = 5.0,
        retry_for: float = 10.0,
        reachability: Reachability | None = None,
        on_warning: WarningHandler | None = None,
        field_validation: str = "",
    ) -> None:
        self.nc = nc
        self.headers = {AUTHORIZATION_HEADER: f"Bearer {token}"}
        self.timeout = timeout
        self.retry_for = retry_for
        self.owns_connection = False
        self.reachability = reachability
        self.on_warning = on_warning
        """Called with the text of each warning a reply carries, in the server's order."""
        self.field_validation = field_validation
        """``fieldValidation`` of every write that names none ('' = the server's default, ``Warn``)."""
        self._watches: weakref.WeakSet[ApiWatch] = weakref.WeakSet()
        if reachability is not None:
            self.headers.update(reachability.headers())
            reachability.on_change(self._partition_changed)

    @classmethod
    async def connect(
        cls,
        servers: str | Sequence[str],
        token: str,
        name: str = "api-client",
        *,
        replica: str = "",
        on_warning: WarningHandler | None = None,
        field_validation: str = "",
    ) -> ApiClient:
        """A client with a connection of its own; ``replica`` names the control-plane replica it runs on,
        whose network partitions it then honours."""
        nc = await bus.connect(servers, name=name)
        reachability = None
        if replica:
            reachability = Reachability(nc, replica)
            await reachability.start()
        client = cls(
            nc, token, reachability=reachability, on_warning=on_warning, field_validation=field_validation
        )
        client.owns_connection = True
        return client

    async def close(self) -> None:
        if self.reachability is not None:
            self.reachability.remove_listener(self._partition_changed)
        if self.owns_connection:
            if self.reachability is not None:
                await self.reachability.stop()
            await self.nc.close()

    async def call(self, rt: ResourceType, verb: str, request: ApiRequest) -> Object:
        payload = request.model_dump(by_alias=True, exclude_defaults=True)
        if self.field_validation and ("body" in payload or "patch" in payload):
            payload.setdefault("fieldValidation", self.field_validation)
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self.retry_for, 0.05
        for attempt in itertools.count():
            try:
                # No retry outlives the deadline: the caller hears in time, not after one more timeout.
                left = deadline - loop.time()
                timeout = self.timeout if attempt == 0 else max(0.1, min(self.timeout, left))
                response = await bus.request_with_headers(
                    self.nc, self._subject(rt, verb, attempt), payload, timeout=timeout, headers=self.headers
                )
                self._warn(response.header(WARNING_HEADER))
                reply: Object = response.body
                return reply
            except ApiError as error:
                if error.code != 503 or loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError("itertools.count() does not end")

    def _warn(self, header: str | None) -> None:
        if header is None or self.on_warning is None:
            return
        try:
            texts = parse_header_list(header)
        except WarningHeaderError:
            texts = [header]  # still worth showing, as the server wrote it
        for text in texts:
            try:
                self.on_warning(text)
            except Exception:  # the request succeeded: a failing callback must not report it failed
                log.exception("warning handler failed", warning=text)

    def _subject(self, rt: ResourceType, verb: str, attempt: int) -> str:
        """Any replica through the queue group, or while partitioned one this replica reaches."""
        targets = self.reachability.targets() if self.reachability else []
        if not targets:
            return subjects.api(rt.group, rt.version, rt.plural, verb)
        return subjects.api_replica(targets[attempt % len(targets)], rt.group, rt.version, rt.plural, verb)

    def _partition_changed(self) -> None:
        for watch in list(self._watches):
            watch.move()

    async def create(self, obj: Object, namespace: str = "") -> Object:
        rt = resource_of(obj)
        return await self.call(rt, "create", ApiRequest(namespace=namespace, body=obj))

    async def get(self, rt: ResourceType, name: str, namespace: str = "") -> Object:
        return await self.call(rt, "get", ApiRequest(namespace=namespace, name=name))

    async def list(
        self,
        rt: ResourceType,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> Object:
        """A list; ``resource_version`` '' reads the latest state, with ``resource_version_match``
        ``Exact`` the state at that version, ``NotOlderThan`` anything at least that fresh."""
        request = ApiRequest.model_validate(
            {
                "namespace": namespace,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": limit,
                "continue": continue_token,
                "resourceVersion": resource_version,
                "resourceVersionMatch": resource_version_match or None,
            }
        )
        return await self.call(rt, "list", request)

    async def update(self, obj: Object) -> Object:
        rt, meta = resource_of(obj), obj.get("metadata", {})
        return await self.call(
            rt, "update", ApiRequest(namespace=meta.get("namespace", ""), name=meta.get("name", ""), body=obj)
        )

    async def update_status(self, obj: Object) -> Object:
        rt, meta = resource_of(obj), obj.get("metadata", {})
        return await self.call(
            rt, "status", ApiRequest(namespace=meta.get("namespace", ""), name=meta.get("name", ""), body=obj)
        )

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        namespace: str = "",
        patch_type: PatchType = "application/merge-patch+json",
        *,
        subresource: str = "",
    ) -> Object:
        request = ApiRequest.model_validate(
            {"namespace": namespace, "name": name, "patch": patch, "patchType": patch_type}
        )
        return await self.call(rt, subresource or "patch", request)

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        namespace: str = "",
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> Object:
        request = ApiRequest.model_validate(
            {
                "namespace": namespace,
                "name": name,
                "gracePeriodSeconds": grace_period_seconds,
                "propagationPolicy": propagation_policy,
            }
        )
        return await self.call(rt, "delete", request)

    async def finalize_namespace(self, namespace: Object) -> Object:
        """Write a Namespace's ``spec.finalizers`` through the ``finalize`` subresource."""
        name = namespace.get("metadata", {}).get("name", "")
        request = ApiRequest(name=name, body=namespace)
        return await self.call(resource("", "v1", "namespaces"), "finalize", request)

    async def bind(self, pod: str, node: str, namespace: str = "default") -> Object:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        pods = resource("", "v1", "pods")
        return await self.call(pods, "binding", ApiRequest(namespace=namespace, name=pod, body=binding))

    async def watch(
        self,
        rt: ResourceType,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
        send_initial_events: bool | None = None,
    ) -> ApiWatch:
        """Watch ``rt`` from ``resource_version`` ("" or "0": the current objects as ADDED first)."""
        request = ApiRequest.model_validate(
            {
                "namespace": namespace,
                "resourceVersion": resource_version,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "allowWatchBookmarks": allow_bookmarks,
                "sendInitialEvents": send_initial_events,
            }
        )

        async def start(request: ApiRequest) -> Object:
            return await self.call(rt, "watch", request)

        watch = ApiWatch(self.nc, start, request)
        await watch.establish()
        self._watches.add(watch)
        return watch

    async def get_scale(self, rt: ResourceType, name: str, namespace: str = "") -> Object:
        return await self.call(rt, "scale", ApiRequest(namespace=namespace, name=name))

    async def scale(self, rt: ResourceType, name: str, replicas: int, namespace: str = "") -> Object:
        body = {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": replicas}}
        return await self.call(rt, "scale", ApiRequest(namespace=namespace, name=name, body=body))

    # --- logs and metrics: read from the kubelets through the API server ------------------------------

    async def logs(self, name: str, namespace: str = "", options: PodLogOptions | None = None) -> PodLogs:
        """A container's log lines (``pods/log``); ``options`` as ``kubectl logs`` sets them."""
        request = ApiRequest(namespace=namespace, name=name, log_options=options or PodLogOptions())
        return PodLogs.model_validate(await self.call(resource("", "v1", "pods"), "log", request))

    async def follow_logs(
        self, name: str, namespace: str = "", options: PodLogOptions | None = None, interval: float = 1.0
    ) -> AsyncIterator[LogEntry]:
        """The log's lines, then new ones as the container writes them, until it ends (``logs -f``)."""
        options = options or PodLogOptions()
        follower = LogFollower()
        logs = await self.logs(name, namespace, options)
        while True:
            for entry in follower.new_entries(logs):
                yield entry
            if not logs.running:
                return
            await asyncio.sleep(interval)
            try:
                logs = await self.logs(name, namespace, follower.options(options))
            except ApiError as error:
                if error.code == 504:
                    logs = logs.model_copy(update={"entries": []})
                    continue
                if error.code in (400, 404):
                    return  # the container or pod is gone: the log has ended
                raise

    async def node_metrics(self, name: str = "", *, label_selector: str = "") -> Object:
        """``NodeMetricsList`` (or one ``NodeMetrics`` by name) of ``metrics.k8s.io/v1beta1``."""
        if name:
            return await self.call(NODE_METRICS, "get", ApiRequest(name=name))
        return await self.call(
            NODE_METRICS, "list", ApiRequest.model_validate({"labelSelector": label_selector})
        )

    async def pod_metrics(self, namespace: str = "", name: str = "", *, label_selector: str = "") -> Object:
        """``PodMetricsList`` of a namespace ('' = all), or one ``PodMetrics`` by name."""
        if name:
            return await self.call(POD_METRICS, "get", ApiRequest(namespace=namespace, name=name))
        request = ApiRequest.model_validate({"namespace": namespace, "labelSelector": label_selector})
        return await self.call(POD_METRICS, "list", request)

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        dry_run: bool = False,
    ) -> Object:
        """Delete every object of ``rt`` in ``namespace`` that the selectors match (``deletecollection``),
        each as :meth:`delete` would; answers the list of them as it was before. A namespaced resource
        needs a namespace (405 without one, as in Kubernetes)."""
        request = ApiRequest.model_validate(
            {
                "namespace": namespace,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "gracePeriodSeconds": grace_period_seconds,
                "propagationPolicy": propagation_policy,
                "dryRun": ["All"] if dry_run else [],
            }
        )
        return await self.call(rt, "deletecollection", request)
