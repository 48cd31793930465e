"""The API server's HTTPS listener: the Kubernetes REST API, so that kubectl and client libraries work.

Paths served: ``/version``, discovery (``/api``, ``/apis``, per group and group/version, aggregated when
asked for), ``/openapi/v3``, health checks (``/healthz``, ``/livez``, ``/readyz``), and the resources under
``/api/v1/…`` and ``/apis/{group}/{version}/…`` (``resources.py``). Every request but the health checks
must carry a valid bearer token (401 otherwise); any authenticated user may read discovery and OpenAPI, and
the resources are authorized as over NATS, by the shared request handler.

The listener speaks TLS only: client-go sends no credentials over plain HTTP.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from services.apiserver.handler import RequestHandler
from services.apiserver.rest import discovery, openapi
from services.apiserver.rest.paths import not_found
from services.apiserver.rest.resources import serve
from services.apiserver.rest.responses import as_api_error, error_response, json_response
from shared.apiprotocol import AUTHORIZATION_HEADER
from shared.errors import ApiError
from shared.logging import get_logger

log = get_logger(__name__)

_HEALTH = frozenset({"/healthz", "/livez", "/readyz"})


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class RestServer:
    """``await RestServer(handler, cert_file=…, key_file=…).start()`` serves until :meth:`stop`."""

    def __init__(
        self,
        handler: RequestHandler,
        *,
        cert_file: Path,
        key_file: Path,
        host: str = "0.0.0.0",
        port: int = 0,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._tls = tls_context(cert_file, key_file)
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        # Cancelling a handler whose client went away is what ends an abandoned watch at once.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)

    async def start(self) -> int:
        """Listen; returns the port (the one chosen when ``port`` was 0)."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._tls)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        except Exception as error:
            api_error = as_api_error(error)
            if api_error.code >= 500:
                log.exception("request failed", method=request.method, path=request.path)
            return error_response(api_error)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in _HEALTH:
            return web.Response(text="ok")
        parts = path.strip("/").split("/")
        if parts[0] in ("api", "apis") and (len(parts) > 3 or (parts[0] == "api" and len(parts) > 2)):
            return await serve(self.handler, request)
        self.handler.authenticate(request.headers.get(AUTHORIZATION_HEADER))
        if request.method != "GET":
            raise ApiError(405, f"{request.method} is not allowed on {path}", reason="MethodNotAllowed")
        return self._describe(path, parts, request)

    def _describe(self, path: str, parts: list[str], request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if path == "/version":
            return json_response(discovery.version_info())
        if path in ("/api", "/apis"):
            if discovery.wants_aggregated(accept):
                body = discovery.aggregated(core=path == "/api")
                return json_response(body, content_type=discovery.AGGREGATED_CONTENT_TYPE)
            if path == "/api":
                return json_response(discovery.api_versions(f"{request.host}"))
            return json_response(discovery.api_group_list())
        if parts[0] == "api" and len(parts) == 2:
            found = discovery.api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            found = discovery.api_resource_list(parts[1], parts[2])
        elif parts[0] == "apis" and len(parts) == 2:
            versions = discovery.group_versions().get(parts[1])
            found = discovery.api_group(parts[1], versions) if versions and parts[1] else None
        elif path == "/openapi/v3":
            found = openapi.index()
        elif parts[:2] == ["openapi", "v3"]:
            found = openapi.document_at("/".join(parts[2:]))
        else:
            found = None
        if found is None:
            raise not_found()
        return json_response(found)
