"""Chat Completions over HTTP/SSE, for the many servers that speak only this wire.

The history stays in Responses items (that is what the rollout keeps); it is converted to
messages per request. An assistant message with `tool_calls` is always followed at once by
one `tool` message per call, whatever order the items were recorded in: that is the rule
the strict services enforce.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agentls.history.items import assistant_text, user_text
from agentls.history.repair import ABORTED_OUTPUT
from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
)
from agentls.providers.sse import StreamingClient, decode_event, stream_cut

Message = dict[str, Any]


def _tool_content(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
    return str(output)


def to_messages(items: list[dict[str, Any]], instructions: str | None) -> list[Message]:
    outputs = {
        str(i.get("call_id")): _tool_content(i.get("output"))
        for i in items
        if i.get("type") == "function_call_output"
    }
    messages: list[Message] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    pending_text: str | None = None
    calls: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal pending_text
        if calls:
            message: Message = {"role": "assistant", "content": pending_text, "tool_calls": []}
            for call in calls:
                call_id = str(call.get("call_id"))
                message["tool_calls"].append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": str(call.get("name", "")),
                            "arguments": str(call.get("arguments", "")),
                        },
                    }
                )
            messages.append(message)
            for call in calls:
                call_id = str(call.get("call_id"))
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "content": outputs.get(call_id, ABORTED_OUTPUT),
                    }
                )
            calls.clear()
        elif pending_text is not None:
            messages.append({"role": "assistant", "content": pending_text})
        pending_text = None

    seen_calls: set[str] = set()
    for item in items:
        kind = item.get("type")
        if kind == "function_call":
            call_id = str(item.get("call_id"))
            if call_id not in seen_calls:
                seen_calls.add(call_id)
                calls.append(item)
            continue
        if kind == "function_call_output" or kind == "reasoning":
            continue
        text = assistant_text(item)
        if text is not None:
            if calls:
                flush()
            pending_text = text if pending_text is None else pending_text + text
            continue
        flush()
        user = user_text(item)
        if user is not None:
            messages.append({"role": "user", "content": user})
        elif item.get("type") == "message" and item.get("role") in ("system", "developer"):
            content = item.get("content")
            messages.append({"role": "system", "content": _tool_content(content)})
    flush()
    return messages


def to_chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": tool.get("parameters", {"type": "object"}),
            },
        }
        for tool in tools
        if tool.get("type") == "function"
    ]


@dataclass
class _Assembly:
    """Pieces of one streamed answer, keyed as the wire keys them."""

    message_id: str = ""
    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finished: bool = False
    usage: dict[str, int] = field(default_factory=dict)

    def items(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.text:
            out.append(
                {
                    "id": self.message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "".join(self.text)}],
                }
            )
        for index in sorted(self.calls):
            call = self.calls[index]
            out.append(
                {
                    "type": "function_call",
                    "call_id": call["id"] or f"call_{self.message_id}_{index}",
                    "name": call["name"],
                    "arguments": "".join(call["arguments"]),
                }
            )
        return out


class ChatCompletionsClient(StreamingClient):
    PATH = "/chat/completions"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": to_messages(request.input, request.instructions),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        tools = to_chat_tools(request.tools)
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        answer = _Assembly()
        done = False
        async with self.events(self.body(request)) as source:
            async for sse in source.aiter_sse():
                if sse.data == "[DONE]":
                    done = True
                    break
                for delta in self._absorb(answer, sse.data):
                    yield delta
        if not (done or answer.finished):
            raise stream_cut()
        for item in answer.items():
            yield ItemDone(item)
        yield Completed(answer.message_id or None, answer.usage)

    @staticmethod
    def _absorb(answer: _Assembly, data: str) -> list[TextDelta]:
        chunk = decode_event(data)
        if chunk is None:
            return []
        error = chunk.get("error")
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            raise ProviderError(
                f"the model API reported a failure: {error.get('message', 'no details given')}",
                code=str(code) if code else None,
                retryable=code in ("server_error", "rate_limit_exceeded"),
            )
        answer.message_id = answer.message_id or str(chunk.get("id", ""))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
            answer.usage = {
                "input_tokens": prompt,
                "output_tokens": completion,
                "total_tokens": int(usage.get("total_tokens") or prompt + completion),
            }
        deltas: list[TextDelta] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                answer.text.append(content)
                deltas.append(TextDelta(answer.message_id, content))
            for piece in delta.get("tool_calls") or []:
                index = int(piece.get("index", 0))
                call = answer.calls.setdefault(index, {"id": "", "name": "", "arguments": []})
                if piece.get("id"):
                    call["id"] = piece["id"]
                function = piece.get("function") or {}
                if function.get("name"):
                    call["name"] = function["name"]
                if function.get("arguments"):
                    call["arguments"].append(function["arguments"])
            if choice.get("finish_reason"):
                answer.finished = True
        return deltas
