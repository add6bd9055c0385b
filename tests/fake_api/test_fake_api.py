"""The fake must match the real service closely enough that passing tests mean something.

So events are checked against the official SDK's types, real SDK clients are driven against
it, and every strictness rule is exercised with the service's exact error text.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent

from tests.fake_api import CallItem, CutStream, FakeModelAPI, HttpError, Reply, Stall, TextItem

Json = dict[str, Any]

EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def api() -> AsyncIterator[FakeModelAPI]:
    async with FakeModelAPI() as server:
        yield server


@pytest.fixture
async def http(api: FakeModelAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture
async def sdk(api: FakeModelAPI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=api.base_url, api_key="x", max_retries=0) as client:
        yield client


def user(text: str) -> Any:
    """A user message; typed loosely so it fits both raw bodies and the SDK's param types."""
    return {"role": "user", "content": text}


def responses_body(input_items: list[Json], **extra: Any) -> Json:
    return {"model": "fake-model", "input": input_items, "stream": True, **extra}


def chat_body(messages: list[Json], **extra: Any) -> Json:
    return {"model": "fake-model", "messages": messages, "stream": True, **extra}


def parse_sse(raw: str) -> list[tuple[str | None, str]]:
    """Split an SSE body into (event name, data) pairs."""
    frames = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        frames.append((event, "\n".join(data)))
    return frames


