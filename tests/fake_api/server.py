"""A fake OpenAI-compatible model API that is as picky as the real service.

Tests of the agent loop need a model that is deterministic, fast and scriptable, but a lenient
fake hides the protocol bugs (orphaned tool calls, unanswered tool outputs, replayed items) that
the real service rejects with a 400. So this server validates requests the way the service does,
answers with the service's exact error shapes, and streams events whose shapes validate against
the official SDK types.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from .replies import (
    CallItem,
    CutStream,
    HttpError,
    Malformed,
    Reply,
    Scripted,
    SlowStart,
    Stall,
    TextItem,
    new_id,
)

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_STREAM_DELTAS = 1_000_000
SLOW_TOTAL_S = 60.0
TOOL_OUTPUT_PREVIEW = 200
BATCH_EVENTS = 2048

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_RESPONSES_ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
_RESPONSES_ROLES = ("user", "assistant", "system", "developer")
_CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_ASSISTANT_PARTS = ("output_text", "refusal")
_INPUT_PARTS = ("input_text", "input_image", "input_file")
_NOT_COUNTED_KEYS = frozenset(
    {"id", "type", "role", "call_id", "status", "name", "tool_call_id", "annotations"}
)

_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
_CHAT_MISSING_TOOL_MESSAGES = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to "
    "each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)
_CHAT_ORPHAN_TOOL_MESSAGE = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)
_NOT_PERSISTED = (
    "Item with id '{id}' not found. Items are not persisted when `store` is set to false. "
    "Try again with `store` set to true, or remove this item from your input."
)


class _InvalidRequestError(Exception):
    """A request the real service would refuse; carries the service's error fields."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str | None = None,
        *,
        status: int = 400,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {
            "error": {"message": message, "type": type_, "param": param, "code": code}
        }


class _AbortStreamError(Exception):
    """Unwinds a stream that must end without its terminal event (cut, shutdown)."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _type_name(value: Any) -> str:
    """Name JSON types the way the service's type errors do."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _supported(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _invalid_value(value: Any, allowed: tuple[str, ...], param: str) -> _InvalidRequestError:
    return _InvalidRequestError(
        f"Invalid value: '{value}'. Supported values are: {_supported(allowed)}.",
        param,
        "invalid_value",
    )


def _missing(param: str) -> _InvalidRequestError:
    return _InvalidRequestError(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def _invalid_type(param: str, expected: str, value: Any) -> _InvalidRequestError:
    return _InvalidRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param,
        "invalid_type",
    )


def _require_str(obj: Json, key: str, param: str) -> str:
    if key not in obj or obj[key] is None:
        raise _missing(param)
    value = obj[key]
    if not isinstance(value, str):
        raise _invalid_type(param, "a string", value)
    return value


def _content_text(content: Any) -> str:
    """Flatten string-or-parts content, since both shapes are legal on both APIs."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def _count_words(value: Any) -> int:
    """A crude token count: good enough for tests that only check usage is plausible."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_count_words(v) for v in value)
    if isinstance(value, dict):
        return sum(_count_words(v) for k, v in value.items() if k not in _NOT_COUNTED_KEYS)
    return 0


