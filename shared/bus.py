"""The bus: connecting to NATS, serving endpoints as a ``nats.micro`` service, and calling them.

A service declares endpoints as ``(subject, request model, handler)``. The base validates every request
before the handler sees it and maps every failure to a Kubernetes ``Status`` reply with the NATS micro
error headers, so one bad request can never stop a service:

- body larger than the configured limit → 413, before any parsing;
- malformed JSON or a schema violation → 400 with the field path;
- :class:`~shared.errors.ApiError` or a ``StatusError`` from the handler → its own code;
- any other exception → 500, logged, and the service goes on serving.

Handlers run as concurrent tasks (a NATS subscription delivers its messages one at a time, so a slow
request would otherwise hold up every request behind it), bounded by ``max_concurrency``.

``connect`` logs in when it is given credentials (in the URLs or the environment, see
:func:`credentials`), as every process of a ``make up`` cluster is, and connects anonymously otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar
from urllib.parse import unquote, urlsplit

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.micro import add_service
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER, Request
from nats.micro.service import EndpointConfig, Service
from pydantic import BaseModel, ValidationError

from shared.errors import ApiError, bad_request, from_validation_error, too_large
from shared.logging import get_logger
from shared.models import StatusError, to_dict
from shared.subjects import private_inbox_prefix

DEFAULT_MAX_REQUEST_BYTES: Final = 3 * 1024 * 1024 // 2
"""1.5 MiB, etcd's default request limit, which Kubernetes objects are sized against."""
DEFAULT_TIMEOUT: Final = 5.0

NATS_USER_ENV: Final = "KUBENATS_NATS_USER"
NATS_PASSWORD_ENV: Final = "KUBENATS_NATS_PASSWORD"
"""A service's NATS user and password when the servers require them (``make up`` sets both per program)."""
log = get_logger(__name__)

