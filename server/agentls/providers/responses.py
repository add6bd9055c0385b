"""The OpenAI Responses API over HTTP/SSE: one streamed attempt per call to `stream`.

Works unchanged against api.openai.com and the local servers that speak `/v1/responses`.
Only `response.output_item.done` items are kept; deltas exist for the screen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
)
from agentls.providers.sse import StreamingClient, decode_event, stream_cut

RETRYABLE_FAILURE_CODES = frozenset({"server_error", "rate_limit_exceeded", "overloaded"})


def usage_from(data: Any) -> dict[str, int]:
    if not isinstance(data, dict):
        return {}
    keys = ("input_tokens", "output_tokens", "total_tokens")
    return {k: int(data[k]) for k in keys if isinstance(data.get(k), int)}


class ResponsesClient(StreamingClient):
    """Speaks `POST {base_url}/responses` with `stream: true`."""

    PATH = "/responses"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "input": request.input,
            "stream": True,
            "store": request.store,
        }
        if request.tools:
            body["tools"] = request.tools
            body["tool_choice"] = "auto"
        if request.instructions:
            body["instructions"] = request.instructions
        if request.previous_response_id:
            body["previous_response_id"] = request.previous_response_id
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        async with self.events(self.body(request)) as source:
            async for sse in source.aiter_sse():
                event = decode_event(sse.data)
                if event is None:
                    continue
                kind = event.get("type") or sse.event
                if kind == "response.output_text.delta":
                    yield TextDelta(str(event.get("item_id", "")), str(event["delta"]))
                elif kind == "response.output_item.done":
                    item = event.get("item")
                    if isinstance(item, dict):
                        yield ItemDone(item)
                elif kind == "response.completed":
                    body_response = event.get("response") or {}
                    yield Completed(body_response.get("id"), usage_from(body_response.get("usage")))
                    return
                elif kind in ("response.failed", "response.incomplete", "error"):
                    raise self._failure(kind, event)
        raise stream_cut()

    @staticmethod
    def _failure(kind: str, event: dict[str, Any]) -> ProviderError:
        response = event.get("response") if kind != "error" else None
        error: Any = (response or {}).get("error") if response else event
        if kind == "response.incomplete":
            details = (response or {}).get("incomplete_details") or {}
            reason = details.get("reason", "unknown reason")
            return ProviderError(
                f"the model stopped before finishing its answer ({reason})", code="incomplete"
            )
        message = "no details given"
        code = None
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            code = error.get("code")
        return ProviderError(
            f"the model API reported a failure: {message}",
            code=str(code) if code else None,
            retryable=code in RETRYABLE_FAILURE_CODES,
        )
