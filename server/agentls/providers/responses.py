"""The OpenAI Responses API over HTTP/SSE: one streamed attempt per call to `stream`.

Works unchanged against api.openai.com and the local servers that speak `/v1/responses`.
Only `response.output_item.done` items are kept; deltas exist for the screen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import orjson
from httpx_sse import aconnect_sse

from agentls.config.settings import Settings
from agentls.providers.errors import http_error
from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ProviderError,
    TextDelta,
)

RETRYABLE_FAILURE_CODES = frozenset({"server_error", "rate_limit_exceeded", "overloaded"})


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.stream_idle_timeout_s,
        write=30.0,
        pool=settings.connect_timeout_s,
    )
    return httpx.AsyncClient(timeout=timeout, trust_env=False)


def request_headers(settings: Settings, env: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", **settings.extra_headers}
    key = settings.api_key(env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def usage_from(data: Any) -> dict[str, int]:
    if not isinstance(data, dict):
        return {}
    keys = ("input_tokens", "output_tokens", "total_tokens")
    return {k: int(data[k]) for k in keys if isinstance(data.get(k), int)}


def transport_error(exc: httpx.HTTPError, base_url: str, idle_s: float) -> ProviderError:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ProviderError(
            f"could not reach the model API at {base_url} ({exc.__class__.__name__}: {exc}); "
            "check OPENAI_BASE_URL and that the server is running",
            code="connection_error",
            retryable=True,
        )
    if isinstance(exc, httpx.ReadTimeout):
        return ProviderError(
            f"the model API sent nothing for {idle_s:g} s", code="timeout", retryable=True
        )
    return ProviderError(
        f"the connection to the model API broke mid-answer ({exc.__class__.__name__})",
        code="stream_cut",
        retryable=True,
    )


class ResponsesClient:
    """Speaks `POST {base_url}/responses` with `stream: true`."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self._env = env
        self._http = http or build_http_client(settings)
        self._url = settings.base_url.rstrip("/") + "/responses"

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
        settings = self.settings
        try:
            async with aconnect_sse(
                self._http,
                "POST",
                self._url,
                content=orjson.dumps(self.body(request)),
                headers={
                    **request_headers(settings, self._env),
                    "Content-Type": "application/json",
                },
            ) as source:
                response = source.response
                if response.status_code != 200:
                    body = await response.aread()
                    raise http_error(
                        response.status_code,
                        body,
                        response.headers.get("retry-after"),
                        key_env=settings.api_key_env,
                        base_url=settings.base_url,
                    )
                content_type = response.headers.get("content-type", "")
                if "text/event-stream" not in content_type:
                    raise ProviderError(
                        f"the model API answered with '{content_type or 'no content type'}' "
                        "instead of an event stream; check OPENAI_BASE_URL",
                        http_status=response.status_code,
                    )
                async for sse in source.aiter_sse():
                    event = self._decode(sse.data)
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
                        yield Completed(
                            body_response.get("id"), usage_from(body_response.get("usage"))
                        )
                        return
                    elif kind in ("response.failed", "response.incomplete", "error"):
                        raise self._failure(kind, event)
        except httpx.HTTPError as exc:
            raise transport_error(exc, settings.base_url, settings.stream_idle_timeout_s) from exc
        raise ProviderError(
            "the model API ended the stream before the response completed",
            code="stream_cut",
            retryable=True,
        )

    @staticmethod
    def _decode(data: str) -> dict[str, Any] | None:
        if not data or data == "[DONE]":
            return None
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(
                "the model API sent an event that is not JSON", code="bad_event", retryable=True
            ) from exc
        return event if isinstance(event, dict) else None

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

    async def aclose(self) -> None:
        await self._http.aclose()
