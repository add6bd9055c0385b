"""A model stream for core tests: scripted replies, and the strict API's input checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
)


def check_strict(items: list[dict[str, Any]]) -> None:
    calls: set[str] = set()
    answered: set[str] = set()
    for item in items:
        if item["type"] == "function_call":
            calls.add(item["call_id"])
        elif item["type"] == "function_call_output":
            if item["call_id"] not in calls:
                raise AssertionError(f"No tool call found for output {item['call_id']}")
            answered.add(item["call_id"])
    missing = calls - answered
    if missing:
        raise AssertionError(f"No tool output found for function call {sorted(missing)}")


def text_reply(text: str, delay_s: float = 0.0) -> list[Any]:
    return [("text", text, delay_s)]


def call_reply(command: str, call_id: str = "call_1") -> list[Any]:
    args = orjson.dumps({"command": ["bash", "-lc", command]}).decode()
    return [("call", call_id, args)]


@dataclass
class ScriptedModel:
    replies: list[list[Any] | ProviderError] = field(default_factory=list)
    requests: list[ModelRequest] = field(default_factory=list)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        check_strict(request.input)
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else text_reply("done")
        if isinstance(reply, ProviderError):
            raise reply
        for n, part in enumerate(reply):
            if part[0] == "text":
                _, text, delay = part
                item_id = f"msg_{len(self.requests)}_{n}"
                for word in text.split(" "):
                    if delay:
                        await asyncio.sleep(delay)
                    yield TextDelta(item_id, word + " ")
                yield ItemDone(
                    {
                        "id": item_id,
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text}],
                    }
                )
            elif part[0] == "call":
                _, call_id, args = part
                yield ItemDone(
                    {
                        "type": "function_call",
                        "call_id": call_id,
                        "name": "shell",
                        "arguments": args,
                    }
                )
        yield Completed("resp_1", {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5})
