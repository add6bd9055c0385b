"""Provider faults on the strict fake API: each ends in a clear outcome, nothing half-kept.

Slow first byte, a stall mid-stream (the idle read timeout ends the wait), connection
resets, 429 storms with Retry-After, malformed SSE; over both wire APIs. After every fault
the next request's history holds only whole items, and the strict API accepts it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fixtures.fake_api import CutStream, FakeModelAPI, HttpError, Malformed, SlowStart, Stall
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent

# measures how long retries and timeouts take: alone (`make pytest` runs `serial` tests after
# the parallel pass)
pytestmark = pytest.mark.serial

WIRES = ["responses", "chat"]


def _history(api: FakeModelAPI) -> list[dict[str, Any]]:
    body = api.requests[-1]
    return list(body.get("input") or body.get("messages") or [])


async def _next_turn_is_clean(agent: Agent, api: FakeModelAPI, session_id: str) -> None:
    """The follow-up request carries only complete turns: user, assistant, user, ..."""
    follow = await agent.send("and now?", sessionId=session_id)
    assert follow["status"] == "completed", follow
    roles = [m.get("role") for m in _history(api)]
    assert roles[-1] == "user"
    assert all(role in ("user", "assistant", "system") for role in roles), roles
    for message in _history(api):
        if message.get("role") == "assistant":
            content = message.get("content")
            text = content if isinstance(content, str) else content[0]["text"]
            assert text.startswith("You said: "), text  # whole answers only
    assert api.rejected == []


@pytest.mark.parametrize("wire", WIRES)
async def test_slow_first_byte_within_the_timeout_is_just_slow(
    start: Starter, api: FakeModelAPI, wire: str
) -> None:
    agent = await start(init_options={"wireApi": wire, "streamIdleTimeoutS": 5})
    api.enqueue(SlowStart(1.0))
    began = time.monotonic()
    result = await agent.send("hello")
    assert result["status"] == "completed"
    assert time.monotonic() - began >= 1.0
    assert not [e for e in agent.turn_events(result["turnId"]) if e["type"] == "retrying"]


@pytest.mark.parametrize("wire", WIRES)
async def test_stall_mid_stream_ends_with_the_read_timeout(
    start: Starter, api: FakeModelAPI, wire: str
) -> None:
    agent = await start(init_options={"wireApi": wire, "streamIdleTimeoutS": 0.5})
    api.enqueue(Stall(30), Stall(30), Stall(30))
    began = time.monotonic()
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert "sent nothing for 0.5 s" in result["error"]["message"]
    assert time.monotonic() - began < 10  # three attempts, each ended by the timeout
    retries = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "retrying"]
    assert len(retries) == 2
    await _next_turn_is_clean(agent, api, result["sessionId"])


@pytest.mark.parametrize("wire", WIRES)
async def test_resets_are_retried_then_reported(
    start: Starter, api: FakeModelAPI, wire: str
) -> None:
    agent = await start(init_options={"wireApi": wire})
    api.enqueue(CutStream(after_events=2), CutStream(after_events=4))
    recovered = await agent.send("first")
    assert recovered["status"] == "completed"
    assert recovered["finalMessage"] == "You said: first"
    api.enqueue(*[CutStream(after_events=3)] * 3)
    failed = await agent.send("second", sessionId=recovered["sessionId"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "stream_cut"
    await _next_turn_is_clean(agent, api, recovered["sessionId"])


@pytest.mark.parametrize("wire", WIRES)
async def test_a_429_storm_honours_retry_after(
    start: Starter, api: FakeModelAPI, wire: str
) -> None:
    agent = await start(init_options={"wireApi": wire, "maxRetries": 6})
    api.enqueue(*[HttpError(429, "Rate limit reached", type="requests", retry_after=0.2)] * 5)
    began = time.monotonic()
    result = await agent.send("hello")
    assert result["status"] == "completed"
    retries = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "retrying"]
    assert [r["delayMs"] for r in retries] == [200] * 5
    assert time.monotonic() - began >= 1.0
    api.enqueue(*[HttpError(429, "Rate limit reached", retry_after=0)] * 7)
    exhausted = await agent.send("again", sessionId=result["sessionId"])
    assert exhausted["status"] == "failed"
    assert exhausted["error"]["httpStatus"] == 429
    assert "gave up after 7 attempts" in exhausted["error"]["message"]
    await _next_turn_is_clean(agent, api, result["sessionId"])


@pytest.mark.parametrize("wire", WIRES)
async def test_malformed_sse_is_a_clear_failure(
    start: Starter, api: FakeModelAPI, wire: str
) -> None:
    agent = await start(init_options={"wireApi": wire})
    api.enqueue(Malformed(after_events=3), Malformed(after_events=3), Malformed(after_events=3))
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert "not JSON" in result["error"]["message"]
    await _next_turn_is_clean(agent, api, result["sessionId"])