RequestT = TypeVar("RequestT", bound=BaseModel)
Reply = BaseModel | Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a handler may know about a request besides its body."""

    subject: str
    headers: Mapping[str, str] = field(default_factory=dict)
    reply_headers: dict[str, str] = field(default_factory=dict)
    """Headers the handler wants on a successful reply (the API server's ``Warning``)."""
    data: bytes = b""
    """The request's raw body, already validated into the request model (what the model cannot tell:
    a JSON field named twice, which the API server reports)."""

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name (NATS keeps the sender's spelling)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


Handler = Callable[[RequestT, RequestContext], Awaitable[Reply]]


def parse_servers(servers: str | Sequence[str]) -> list[str]:
    """``"nats://a:4222,nats://b:4222"`` or a list → a list of server URLs."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    urls = [s.strip() for s in items if s.strip()]
    if not urls:
        raise ValueError("no NATS server URL given")
    return urls


def credentials(
    servers: str | Sequence[str], environ: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The server URLs without credentials, and the connect options that carry them instead.

    A user and password in any URL (``nats://user:password@host:4222``, as the nats CLI takes them) apply
    to every server: nats-py would send them to that server only, and to none it discovers. Without
    them, ``KUBENATS_NATS_USER`` and ``KUBENATS_NATS_PASSWORD`` (both, or neither counts); without those,
    no options: an anonymous connection, as to the servers tests start.
    """
    environ = os.environ if environ is None else environ
    urls: list[str] = []
    found: tuple[str, str] | None = None
    for url in parse_servers(servers):
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        userinfo, at, address = parts.netloc.rpartition("@")
        if at:
            user, _, password = userinfo.partition(":")
            found = found or (unquote(user), unquote(password))
            url = parts._replace(netloc=address).geturl()
        urls.append(url)
    if found is None and environ.get(NATS_USER_ENV) and environ.get(NATS_PASSWORD_ENV):
        found = (environ[NATS_USER_ENV], environ[NATS_PASSWORD_ENV])
    if found is None:
        return urls, {}
    user, password = found
    options = {"user": user, "password": password}
    # A user name that cannot be a subject token keeps nats-py's default inboxes.
    with contextlib.suppress(ValueError):
        options["inbox_prefix"] = private_inbox_prefix(user)
    return urls, options


async def connect(servers: str | Sequence[str], name: str, **options: Any) -> Client:
    """Connect to any of ``servers`` and keep reconnecting for as long as the process lives.

    A service must ride out the loss of the server it is connected to (``make up`` runs three), so
    reconnection never gives up; messages published while disconnected are buffered by nats-py.
    Credentials come from :func:`credentials` unless ``options`` name a user.
    """

    async def on_error(error: Exception) -> None:
        log.warning("nats error", connection=name, error=repr(error))

    async def on_disconnect() -> None:
        log.info("nats disconnected", connection=name)

    async def on_reconnect() -> None:
        log.info("nats reconnected", connection=name)

    settings: dict[str, Any] = {
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.25,
        "connect_timeout": 2,
        "error_cb": on_error,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
    }
    urls, auth = credentials(servers)
    if "user" not in options:
        settings.update(auth)
    settings.update(options)
    return await nats.connect(servers=urls, **settings)


def encode(reply: Reply) -> bytes:
    """A reply body: pydantic models with their wire (alias) names, mappings as plain JSON."""
    if reply is None:
        return b"{}"
    if isinstance(reply, BaseModel):
        return reply.model_dump_json(by_alias=True, exclude_none=True).encode()
    return json.dumps(reply, separators=(",", ":")).encode()


def decode_request(model: type[RequestT], data: bytes) -> RequestT:
    """Validate a request body against its model; an empty body is ``{}``. Raises a 400 ApiError."""
    try:
        return model.model_validate_json(data or b"{}")
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise bad_request(f"malformed JSON: {error.errors()[0]['msg']}") from None
        raise from_validation_error(error) from None


@dataclass(slots=True)
class _Endpoint(Generic[RequestT]):
    name: str
    subject: str
    model: type[RequestT]
    handler: Handler[RequestT]
    queue_group: str | None


class MicroService:
    """A ``nats.micro`` service whose endpoints take pydantic requests and answer Status errors."""

    def __init__(
        self,
        nc: Client,
        name: str,
        version: str = "0.1.0",
        *,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        queue_group: str | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_concurrency: int = 256,
        admit: Callable[[Mapping[str, str]], bool] | None = None,
    ) -> None:
        self.nc = nc
        self.name = name
        self.version = version
        self.description = description
        self.metadata = dict(metadata or {})
        self.queue_group = queue_group
        self.max_request_bytes = max_request_bytes
        self._endpoints: list[_Endpoint[Any]] = []
        self._service: Service | None = None
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        # Requests it refuses go unanswered, as across a network partition (shared.reachability).
        self._admit = admit

    def add_endpoint(
        self,
        name: str,
        subject: str,
        model: type[RequestT],
        handler: Handler[RequestT],
        *,
        queue_group: str | None = None,
    ) -> None:
        """Declare an endpoint; call before :meth:`start`."""
        if self._service is not None:
            raise RuntimeError("endpoints must be added before the service starts")
        self._endpoints.append(_Endpoint(name, subject, model, handler, queue_group or self.queue_group))

    async def start(self) -> None:
        self._service = await add_service(
            self.nc,
            name=self.name,
            version=self.version,
            description=self.description or None,
            metadata=self.metadata or None,
            queue_group=self.queue_group,
        )
        for endpoint in self._endpoints:
            await self._service.add_endpoint(
                EndpointConfig(
                    name=endpoint.name,
                    subject=endpoint.subject,
                    handler=self._dispatcher(endpoint),
                    queue_group=endpoint.queue_group,
                )
            )
        await self.nc.flush()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking requests, then let the ones in flight finish (up to ``grace`` seconds)."""
        if self._service is not None:
            await self._service.stop()
            self._service = None
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=grace)

    @property
    def id(self) -> str:
        return self._service.id if self._service else ""

    def _dispatcher(self, endpoint: _Endpoint[Any]) -> Callable[[Request], Awaitable[None]]:
        async def dispatch(request: Request) -> None:
            if self._admit is not None and not self._admit(request.headers or {}):
                return
            await self._slots.acquire()
            task = asyncio.create_task(self._serve(endpoint, request))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

        return dispatch

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()

    async def _serve(self, endpoint: _Endpoint[Any], request: Request) -> None:
        try:
            body, headers = await self._handle(endpoint, request)
        except ApiError as error:
            await _respond_error(request, error)
            return
        except StatusError as error:
            await _respond_error(request, ApiError.from_status(to_dict(error.status)))
            return
        except Exception as error:  # the service must outlive any one request's bug
            log.exception("handler failed", endpoint=endpoint.name, subject=request.subject)
            await _respond_error(request, ApiError(500, f"internal error: {error!r}"))
            return
        try:
            await _respond(request, body, headers, self.nc.max_payload)
        except Exception as error:  # e.g. a reply over the server's max_payload: the caller gets a 500
            log.exception("reply not sent", endpoint=endpoint.name, subject=request.subject, bytes=len(body))
            await _respond_error(
                request, ApiError(500, f"internal error: the reply could not be sent: {error!r}")
            )

    async def _handle(self, endpoint: _Endpoint[Any], request: Request) -> tuple[bytes, dict[str, str]]:
        if len(request.data) > self.max_request_bytes:
            raise too_large(len(request.data), self.max_request_bytes)
        payload = decode_request(endpoint.model, request.data)
        context = RequestContext(subject=request.subject, headers=request.headers or {}, data=request.data)
        return encode(await endpoint.handler(payload, context)), context.reply_headers


async def _respond(request: Request, body: bytes, headers: dict[str, str], max_payload: int) -> None:
    """Send a reply; ValueError when it is larger than the server takes.

    nats-py checks only the body against ``max_payload``, while the server counts headers too and drops
    the whole connection for a message over it: so the reply is measured here, headers and all.
    """
    if not request._msg.reply:  # a published (not requested) message gets no answer
        return
    size = len(body) + _header_bytes(headers)
    if size > max_payload:
        raise ValueError(f"the reply has {size} bytes, the server takes at most {max_payload}")
    await request.respond(body, headers=headers or None)


def _header_bytes(headers: Mapping[str, str]) -> int:
    """The size of a NATS header block: ``NATS/1.0\r\n``, ``name: value\r\n`` each, ``\r\n``."""
    if not headers:
        return 0
    lines = sum(len(name.encode()) + len(value.encode()) + 4 for name, value in headers.items())
    return len(b"NATS/1.0\r\n") + lines + 2


async def _respond_error(request: Request, error: ApiError) -> None:
    """Send an error reply; a failure to send it is logged (the caller times out), never raised."""
    if not request._msg.reply:
        return
    body = json.dumps(error.to_status()).encode()
    try:
        await request.respond_error(str(error.code), error.message, data=body)
    except Exception:  # the connection is closed or draining: nothing more can reach the caller
        log.exception("error reply not sent", subject=request.subject, code=error.code)


def raise_for_error(msg: Msg) -> None:
    """Turn an error reply (micro error headers) back into the :class:`ApiError` the server raised."""
    headers = msg.headers or {}
    code = headers.get(ERROR_CODE_HEADER)
    if code is None:
        return
    try:
        status = json.loads(msg.data) if msg.data else {}
    except ValueError:
        status = {}
    if isinstance(status, dict) and status.get("kind") == "Status":
        raise ApiError.from_status(status)
    raise ApiError(int(code) if code.isdigit() else 500, headers.get(ERROR_HEADER, "error"))


@dataclass(frozen=True, slots=True)
class Response:
    """A successful reply: its decoded JSON body and its headers (the API server's ``Warning``)."""

    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name (NATS keeps the sender's spelling)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


async def request(
    nc: Client,
    subject: str,
    payload: Reply | bytes = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """Send a request and return the decoded JSON reply; errors come back as :class:`ApiError`.

    No responder → 503 (nothing serves the subject right now); no reply in time → 504.
    """
    response = await request_with_headers(nc, subject, payload, timeout=timeout, headers=headers)
    return response.body


async def request_with_headers(
    nc: Client,
    subject: str,
    payload: Reply | bytes = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """:func:`request`, answering the reply's headers beside its body."""
    data = payload if isinstance(payload, bytes) else encode(payload)
    try:
        msg = await nc.request(subject, data, timeout=timeout, headers=dict(headers) if headers else None)
    except NoRespondersError:
        raise ApiError(503, f"no responders on {subject}") from None
    except NatsTimeoutError:
        raise ApiError(504, f"no reply on {subject} within {timeout}s") from None
    raise_for_error(msg)
    return Response(json.loads(msg.data) if msg.data else None, msg.headers or {})