def _split_arguments(arguments: str) -> list[str]:
    """Stream arguments in a few uneven pieces so clients must really concatenate deltas."""
    if not arguments:
        return []
    n = min(3, len(arguments))
    step = -(-len(arguments) // n)
    return [arguments[i : i + step] for i in range(0, len(arguments), step)]


def _echo_tool(tool: Json) -> Json:
    """Function tools come back with the defaults filled in, as the service reports them."""
    if tool.get("type") != "function":
        return tool
    return {"description": None, "parameters": None, "strict": True, **tool}


def _item_type(item: Json) -> Any:
    """Role-only items are messages: the service accepts the 'easy' input message shape."""
    if "type" not in item and "role" in item:
        return "message"
    return item.get("type")


# --------------------------------------------------------------------------- default replies


def _tool_output_reply(output: str) -> Reply:
    return Reply([TextItem("Tool output: " + output[:TOOL_OUTPUT_PREVIEW])])


def _rule_reply(text: str) -> Reply:
    """Turn the user's words into a reply, so end-to-end tests can steer the fake in-band."""
    if text.startswith("run: "):
        return Reply([CallItem("shell", {"command": ["bash", "-lc", text[len("run: ") :]]})])
    if text.startswith("stream:"):
        words = text[len("stream:") :].split()
        if words and words[0].isdigit():
            n = min(int(words[0]), MAX_STREAM_DELTAS)
            return Reply([TextItem("x " * n, chunks=["x "] * n)])
    if text.startswith("slow:"):
        words = text[len("slow:") :].split()
        try:
            interval = max(float(words[0]), 0.001) if words else None
        except ValueError:
            interval = None
        if interval is not None:
            n = max(1, min(int(SLOW_TOTAL_S / interval), MAX_STREAM_DELTAS))
            return Reply([TextItem("tick " * n, delay_s=interval, chunks=["tick "] * n)])
    return Reply([TextItem("You said: " + text)])


def _responses_default(history: list[Json]) -> Reply:
    if history and _item_type(history[-1]) == "function_call_output":
        return _tool_output_reply(_content_text(history[-1].get("output")))
    for item in reversed(history):
        if _item_type(item) == "message" and item.get("role") == "user":
            return _rule_reply(_content_text(item.get("content")))
    return _rule_reply("")


def _chat_default(messages: list[Json]) -> Reply:
    if messages and messages[-1].get("role") == "tool":
        return _tool_output_reply(_content_text(messages[-1].get("content")))
    for message in reversed(messages):
        if message.get("role") == "user":
            return _rule_reply(_content_text(message.get("content")))
    return _rule_reply("")


def _reply_output_words(reply: Reply) -> int:
    total = 0
    for item in reply.items:
        if isinstance(item, TextItem):
            total += len(item.full_text().split())
        else:
            total += len(item.arguments_json().split())
    return total


def _usage_numbers(reply: Reply, input_words: int) -> tuple[int, int, int]:
    """(input, output, total) tokens: counted words, overridden by the script's `usage`."""
    given = reply.usage or {}
    inp = int(given.get("input_tokens", given.get("prompt_tokens", input_words)))
    out = int(given.get("output_tokens", given.get("completion_tokens", 0)))
    if "output_tokens" not in given and "completion_tokens" not in given:
        out = _reply_output_words(reply)
    total = int(given.get("total_tokens", inp + out))
    return inp, out, total


# --------------------------------------------------------------------------- streaming


class _Sink:
    """Writes SSE events, applying the scripted transport misbehaviour (cuts and stalls)."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        closing: asyncio.Event,
        cut_after: int | None,
        stall_s: float | None,
        garbage: bytes | None = None,
    ) -> None:
        self.garbage = garbage
        self.request = request
        self.response = response
        self.closing = closing
        self.cut_after = cut_after
        self.stall_s = stall_s
        self.count = 0

    async def send(self, events: list[bytes]) -> None:
        if self.closing.is_set():
            raise _AbortStreamError
        if self.cut_after is not None:
            room = self.cut_after - self.count
            if room <= len(events):
                if room > 0:
                    await self.response.write(b"".join(events[:room]))
                    self.count += room
                if self.garbage is not None:
                    await self.response.write(self.garbage)
                raise _AbortStreamError
        await self.response.write(b"".join(events))
        self.count += len(events)
        if self.stall_s is not None:
            seconds, self.stall_s = self.stall_s, None
            await self.pause(seconds)

    async def finish(self, events: list[bytes]) -> None:
        """Send the terminal events, unless a cut is scripted: a cut never ends cleanly."""
        if self.cut_after is not None:
            if self.garbage is not None:
                await self.response.write(self.garbage)
            raise _AbortStreamError
        await self.send(events)

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up for server shutdown so `stop()` never waits on a slow stream."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(self.closing.wait(), seconds)
        except TimeoutError:
            return
        raise _AbortStreamError

    def cut(self) -> None:
        """Close the socket mid-body: buffered events are flushed, but no final chunk follows."""
        transport = self.request.transport
        if transport is not None:
            transport.close()


class _ResponsesStream:
    """Renders a Reply as Responses API events with the service's field layout."""

    def __init__(self, body: Json, history: list[Json], reply: Reply) -> None:
        self.body = body
        self.reply = reply
        self.history = history
        self.id = new_id("resp")
        self.created_at = int(time.time())
        self.seq = 0
        self.output: list[Json] = []

    def event(self, type_: str, fields: Json) -> bytes:
        payload = {"type": type_, **fields, "sequence_number": self.seq}
        self.seq += 1
        return f"event: {type_}\ndata: {_dumps(payload)}\n\n".encode()

    def response(
        self, status: str, *, usage: Json | None = None, error: Json | None = None
    ) -> Json:
        body = self.body
        given = body.get("reasoning")
        reasoning: Json = given if isinstance(given, dict) else {}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": body["model"],
            "output": list(self.output),
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": None,
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [_echo_tool(tool) for tool in body.get("tools") or []],
            "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": usage,
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    def usage(self) -> Json:
        inp, out, total = _usage_numbers(self.reply, _count_words(self.history))
        return {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": total,
        }

    async def run(self, sink: _Sink) -> None:
        # `created` goes out alone so a scripted stall happens right after it.
        await sink.send(
            [self.event("response.created", {"response": self.response("in_progress")})]
        )
        await sink.send(
            [self.event("response.in_progress", {"response": self.response("in_progress")})]
        )
        for item in self.reply.items:
            if isinstance(item, TextItem):
                await self._text(sink, item)
            else:
                await self._call(sink, item)
        if self.reply.fail_message is not None:
            error = {"code": "server_error", "message": self.reply.fail_message}
            final = self.event(
                "response.failed", {"response": self.response("failed", error=error)}
            )
        else:
            done = self.response("completed", usage=self.usage())
            final = self.event("response.completed", {"response": done})
        await sink.finish([final])

    async def _text(self, sink: _Sink, item: TextItem) -> None:
        index = len(self.output)
        item_id = new_id("msg")
        message: Json = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        await sink.send(
            [
                self.event("response.output_item.added", {"output_index": index, "item": message}),
                self.event("response.content_part.added", {**where, "part": empty_part}),
            ]
        )
        pieces = item.pieces()
        if item.delay_s > 0:
            for piece in pieces:
                await sink.pause(item.delay_s)
                fields = {**where, "delta": piece, "logprobs": []}
                await sink.send([self.event("response.output_text.delta", fields)])
        else:
            await self._fast_deltas(sink, item_id, index, pieces)
        text = item.full_text()
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        done_message = {**message, "status": "completed", "content": [part]}
        self.output.append(done_message)
        await sink.send(
            [
                self.event("response.output_text.done", {**where, "text": text, "logprobs": []}),
                self.event("response.content_part.done", {**where, "part": part}),
                self.event(
                    "response.output_item.done", {"output_index": index, "item": done_message}
                ),
            ]
        )

    async def _fast_deltas(self, sink: _Sink, item_id: str, index: int, pieces: list[str]) -> None:
        """Pre-render deltas from a template: a million json.dumps calls would dominate."""
        head_bytes = (
            "event: response.output_text.delta\ndata: "
            f'{{"type":"response.output_text.delta","item_id":"{item_id}",'
            f'"output_index":{index},"content_index":0,"delta":'
        ).encode()
        mid = b',"logprobs":[],"sequence_number":'
        tail = b"}\n\n"
        encoded: dict[str, bytes] = {}
        batch: list[bytes] = []
        for piece in pieces:
            delta = encoded.get(piece)
            if delta is None:
                delta = encoded[piece] = _dumps(piece).encode()
            batch.append(b"%b%b%b%d%b" % (head_bytes, delta, mid, self.seq, tail))
            self.seq += 1
            if len(batch) >= BATCH_EVENTS:
                await sink.send(batch)
                batch = []
                await asyncio.sleep(0)
        if batch:
            await sink.send(batch)

    async def _call(self, sink: _Sink, item: CallItem) -> None:
        index = len(self.output)
        item_id = new_id("fc")
        arguments = item.arguments_json()
        call: Json = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": item.call_id,
            "name": item.name,
        }
        events = [self.event("response.output_item.added", {"output_index": index, "item": call})]
        where = {"item_id": item_id, "output_index": index}
        for piece in _split_arguments(arguments):
            events.append(
                self.event("response.function_call_arguments.delta", {**where, "delta": piece})
            )
        done_call = {**call, "status": "completed", "arguments": arguments}
        self.output.append(done_call)
        events.append(
            self.event(
                "response.function_call_arguments.done",
                {**where, "name": item.name, "arguments": arguments},
            )
        )
        events.append(
            self.event("response.output_item.done", {"output_index": index, "item": done_call})
        )
        await sink.send(events)


