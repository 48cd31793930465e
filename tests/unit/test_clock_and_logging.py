"""The virtual clock wakes sleepers in deadline order; log lines are a message plus key=value fields."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.clock import VirtualClock
from shared.logging import format_fields, get_logger


async def test_virtual_clock_wakes_sleepers_in_deadline_order_only_when_advanced() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper("late", 5)), asyncio.create_task(sleeper("early", 1))]
    await asyncio.sleep(0)
    assert clock.sleepers == 2
    await clock.advance(0.5)
    assert woke == []
    await clock.advance(10)
    assert woke == [("early", 1.0), ("late", 5.0)]
    assert clock.monotonic() == 10.5
    await asyncio.gather(*tasks)


def test_fields_are_quoted_only_when_they_need_it() -> None:
    assert format_fields({"member": "cp-1", "term": 3}) == "member=cp-1 term=3"
    assert format_fields({"error": "no quorum", "empty": ""}) == 'error="no quorum" empty=""'


def test_logger_writes_constant_message_then_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kubenats.test"):
        get_logger("kubenats.test").info("member ready", member="cp-1", term=2)
    assert caplog.records[0].getMessage() == "member ready member=cp-1 term=2"
