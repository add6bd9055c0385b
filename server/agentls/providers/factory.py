"""Which model client a configuration means, and what to tell the user about it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agentls.config.settings import Settings, WireApi
from agentls.providers.events import ModelEvent, ModelRequest, ProviderError
from agentls.providers.local import (
    INSTALL_HINT,
    EmbeddedServer,
    default_model_path,
    runtime_available,
)

ModelStream = Callable[[ModelRequest], AsyncIterator[ModelEvent]]

NO_MODEL_MESSAGE = (
    "no model API is configured: set OPENAI_API_KEY to use api.openai.com, or "
    "OPENAI_BASE_URL to use a local OpenAI-compatible server (Ollama, vLLM, llama.cpp)"
)


class WireClient(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]: ...

    async def aclose(self) -> None: ...


def wire_client(settings: Settings, env: Mapping[str, str] | None) -> WireClient:
    if settings.wire_api is WireApi.CHAT:
        from agentls.providers.chat import ChatCompletionsClient

        return ChatCompletionsClient(settings, env=env)
    from agentls.providers.responses import ResponsesClient

    return ResponsesClient(settings, env=env)


@dataclass
class Provider:
    """A ready-to-use model stream plus what the editor should show about it."""

    stream: ModelStream
    info: dict[str, Any]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    embedded: EmbeddedServer | None = None

    async def aclose(self) -> None:
        for close in self.closers:
            await close()
        self.closers.clear()


def _unconfigured(message: str) -> ModelStream:
    async def stream(_request: ModelRequest) -> AsyncIterator[ModelEvent]:
        raise ProviderError(message, code="no_model_configured")
        yield  # pragma: no cover - makes this an async generator

    return stream


def _embedded_provider(settings: Settings, env: Mapping[str, str] | None) -> Provider:
    path = settings.model_path or default_model_path()
    if path is None or not runtime_available():
        message = f"{NO_MODEL_MESSAGE}; or {INSTALL_HINT} to use the embedded model"
        info = {"name": settings.model, "baseUrl": settings.base_url, "configured": False}
        return Provider(_unconfigured(message), {**info, "wireApi": settings.wire_api.value})
    server = EmbeddedServer(Path(path), context_tokens=settings.local_context_tokens)
    provider = Provider(
        _unconfigured(""),  # replaced below
        {
            "name": server.name,
            "baseUrl": "embedded",
            "wireApi": settings.wire_api.value,
            "configured": True,
            "embedded": True,
        },
        embedded=server,
    )
    clients: list[WireClient] = []

    async def stream(request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if not clients:
            base = await server.base_url()
            local = settings.replace(base_url=base)
            clients.append(wire_client(local, {}))

            async def close() -> None:
                await clients[0].aclose()

            provider.closers.append(close)
        async for event in clients[0].stream(request):
            yield event

    provider.stream = stream
    return provider


def build_provider(settings: Settings, env: Mapping[str, str] | None) -> Provider:
    if settings.wants_embedded_model(env):
        return _embedded_provider(settings, env)
    if not settings.has_model_endpoint(env):
        info = {
            "name": settings.model,
            "baseUrl": settings.base_url,
            "wireApi": settings.wire_api.value,
            "configured": False,
        }
        return Provider(_unconfigured(NO_MODEL_MESSAGE), info)
    info = {
        "name": settings.model,
        "baseUrl": settings.base_url,
        "wireApi": settings.wire_api.value,
        "configured": True,
    }
    provider = Provider(_unconfigured(""), info)
    clients: list[WireClient] = []

    async def stream(request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if not clients:  # the HTTP stack is imported by the first request, not at start-up
            clients.append(wire_client(settings, env))
            provider.closers.append(clients[0].aclose)
        async for event in clients[0].stream(request):
            yield event

    provider.stream = stream
    return provider
