"""The Responses client against the strict fake API: events, errors, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fixtures.fake_api import CallItem, CutStream, FakeModelAPI, HttpError, Reply, Stall, TextItem
from tests.helpers import wait_for

from agentls.config.settings import Settings
from agentls.providers.errors import http_error, parse_retry_after
from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ProviderError,
    Retry,
    TextDelta,
)
from agentls.providers.responses import ResponsesClient
from agentls.providers.retry import backoff_delay, stream_with_retries

KEY = "sk-unit-test-key"


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeModelAPI]:
    async with FakeModelAPI(api_key=KEY) as fake:
        yield fake


def client_for(api: FakeModelAPI, **settings: Any) -> ResponsesClient:
    merged: dict[str, Any] = {"base_url": api.base_url, "retry_base_delay_s": 0, **settings}
    return ResponsesClient(Settings(**merged), env={"OPENAI_API_KEY": KEY})


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def collect(client: ResponsesClient, request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in client.stream(request)]


async def test_text_and_calls_stream_as_events(api: FakeModelAPI) -> None:
    api.enqueue(Reply([TextItem("hi there"), CallItem("shell", {"command": ["ls"]}, "call_9")]))
    client = client_for(api)
    events = await collect(client, ModelRequest(model="m", input=[user("x")], tools=[]))
    await client.aclose()
    deltas = "".join(e.delta for e in events if isinstance(e, TextDelta))
    assert deltas == "hi there"
    done = [e.item for e in events if isinstance(e, ItemDone)]
    assert [d["type"] for d in done] == ["message", "function_call"]
    assert done[1]["call_id"] == "call_9"
    assert isinstance(events[-1], Completed)
    assert events[-1].usage["total_tokens"] > 0
    assert api.requests[0]["stream"] is True and api.requests[0]["store"] is False


async def test_error_statuses_are_worded(api: FakeModelAPI) -> None:
    client = client_for(api)
    api.enqueue(HttpError(404, "The model 'nope' does not exist", code="model_not_found"))
    with pytest.raises(ProviderError) as error:
        await collect(client, ModelRequest(model="nope", input=[user("x")], tools=[]))
    assert error.value.http_status == 404
    assert "AGENTLS_MODEL" in error.value.message
    assert not error.value.retryable
    await client.aclose()


async def test_wrong_key(api: FakeModelAPI) -> None:
    client = ResponsesClient(Settings(base_url=api.base_url), env={"OPENAI_API_KEY": "sk-wrong"})
    with pytest.raises(ProviderError) as error:
        await collect(client, ModelRequest(model="m", input=[user("x")], tools=[]))
    assert error.value.http_status == 401
    assert "OPENAI_API_KEY" in error.value.message
    await client.aclose()


async def test_strict_api_rejects_a_call_without_output(api: FakeModelAPI) -> None:
    client = client_for(api)
    items = [
        user("x"),
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
    ]
    with pytest.raises(ProviderError) as error:
        await collect(client, ModelRequest(model="m", input=items, tools=[]))
    assert "No tool output found for function call c1" in error.value.message
    await client.aclose()


async def test_cut_stream_is_a_retryable_error(api: FakeModelAPI) -> None:
    api.enqueue(CutStream(after_events=3))
    client = client_for(api)
    with pytest.raises(ProviderError) as error:
        await collect(client, ModelRequest(model="m", input=[user("x")], tools=[]))
    assert error.value.retryable
    await client.aclose()


async def test_stall_hits_the_idle_timeout(api: FakeModelAPI) -> None:
    api.enqueue(Stall(5))
    client = client_for(api, stream_idle_timeout_s=0.3)
    with pytest.raises(ProviderError) as error:
        await collect(client, ModelRequest(model="m", input=[user("x")], tools=[]))
    assert "sent nothing for 0.3 s" in error.value.message
    assert error.value.retryable
    await client.aclose()


async def test_retries_yield_a_marker_then_succeed(api: FakeModelAPI) -> None:
    api.enqueue(HttpError(503, "overloaded", retry_after=0), CutStream(after_events=4))
    client = client_for(api, max_retries=3)
    request = ModelRequest(model="m", input=[user("again")], tools=[])
    events = [e async for e in stream_with_retries(client.stream, request, client.settings)]
    await client.aclose()
    retries = [e for e in events if isinstance(e, Retry)]
    assert [r.attempt for r in retries] == [2, 3]
    assert isinstance(events[-1], Completed)
    assert len(api.requests) == 3


async def test_retries_are_bounded(api: FakeModelAPI) -> None:
    api.enqueue(*[HttpError(500, "boom")] * 5)
    client = client_for(api, max_retries=1)
    request = ModelRequest(model="m", input=[user("x")], tools=[])
    with pytest.raises(ProviderError) as error:
        async for _ in stream_with_retries(client.stream, request, client.settings):
            pass
    assert "gave up after 2 attempts" in error.value.message
    assert len(api.requests) == 2
    await client.aclose()


def test_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_backoff_grows_and_is_capped() -> None:
    settings = Settings(retry_base_delay_s=1, retry_max_delay_s=5)
    assert 0.5 <= backoff_delay(1, settings, None) <= 1
    assert 2 <= backoff_delay(3, settings, None) <= 4
    assert backoff_delay(10, settings, None) <= 5
    assert backoff_delay(1, settings, 7.0) == 7.0


def test_http_error_quotes_the_api() -> None:
    error = http_error(
        429,
        b'{"error": {"message": "Slow down", "code": "rate_limit"}}',
        "3",
        key_env="OPENAI_API_KEY",
        base_url="u",
    )
    assert error.message.startswith("429 from the model API: Slow down.")
    assert error.retryable and error.retry_after_s == 3.0
    plain = http_error(502, b"<html>bad gateway</html>", None, key_env="K", base_url="u")
    assert "bad gateway" in plain.message and plain.retryable


async def test_a_stopped_stream_retires_its_http_client(api: FakeModelAPI) -> None:
    """Cancelling mid-body must not leave the connection checked out of the pool."""
    import asyncio

    client = client_for(api)
    first_http = client._pool.client
    request = ModelRequest(model="m", input=[user("slow: 0.05")], tools=[])
    started = asyncio.Event()

    async def consume() -> None:
        async for event in client.stream(request):
            if isinstance(event, TextDelta):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client._pool.client is not first_http
    # retired: closed in the background once its last stream has let go
    await wait_for(lambda: first_http.is_closed, what="the retired client to close")
    events = await collect(client, ModelRequest(model="m", input=[user("again")], tools=[]))
    assert isinstance(events[-1], Completed)
    await client.aclose()


async def test_retiring_a_client_waits_for_its_other_streams(api: FakeModelAPI) -> None:
    """Another session's stream on the same client must not be cut by this stop."""
    import asyncio

    client = client_for(api)
    shared = client._pool.client
    other_done: list[ModelEvent] = []

    async def other_session() -> None:
        request = ModelRequest(model="m", input=[user("slow: 0.02")], tools=[])
        count = 0
        async for event in client.stream(request):
            other_done.append(event)
            count += 1
            if count > 30:
                return

    other = asyncio.create_task(other_session())
    await wait_for(lambda: any(isinstance(e, TextDelta) for e in other_done), what="its stream")
    started = asyncio.Event()

    async def stopped_session() -> None:
        async for event in client.stream(
            ModelRequest(model="m", input=[user("slow: 0.05")], tools=[])
        ):
            if isinstance(event, TextDelta):
                started.set()

    stopped = asyncio.create_task(stopped_session())
    await asyncio.wait_for(started.wait(), 5)
    stopped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopped
    assert client._pool.client is not shared
    assert not shared.is_closed  # the other stream still uses it
    await asyncio.wait_for(other, 10)
    assert len(other_done) > 30
    await wait_for(lambda: shared.is_closed, what="the retired client to close")
    await client.aclose()
