"""The service base over a real nats-server: replies, Status errors, limits, and micro discovery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from pydantic import BaseModel, ConfigDict, Field

from shared import bus
from shared.bus import MicroService, RequestContext
from shared.errors import ApiError, not_found
from shared.models import StatusError, new_conflict

SUBJECT = "test.echo"
LIMIT = 1024


class Container(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    image: str


class EchoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    repeat: int = Field(default=1, ge=1, le=10)
    containers: list[Container] = []


class EchoReply(BaseModel):
    text: str


async def echo(request: EchoRequest, context: RequestContext) -> EchoReply:
    if request.text == "boom":
        raise RuntimeError("handler bug")
    if request.text == "missing":
        raise not_found('pods "missing" not found')
    if request.text == "slow":
        await asyncio.sleep(0.5)
    return EchoReply(text=request.text * request.repeat)


@pytest.fixture
async def service(nc: Client) -> AsyncIterator[MicroService]:
    svc = MicroService(nc, "echo", "1.2.3", description="echoes", max_request_bytes=LIMIT)
    svc.add_endpoint("echo", SUBJECT, EchoRequest, echo)
    await svc.start()
    yield svc
    await svc.stop()


async def test_valid_request_gets_its_reply(service: MicroService, nc: Client) -> None:
    reply = await bus.request(nc, SUBJECT, {"text": "ab", "repeat": 3})
    assert reply == {"text": "ababab"}


async def test_malformed_json_gets_400_status(service: MicroService, nc: Client) -> None:
    msg = await nc.request(SUBJECT, b'{"text": ', timeout=2)
    status = json.loads(msg.data)
    assert msg.headers is not None and msg.headers["Nats-Service-Error-Code"] == "400"
    assert status["kind"] == "Status" and status["code"] == 400 and status["reason"] == "BadRequest"
    assert "malformed JSON" in status["message"]


async def test_schema_violation_names_the_field_path(service: MicroService, nc: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(
            nc, SUBJECT, {"text": "x", "containers": [{"name": "a", "image": "i"}, {"name": "b"}]}
        )
    assert caught.value.code == 400
    assert "containers[1].image: Field required" in caught.value.message


async def test_unknown_field_is_refused_with_its_name(service: MicroService, nc: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, SUBJECT, {"text": "x", "colour": "red"})
    assert caught.value.code == 400 and "colour" in caught.value.message


async def test_oversized_body_gets_413_before_parsing(service: MicroService, nc: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, SUBJECT, b"{" + b" " * LIMIT + b"}")
    assert caught.value.code == 413 and caught.value.reason == "RequestEntityTooLarge"


async def test_handler_bug_gets_500_and_service_keeps_serving(service: MicroService, nc: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, SUBJECT, {"text": "boom"})
    assert caught.value.code == 500 and "handler bug" in caught.value.message
    assert await bus.request(nc, SUBJECT, {"text": "still here"}) == {"text": "still here"}


async def test_api_error_from_handler_keeps_its_code_and_reason(service: MicroService, nc: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, SUBJECT, {"text": "missing"})
    assert (caught.value.code, caught.value.reason) == (404, "NotFound")
    assert caught.value.message == 'pods "missing" not found'


async def test_slow_request_does_not_hold_up_others(service: MicroService, nc: Client) -> None:
    slow = asyncio.create_task(bus.request(nc, SUBJECT, {"text": "slow"}))
    await asyncio.sleep(0.05)
    fast = await bus.request(nc, SUBJECT, {"text": "fast"}, timeout=0.3)
    assert fast == {"text": "fast"}
    assert not slow.done()
    assert await slow == {"text": "slow"}


async def test_no_responders_is_503(nc: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, "test.nobody", {})
    assert caught.value.code == 503


async def test_ping_and_info_discover_the_service(service: MicroService, nc: Client) -> None:
    ping = json.loads((await nc.request("$SRV.PING.echo", b"", timeout=2)).data)
    assert ping["name"] == "echo" and ping["version"] == "1.2.3" and ping["id"] == service.id
    info = json.loads((await nc.request(f"$SRV.INFO.echo.{service.id}", b"", timeout=2)).data)
    assert info["description"] == "echoes"
    assert [e["subject"] for e in info["endpoints"]] == [SUBJECT]


async def test_stop_lets_in_flight_requests_finish(nc: Client) -> None:
    svc = MicroService(nc, "echo", "1.0.0")
    svc.add_endpoint("echo", SUBJECT, EchoRequest, echo)
    await svc.start()
    pending = asyncio.create_task(bus.request(nc, SUBJECT, {"text": "slow"}))
    await asyncio.sleep(0.1)
    await svc.stop()
    assert await pending == {"text": "slow"}


async def test_status_error_from_models_is_replied_as_its_status(nc: Client) -> None:
    async def refuse(request: EchoRequest, context: RequestContext) -> None:
        raise StatusError(new_conflict("pods", request.text))

    svc = MicroService(nc, "refuser", "1.0.0")
    svc.add_endpoint("refuse", "test.refuse", EchoRequest, refuse)
    await svc.start()
    with pytest.raises(ApiError) as caught:
        await bus.request(nc, "test.refuse", {"text": "web-0"})
    await svc.stop()
    assert (caught.value.code, caught.value.reason) == (409, "Conflict")
    assert caught.value.message.startswith('Operation cannot be fulfilled on pods "web-0"')


async def test_a_reply_too_large_to_send_gets_500_and_service_keeps_serving(nc: Client) -> None:
    async def oversized(request: EchoRequest, context: RequestContext) -> EchoReply:
        if request.text == "huge":  # a reply header past the server's max_payload cannot be published
            context.reply_headers["Warning"] = "w" * (nc.max_payload + 1)
        return EchoReply(text=request.text)

    svc = MicroService(nc, "oversized", "1.0.0")
    svc.add_endpoint("oversized", "test.oversized", EchoRequest, oversized)
    await svc.start()
    try:
        with pytest.raises(ApiError) as caught:
            await bus.request(nc, "test.oversized", {"text": "huge"}, timeout=2)
        assert caught.value.code == 500 and "the reply could not be sent" in caught.value.message
        assert await bus.request(nc, "test.oversized", {"text": "small"}) == {"text": "small"}
    finally:
        await svc.stop()