async def responses_events(http: httpx.AsyncClient, body: Json) -> list[Json]:
    """POST to /responses and return events after checking each against the SDK's types."""
    response = await http.post("/responses", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for name, data in parse_sse(response.text):
        event = json.loads(data)
        assert name == event["type"]
        EVENT_ADAPTER.validate_python(event)
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


async def chat_chunks(http: httpx.AsyncClient, body: Json) -> list[Json]:
    """POST to /chat/completions and return chunks after checking each against the SDK type."""
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    frames = parse_sse(response.text)
    assert frames[-1] == (None, "[DONE]")
    chunks = []
    for _, data in frames[:-1]:
        chunk = json.loads(data)
        ChatCompletionChunk.model_validate(chunk)
        chunks.append(chunk)
    return chunks


def chat_text(chunks: list[Json]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def expect_400(http: httpx.AsyncClient, path: str, body: Json, message: str) -> Json:
    response = await http.post(path, json=body)
    assert response.status_code == 400, response.text
    error: Json = response.json()
    assert error["error"]["message"] == message
    assert error["error"]["type"] == "invalid_request_error"
    assert set(error["error"]) == {"message", "type", "param", "code"}
    return error


# --------------------------------------------------------------------------- event shapes


async def test_text_events_validate_and_concatenate(
    api: FakeModelAPI, http: httpx.AsyncClient
) -> None:
    api.enqueue(Reply([TextItem("Hello  brave new world")], usage={"input_tokens": 7}))
    events = await responses_events(http, responses_body([user("hi")]))
    types = [e["type"] for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas == ["Hello  ", "brave ", "new ", "world"]
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["id"].startswith("resp_")
    assert completed["output"][0]["content"][0]["text"] == "Hello  brave new world"
    assert completed["usage"]["input_tokens"] == 7
    assert completed["usage"]["output_tokens"] == 4
    assert completed["usage"]["total_tokens"] == 11
    assert events[0]["response"]["id"] == completed["id"]


async def test_function_call_and_multi_item_events(
    api: FakeModelAPI, http: httpx.AsyncClient
) -> None:
    args = {"path": "a.txt", "lines": [1, 2, 3]}
    api.enqueue(
        Reply([TextItem("Reading.", chunks=["Rea", "ding."]), CallItem("read", args, "call_1")])
    )
    tool = {"type": "function", "name": "read", "parameters": {"type": "object"}}
    events = await responses_events(http, responses_body([user("hi")], tools=[tool]))
    assert events[0]["response"]["tools"][0]["strict"] is True
    arg_deltas = [
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    ]
    assert len(arg_deltas) > 1
    assert json.loads("".join(arg_deltas)) == args
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [a["output_index"] for a in added] == [0, 1]
    call = added[1]["item"]
    assert call["id"].startswith("fc_")
    assert (call["call_id"], call["name"], call["arguments"]) == ("call_1", "read", "")
    output = events[-1]["response"]["output"]
    assert output[0]["content"][0]["text"] == "Reading."
    assert output[1]["arguments"] == json.dumps(args)
    assert output[1]["status"] == "completed"


async def test_failed_reply_events(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    api.enqueue(Reply([TextItem("partial")], fail_message="The server had an error"))
    events = await responses_events(http, responses_body([user("hi")]))
    assert events[-1]["type"] == "response.failed"
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": "The server had an error"}


async def test_chat_chunks_validate(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    chunks = await chat_chunks(
        http, chat_body([user("hello")], stream_options={"include_usage": True})
    )
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chat_text(chunks) == "You said: hello"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    api.enqueue(Reply([CallItem("a", {"x": 1}, "call_a"), CallItem("b", "{}", "call_b")]))
    chunks = await chat_chunks(http, chat_body([user("go")]))
    assert all("usage" not in c for c in chunks)
    calls = [call for c in chunks for call in c["choices"][0]["delta"].get("tool_calls") or []]
    starts = [c for c in calls if "id" in c]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in starts] == [
        (0, "call_a", "a"),
        (1, "call_b", "b"),
    ]
    args = "".join(c["function"]["arguments"] for c in calls if c["index"] == 0)
    assert json.loads(args) == {"x": 1}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_chat_failed_reply_is_error_event(api: FakeModelAPI, sdk: openai.AsyncOpenAI) -> None:
    api.enqueue(Reply([TextItem("partial")], fail_message="overloaded"))
    stream = await sdk.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="overloaded"):
        async for _ in stream:
            pass


# --------------------------------------------------------------------------- real SDK


async def test_sdk_responses_text_and_tool_round_trip(
    api: FakeModelAPI, sdk: openai.AsyncOpenAI
) -> None:
    stream = await sdk.responses.create(
        model="fake-model",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "run: ls -la"}]}],
        stream=True,
    )
    calls = []
    async for event in stream:
        if event.type == "response.output_item.done" and event.item.type == "function_call":
            calls.append(event.item)
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "shell"
    assert json.loads(call.arguments) == {"command": ["bash", "-lc", "ls -la"]}
    assert call.call_id.startswith("call_")

    history: list[Any] = [
        {"role": "user", "content": "run: ls -la"},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "a" * 300},
    ]
    stream = await sdk.responses.create(model="fake-model", input=history, stream=True)
    text = ""
    async for event in stream:
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            assert event.response.output_text == text
    assert text == "Tool output: " + "a" * 200
    assert len(api.requests) == 2
    assert api.requests[1]["input"][-1]["type"] == "function_call_output"