class _ChatStream:
    """Renders a Reply as Chat Completions chunks, as the service streams them."""

    def __init__(self, body: Json, messages: list[Json], reply: Reply) -> None:
        self.body = body
        self.messages = messages
        self.reply = reply
        self.id = new_id("chatcmpl").replace("chatcmpl_", "chatcmpl-")
        self.created = int(time.time())
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def envelope(self) -> Json:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body["model"],
            "service_tier": "default",
            "system_fingerprint": None,
        }

    def chunk(self, delta: Json, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        payload = {**self.envelope(), "choices": [choice]}
        if self.include_usage:
            payload["usage"] = None
        return f"data: {_dumps(payload)}\n\n".encode()

    async def run(self, sink: _Sink) -> None:
        first_is_text = bool(self.reply.items) and isinstance(self.reply.items[0], TextItem)
        role = {"role": "assistant", "content": "" if first_is_text else None, "refusal": None}
        await sink.send([self.chunk(role)])
        tool_index = 0
        for item in self.reply.items:
            if isinstance(item, TextItem):
                await self._text(sink, item)
            else:
                await self._call(sink, item, tool_index)
                tool_index += 1
        if self.reply.fail_message is not None:
            error = {
                "message": self.reply.fail_message,
                "type": "server_error",
                "param": None,
                "code": None,
            }
            await sink.finish([f"data: {_dumps({'error': error})}\n\n".encode()])
            return
        finish = "tool_calls" if tool_index else "stop"
        terminal = [self.chunk({}, finish)]
        if self.include_usage:
            inp, out, total = _usage_numbers(self.reply, _count_words(self.messages))
            usage = {
                "prompt_tokens": inp,
                "completion_tokens": out,
                "total_tokens": total,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            }
            payload = {**self.envelope(), "choices": [], "usage": usage}
            terminal.append(f"data: {_dumps(payload)}\n\n".encode())
        terminal.append(b"data: [DONE]\n\n")
        await sink.finish(terminal)

    async def _text(self, sink: _Sink, item: TextItem) -> None:
        pieces = item.pieces()
        if item.delay_s > 0:
            for piece in pieces:
                await sink.pause(item.delay_s)
                await sink.send([self.chunk({"content": piece})])
            return
        # Everything but the content is constant, so render the frame once.
        marker = "\x00CONTENT\x00"
        frame = self.chunk({"content": marker}).decode()
        head, tail = (s.encode() for s in frame.split(_dumps(marker), 1))
        encoded: dict[str, bytes] = {}
        batch: list[bytes] = []
        for piece in pieces:
            delta = encoded.get(piece)
            if delta is None:
                delta = encoded[piece] = _dumps(piece).encode()
            batch.append(head + delta + tail)
            if len(batch) >= BATCH_EVENTS:
                await sink.send(batch)
                batch = []
                await asyncio.sleep(0)
        if batch:
            await sink.send(batch)

    async def _call(self, sink: _Sink, item: CallItem, index: int) -> None:
        start = {
            "index": index,
            "id": item.call_id,
            "type": "function",
            "function": {"name": item.name, "arguments": ""},
        }
        events = [self.chunk({"tool_calls": [start]})]
        for piece in _split_arguments(item.arguments_json()):
            events.append(
                self.chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
        await sink.send(events)


# --------------------------------------------------------------------------- the server


class FakeModelAPI:
    """An in-process fake of the OpenAI Responses and Chat Completions streaming endpoints.

    Runs on the caller's event loop so tests can script replies and inspect requests without
    threads. `port` is only for standalone use (`python -m tests.fake_api`); tests want 0.
    """

    def __init__(self, *, api_key: str | None = None, port: int = 0) -> None:
        self.api_key = api_key
        self.requests: list[Json] = []
        self.rejected: list[tuple[int, Json]] = []
        self._port = port
        self._queue: deque[Scripted] = deque()
        self._stored: dict[str, list[Json]] = {}
        self._unstored_ids: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = asyncio.Event()
        self._arrivals = asyncio.Condition()

    # ----------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeModelAPI already started")
        self._closing = asyncio.Event()
        self._arrivals = asyncio.Condition()
        app = web.Application(middlewares=[self._auth_middleware])
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self._base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeModelAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeModelAPI is not started")
        return self._base_url

    # ----------------------------------------------------------------------- scripting

    def enqueue(self, *replies: Scripted) -> None:
        for reply in replies:
            if not isinstance(reply, Reply | HttpError | CutStream | Stall | SlowStart | Malformed):
                raise TypeError(f"cannot enqueue {reply!r}")
            self._queue.append(reply)

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> None:
        try:
            async with asyncio.timeout(timeout), self._arrivals:
                await self._arrivals.wait_for(lambda: len(self.requests) >= n)
        except TimeoutError:
            raise TimeoutError(
                f"expected {n} requests within {timeout}s, got {len(self.requests)}"
            ) from None

    # ----------------------------------------------------------------------- plumbing

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.api_key is None:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {self.api_key}":
            return await handler(request)
        if not header.startswith("Bearer ") or not header[len("Bearer ") :].strip():
            error = _InvalidRequestError(_NO_KEY, None, None, status=401)
        else:
            key = header[len("Bearer ") :].strip()
            masked = key[:3] + "*" * (len(key) - 7) + key[-4:] if len(key) > 8 else "*" * len(key)
            message = (
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            error = _InvalidRequestError(message, None, "invalid_api_key", status=401)
        return self._error_response(error.status, error.body)

    def _error_response(
        self, status: int, body: Json, headers: dict[str, str] | None = None
    ) -> web.Response:
        all_headers = {"x-request-id": new_id("req"), **(headers or {})}
        return web.json_response(body, status=status, headers=all_headers)

    def _reject(self, error: _InvalidRequestError) -> web.Response:
        self.rejected.append((error.status, error.body))
        return self._error_response(error.status, error.body)

    async def _read_body(self, request: web.Request) -> Json:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _InvalidRequestError(_BAD_JSON) from None
        if not isinstance(body, dict):
            raise _InvalidRequestError(
                f"Invalid type for body: expected an object, but got {_type_name(body)} instead.",
                None,
                "invalid_type",
            )
        self.requests.append(body)
        async with self._arrivals:
            self._arrivals.notify_all()
        return body

    def _next_script(self) -> Scripted | None:
        return self._queue.popleft() if self._queue else None

    def _http_error(self, error: HttpError) -> web.Response:
        body = {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": None,
                "code": error.code,
            }
        }
        headers: dict[str, str] = {}
        if error.retry_after is not None:
            seconds = float(error.retry_after)
            headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
        return self._error_response(error.status, body, headers)

    async def _stream(
        self,
        request: web.Request,
        script: Scripted | None,
        render: Callable[[Reply], _ResponsesStream | _ChatStream],
        default: Callable[[], Reply],
    ) -> web.StreamResponse:
        if isinstance(script, HttpError):
            return self._http_error(script)
        reply = script if isinstance(script, Reply) else default()
        cut_after = script.after_events if isinstance(script, CutStream | Malformed) else None
        stall_s = script.seconds if isinstance(script, Stall) else None
        garbage = script.garbage if isinstance(script, Malformed) else None
        if isinstance(script, SlowStart):
            await asyncio.sleep(script.seconds)
        stream = render(reply)
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": new_id("req"),
            },
        )
        await response.prepare(request)
        sink = _Sink(request, response, self._closing, cut_after, stall_s, garbage)
        try:
            await stream.run(sink)
        except _AbortStreamError:
            sink.cut()
        except ConnectionResetError:
            # The client hung up mid-stream (e.g. the user interrupted); nothing left to do.
            sink.cut()
        else:
            if isinstance(stream, _ResponsesStream):
                self._remember(stream)
        return response

    def _remember(self, stream: _ResponsesStream) -> None:
        """Keep what `previous_response_id` would resolve to, as the service does with store."""
        if stream.body.get("store", True) is False:
            self._unstored_ids.update(item["id"] for item in stream.output)
            return
        if stream.reply.fail_message is None:
            self._stored[stream.id] = [*stream.history, *stream.output]

    # ----------------------------------------------------------------------- endpoints

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._read_body(request)
            history = self._validate_responses(body)
        except _InvalidRequestError as error:
            return self._reject(error)
        return await self._stream(
            request,
            self._next_script(),
            lambda reply: _ResponsesStream(body, history, reply),
            lambda: _responses_default(history),
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._read_body(request)
            messages = self._validate_chat(body)
        except _InvalidRequestError as error:
            return self._reject(error)
        return await self._stream(
            request,
            self._next_script(),
            lambda reply: _ChatStream(body, messages, reply),
            lambda: _chat_default(messages),
        )

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": "fake-model", "object": "model", "created": 0, "owned_by": "agentls-tests"}
        return web.json_response({"object": "list", "data": [model]})

    async def _not_found(self, request: web.Request) -> web.Response:
        error = {
            "message": f"Invalid URL ({request.method} {request.path})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        return self._error_response(404, {"error": error})

    # ----------------------------------------------------------------------- validation

    def _validate_common(self, body: Json, list_key: str) -> list[Any]:
        _require_str(body, "model", "model")
        if body.get("stream") is not True:
            raise _InvalidRequestError(
                "This fake model API only streams: set 'stream' to true.",
                "stream",
                "unsupported_value",
            )
        if list_key not in body or body[list_key] is None:
            raise _missing(list_key)
        value = body[list_key]
        if isinstance(value, str) and list_key == "input":
            return [{"role": "user", "content": value}]
        if not isinstance(value, list):
            raise _invalid_type(list_key, "an array", value)
        return value

    def _validate_responses(self, body: Json) -> list[Json]:
        """Return the full conversation (stored chain + this input) after service-like checks."""
        items = self._validate_common(body, "input")
        self._validate_response_tools(body.get("tools"))
        for i, item in enumerate(items):
            self._validate_response_item(item, f"input[{i}]")
        history: list[Json] = []
        previous = body.get("previous_response_id")
        if previous is not None:
            if not isinstance(previous, str) or previous not in self._stored:
                raise _InvalidRequestError(
                    f"Previous response with id '{previous}' not found.",
                    "previous_response_id",
                    "previous_response_not_found",
                )
            history = list(self._stored[previous])
        history.extend(items)
        seen_ids: set[str] = set()
        for item in history:
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            if item_id in seen_ids:
                raise _InvalidRequestError(
                    f"Duplicate item found with id {item_id}. Remove duplicate items from your "
                    "input and try again.",
                    "input",
                )
            seen_ids.add(item_id)
        for item in items:
            item_id = item.get("id")
            if isinstance(item_id, str) and item_id in self._unstored_ids:
                raise _InvalidRequestError(_NOT_PERSISTED.format(id=item_id), "input")
        self._check_call_pairs(history)
        return history

    def _validate_response_tools(self, tools: Any) -> None:
        if tools is None:
            return
        if not isinstance(tools, list):
            raise _invalid_type("tools", "an array", tools)
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _invalid_type(f"tools[{i}]", "an object", tool)
            if tool.get("type") == "function":
                # Catches Chat-style {"type": "function", "function": {...}} sent here.
                name = _require_str(tool, "name", f"tools[{i}].name")
                _check_tool_name(name, f"tools[{i}].name")

    def _validate_response_item(self, item: Any, where: str) -> None:
        if not isinstance(item, dict):
            raise _invalid_type(where, "an object", item)
        kind = _item_type(item)
        if kind not in _RESPONSES_ITEM_TYPES:
            raise _invalid_value(kind, _RESPONSES_ITEM_TYPES, f"{where}.type")
        if kind == "message":
            role = item.get("role")
            if role is None:
                raise _missing(f"{where}.role")
            if role not in _RESPONSES_ROLES:
                raise _invalid_value(
                    role, ("assistant", "system", "developer", "user"), f"{where}.role"
                )
            if "content" not in item or item["content"] is None:
                raise _missing(f"{where}.content")
            content = item["content"]
            if isinstance(content, list):
                allowed = _ASSISTANT_PARTS if role == "assistant" else _INPUT_PARTS
                for j, part in enumerate(content):
                    if not isinstance(part, dict):
                        raise _invalid_type(f"{where}.content[{j}]", "an object", part)
                    if part.get("type") not in allowed:
                        raise _invalid_value(part.get("type"), allowed, f"{where}.content[{j}]")
            elif not isinstance(content, str):
                raise _invalid_type(
                    f"{where}.content", "one of a string or array of input content", content
                )
        elif kind == "function_call":
            _require_str(item, "call_id", f"{where}.call_id")
            _require_str(item, "name", f"{where}.name")
            _require_str(item, "arguments", f"{where}.arguments")
        elif kind == "function_call_output":
            _require_str(item, "call_id", f"{where}.call_id")
            if "output" not in item or item["output"] is None:
                raise _missing(f"{where}.output")
            if not isinstance(item["output"], str | list):
                raise _invalid_type(f"{where}.output", "a string", item["output"])

    @staticmethod
    def _check_call_pairs(history: list[Json]) -> None:
        """Every call needs a later output and every output an earlier call, as on the service."""
        calls: list[str] = []
        answered: set[str] = set()
        for item in history:
            kind = _item_type(item)
            if kind == "function_call":
                calls.append(item["call_id"])
            elif kind == "function_call_output":
                call_id = item["call_id"]
                if call_id not in calls:
                    raise _InvalidRequestError(
                        f"No tool call found for function call output with call_id {call_id}.",
                        "input",
                    )
                answered.add(call_id)
        for call_id in calls:
            if call_id not in answered:
                raise _InvalidRequestError(
                    f"No tool output found for function call {call_id}.", "input"
                )

    def _validate_chat(self, body: Json) -> list[Json]:
        messages = self._validate_common(body, "messages")
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise _invalid_type("tools", "an array", tools)
            for i, tool in enumerate(tools):
                if not isinstance(tool, dict):
                    raise _invalid_type(f"tools[{i}]", "an object", tool)
                if tool.get("type", "function") == "function":
                    # Catches Responses-style flat tools sent to Chat Completions.
                    function = tool.get("function")
                    if not isinstance(function, dict):
                        raise _missing(f"tools[{i}].function")
                    name = _require_str(function, "name", f"tools[{i}].function.name")
                    _check_tool_name(name, f"tools[{i}].function.name")
        for i, message in enumerate(messages):
            self._validate_chat_message(message, f"messages[{i}]")
        i = 0
        while i < len(messages):
            message = messages[i]
            if message["role"] == "tool":
                raise _InvalidRequestError(_CHAT_ORPHAN_TOOL_MESSAGE, f"messages.[{i}].role")
            i += 1
            calls = message.get("tool_calls") if message["role"] == "assistant" else None
            if not calls:
                continue
            pending = [call["id"] for call in calls]
            while i < len(messages) and messages[i]["role"] == "tool":
                tool_call_id = messages[i]["tool_call_id"]
                if tool_call_id not in pending:
                    raise _InvalidRequestError(_CHAT_ORPHAN_TOOL_MESSAGE, f"messages.[{i}].role")
                pending.remove(tool_call_id)
                i += 1
            if pending:
                raise _InvalidRequestError(
                    _CHAT_MISSING_TOOL_MESSAGES.format(ids=", ".join(pending)), "messages"
                )
        return messages

    def _validate_chat_message(self, message: Any, where: str) -> None:
        if not isinstance(message, dict):
            raise _invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise _missing(f"{where}.role")
        if role not in _CHAT_ROLES:
            raise _invalid_value(role, _CHAT_ROLES, f"{where}.role")
        content = message.get("content")
        if role in ("system", "developer", "user", "tool"):
            if content is None:
                raise _InvalidRequestError(
                    "Invalid value for 'content': expected a string, got null.",
                    f"{where}.content",
                    "invalid_value",
                )
            if not isinstance(content, str | list):
                raise _invalid_type(f"{where}.content", "one of a string or array", content)
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _InvalidRequestError(
                "Missing parameter 'tool_call_id': messages with role 'tool' must have a "
                "'tool_call_id'.",
                f"{where}.tool_call_id",
                "missing_required_parameter",
            )
        if role == "assistant":
            calls = message.get("tool_calls")
            if calls is None:
                return
            if not isinstance(calls, list):
                raise _invalid_type(f"{where}.tool_calls", "an array", calls)
            for j, call in enumerate(calls):
                at = f"{where}.tool_calls[{j}]"
                if not isinstance(call, dict):
                    raise _invalid_type(at, "an object", call)
                _require_str(call, "id", f"{at}.id")
                function = call.get("function")
                if not isinstance(function, dict):
                    raise _missing(f"{at}.function")
                _require_str(function, "name", f"{at}.function.name")
                _require_str(function, "arguments", f"{at}.function.arguments")


def _check_tool_name(name: str, param: str) -> None:
    if not _TOOL_NAME.match(name):
        raise _InvalidRequestError(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'.",
            param,
            "invalid_value",
        )