async def test_sdk_chat_text_and_tool_call(api: FakeModelAPI, sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi there"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert text == "You said: hi there"

    stream = await sdk.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "run: echo hi"}], stream=True
    )
    call_id, name, arguments = "", "", ""
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            call_id = call.id or call_id
            if call.function:
                name = call.function.name or name
                arguments += call.function.arguments or ""
    assert name == "shell"
    assert json.loads(arguments) == {"command": ["bash", "-lc", "echo hi"]}

    messages: list[Any] = [
        {"role": "user", "content": "run: echo hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "hi\n"},
    ]
    stream = await sdk.chat.completions.create(model="fake-model", messages=messages, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Tool output: hi\n"


async def test_sdk_models(api: FakeModelAPI, sdk: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in sdk.models.list()]
    assert models == ["fake-model"]


# --------------------------------------------------------------------------- strictness


async def test_call_without_output_is_rejected(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    api.enqueue(Reply([TextItem("queued")]))
    body = responses_body(
        [user("x"), {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"}]
    )
    error = await expect_400(
        http, "/responses", body, "No tool output found for function call call_9."
    )
    assert error["error"]["param"] == "input"
    assert api.rejected == [(400, error)]
    assert api.requests == [body]
    # The queued reply survives a rejected request.
    events = await responses_events(http, responses_body([user("x")]))
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "queued"


async def test_output_without_call_is_rejected(http: httpx.AsyncClient) -> None:
    output = {"type": "function_call_output", "call_id": "call_7", "output": "done"}
    call = {"type": "function_call", "call_id": "call_7", "name": "f", "arguments": "{}"}
    message = "No tool call found for function call output with call_id call_7."
    await expect_400(http, "/responses", responses_body([user("x"), output]), message)
    # Order matters: the output must come after its call.
    await expect_400(http, "/responses", responses_body([output, call]), message)


async def test_malformed_responses_requests(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    cases: list[tuple[Json, str]] = [
        ({"input": [user("x")], "stream": True}, "Missing required parameter: 'model'."),
        ({"model": "m", "stream": True}, "Missing required parameter: 'input'."),
        (
            {"model": "m", "input": [user("x")]},
            "This fake model API only streams: set 'stream' to true.",
        ),
        (
            responses_body([{"type": "bogus"}]),
            "Invalid value: 'bogus'. Supported values are: 'message', 'function_call', "
            "'function_call_output', and 'reasoning'.",
        ),
        (
            responses_body([{"role": "tool", "content": "x"}]),
            "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', "
            "and 'user'.",
        ),
        (
            responses_body(
                [{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]
            ),
            "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
        ),
        (
            responses_body(
                [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}]
            ),
            "Invalid type for 'input[0].arguments': expected a string, but got an object instead.",
        ),
        (
            responses_body(
                [user("x")],
                tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
            ),
            "Missing required parameter: 'tools[0].name'.",
        ),
    ]
    for body, message in cases:
        await expect_400(http, "/responses", body, message)
    response = await http.post("/responses", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("We could not parse the JSON body")
    assert len(api.rejected) == len(cases) + 1
    assert all(status == 400 for status, _ in api.rejected)


async def test_previous_response_chain(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    await expect_400(
        http,
        "/responses",
        responses_body([user("x")], previous_response_id="resp_nope"),
        "Previous response with id 'resp_nope' not found.",
    )
    assert api.rejected[-1][1]["error"]["param"] == "previous_response_id"

    api.enqueue(Reply([CallItem("shell", {"command": ["ls"]}, "call_p")]))
    events = await responses_events(http, responses_body([user("list")]))
    first = events[-1]["response"]
    # The stored call is part of the chain: continuing without its output is invalid.
    await expect_400(
        http,
        "/responses",
        responses_body([user("more")], previous_response_id=first["id"]),
        "No tool output found for function call call_p.",
    )
    # Replaying stored items alongside previous_response_id duplicates them.
    await expect_400(
        http,
        "/responses",
        responses_body(
            [*first["output"], {"type": "function_call_output", "call_id": "call_p", "output": ""}],
            previous_response_id=first["id"],
        ),
        f"Duplicate item found with id {first['output'][0]['id']}. Remove duplicate items "
        "from your input and try again.",
    )
    output = {"type": "function_call_output", "call_id": "call_p", "output": "a.txt"}
    events = await responses_events(
        http, responses_body([output], previous_response_id=first["id"])
    )
    second = events[-1]["response"]
    assert second["previous_response_id"] == first["id"]
    assert second["output"][0]["content"][0]["text"] == "Tool output: a.txt"
    events = await responses_events(
        http, responses_body([user("and?")], previous_response_id=second["id"])
    )
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "You said: and?"


async def test_store_false_is_not_chainable(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    events = await responses_events(http, responses_body([user("x")], store=False))
    response = events[-1]["response"]
    await expect_400(
        http,
        "/responses",
        responses_body([user("y")], previous_response_id=response["id"]),
        f"Previous response with id '{response['id']}' not found.",
    )
    item_id = response["output"][0]["id"]
    await expect_400(
        http,
        "/responses",
        responses_body([user("x"), response["output"][0], user("y")], store=False),
        f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to "
        "false. Try again with `store` set to true, or remove this item from your input.",
    )


async def test_chat_tool_message_rules(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    def assistant(*ids: str) -> Json:
        calls = [
            {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in ids
        ]
        return {"role": "assistant", "content": None, "tool_calls": calls}

    def tool(call_id: str) -> Json:
        return {"role": "tool", "tool_call_id": call_id, "content": "ok"}

    missing = (
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
    )
    orphan = (
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
        "message with 'tool_calls'."
    )
    error = await expect_400(
        http, "/chat/completions", chat_body([user("x"), assistant("c1")]), missing + "c1"
    )
    assert error["error"]["param"] == "messages"
    await expect_400(
        http,
        "/chat/completions",
        chat_body([user("x"), assistant("c1", "c2"), tool("c2"), user("y")]),
        missing + "c1",
    )
    await expect_400(http, "/chat/completions", chat_body([user("x"), tool("c1")]), orphan)
    await expect_400(
        http,
        "/chat/completions",
        chat_body([user("x"), assistant("c1"), tool("c1"), tool("c1")]),
        orphan,
    )
    await expect_400(
        http,
        "/chat/completions",
        chat_body([user("x"), assistant("c1"), user("y"), tool("c1")]),
        missing + "c1",
    )
    await expect_400(
        http,
        "/chat/completions",
        chat_body([user("x")], tools=[{"type": "function", "name": "f"}]),
        "Missing required parameter: 'tools[0].function'.",
    )
    assert len(api.rejected) == 6
    chunks = await chat_chunks(
        http, chat_body([user("x"), assistant("c1", "c2"), tool("c2"), tool("c1")])
    )
    assert chat_text(chunks) == "Tool output: ok"


async def test_api_key_required() -> None:
    async with FakeModelAPI(api_key="sk-right-key-1234") as api:
        async with openai.AsyncOpenAI(
            base_url=api.base_url, api_key="sk-wrong-key-9999", max_retries=0
        ) as wrong:
            with pytest.raises(openai.AuthenticationError) as caught:
                await wrong.responses.create(model="m", input=[user("x")], stream=True)
        assert caught.value.status_code == 401
        assert caught.value.code == "invalid_api_key"
        async with httpx.AsyncClient() as http:
            response = await http.get(api.base_url + "/models")
            assert response.status_code == 401
        assert api.requests == []
        async with openai.AsyncOpenAI(base_url=api.base_url, api_key="sk-right-key-1234") as ok:
            stream = await ok.responses.create(model="m", input=[user("x")], stream=True)
            assert [e.type async for e in stream][-1] == "response.completed"


async def test_http_error_with_retry_after(api: FakeModelAPI, sdk: openai.AsyncOpenAI) -> None:
    api.enqueue(
        HttpError(429, "Rate limit reached", "requests", "rate_limit_exceeded", retry_after=1.5),
        HttpError(503, "Slow down", "server_error", retry_after=2),
    )
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk.responses.create(model="m", input=[user("x")], stream=True)
    assert caught.value.response.headers["retry-after"] == "1.5"
    assert caught.value.body == {
        "message": "Rate limit reached",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    with pytest.raises(openai.InternalServerError) as caught_503:
        await sdk.chat.completions.create(model="m", messages=[user("x")], stream=True)
    assert caught_503.value.status_code == 503
    assert caught_503.value.response.headers["retry-after"] == "2"
    assert len(api.requests) == 2
    assert api.rejected == []


# --------------------------------------------------------------------------- transport faults


async def test_cut_stream_is_a_transport_error(
    api: FakeModelAPI, sdk: openai.AsyncOpenAI, http: httpx.AsyncClient
) -> None:
    api.enqueue(CutStream(after_events=3))
    seen: list[str] = []
    stream = await sdk.responses.create(model="m", input=[user("hello")], stream=True)

    async def consume() -> None:
        async for event in stream:
            seen.append(event.type)

    with pytest.raises(openai.APIConnectionError):
        await consume()
    assert seen == ["response.created", "response.in_progress", "response.output_item.added"]

    api.enqueue(CutStream(after_events=1000))
    body = chat_body([user("hello")])
    received: list[bytes] = []

    async def read_chat() -> None:
        async with http.stream("POST", "/chat/completions", json=body) as response:
            async for chunk in response.aiter_bytes():
                received.append(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        await read_chat()
    raw = b"".join(received)
    assert b"[DONE]" not in raw
    assert b"finish_reason" in raw
    # The server is fine afterwards.
    chunks = await chat_chunks(http, chat_body([user("again")]))
    assert chat_text(chunks) == "You said: again"


async def test_stall_trips_read_timeout_then_recovers(
    api: FakeModelAPI, http: httpx.AsyncClient
) -> None:
    api.enqueue(Stall(5.0), Stall(0.2))
    timeout = httpx.Timeout(5.0, read=0.3)
    lines: list[str] = []

    async def consume() -> None:
        body = responses_body([user("x")])
        async with http.stream("POST", "/responses", json=body, timeout=timeout) as response:
            async for line in response.aiter_lines():
                lines.append(line)

    with pytest.raises(httpx.ReadTimeout):
        await consume()
    assert "event: response.created" in lines
    assert not any("in_progress" in line for line in lines if line.startswith("event:"))
    events = await responses_events(http, responses_body([user("late")]))
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "You said: late"


async def test_stream_many_deltas(http: httpx.AsyncClient) -> None:
    n = 50_000
    response = await http.post("/responses", json=responses_body([user(f"stream: {n}")]))
    frames = parse_sse(response.text)
    deltas = [d for name, d in frames if name == "response.output_text.delta"]
    assert len(deltas) == n
    EVENT_ADAPTER.validate_python(json.loads(deltas[-1]))
    last = json.loads(frames[-1][1])
    assert last["type"] == "response.completed"
    assert last["sequence_number"] == len(frames) - 1
    assert last["response"]["output"][0]["content"][0]["text"] == "x " * n

    chunks = await chat_chunks(http, chat_body([user(f"stream: {n}")]))
    assert chat_text(chunks) == "x " * n


async def test_slow_stream_can_be_interrupted_and_server_stops(
    api: FakeModelAPI, http: httpx.AsyncClient
) -> None:
    ticks = 0
    async with http.stream("POST", "/responses", json=responses_body([user("slow: 0.02")])) as r:
        async for line in r.aiter_lines():
            if '"delta":"tick "' in line:
                ticks += 1
                if ticks == 3:
                    break
    assert ticks == 3

    # A stream still in flight must not hold up stop().
    async def read_forever() -> None:
        async with http.stream("POST", "/chat/completions", json=chat_body([user("slow: 5")])) as r:
            async for _ in r.aiter_bytes():
                pass

    reader = asyncio.create_task(read_forever())
    await api.wait_for_requests(2)
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await api.stop()
    assert loop.time() - started < 1.5
    with pytest.raises(httpx.TransportError):
        await reader


async def test_wait_for_requests(api: FakeModelAPI, http: httpx.AsyncClient) -> None:
    with pytest.raises(TimeoutError):
        await api.wait_for_requests(1, timeout=0.05)
    task = asyncio.create_task(api.wait_for_requests(2, timeout=2.0))
    await chat_chunks(http, chat_body([user("a")]))
    assert not task.done()
    await responses_events(http, responses_body([user("b")]))
    await task
    assert [sorted(r) for r in api.requests] == [
        ["messages", "model", "stream"],
        ["input", "model", "stream"],
    ]


async def test_unknown_route_is_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/embeddings", json={})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/embeddings)"


def test_standalone_module_prints_address() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.fake_api", "--api-key", "k"]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("listening http://127.0.0.1:")
            base_url = line.split(" ", 1)[1]
            response = httpx.get(base_url + "/models", headers={"Authorization": "Bearer k"})
            assert response.json()["data"][0]["id"] == "fake-model"
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
