"""Which model client a configuration means, and what to tell the user about it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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


Connect = Callable[[], Awaitable[WireClient]]


class Provider:
    """A model stream plus what the editor should show about it.

    The client is made on the first request (the HTTP stack is not imported at start-up,
    and the embedded model may still be loading); without `connect`, every request fails
    with `unavailable`, which says what to configure.
    """

    def __init__(
        self,
        info: dict[str, Any],
        connect: Connect | None,
        *,
        unavailable: str = NO_MODEL_MESSAGE,
        embedded: EmbeddedServer | None = None,
    ) -> None:
        self.info = info
        self.embedded = embedded
        self._connect = connect
        self._unavailable = unavailable
        self._client: WireClient | None = None

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if self._connect is None:
            raise ProviderError(self._unavailable, code="no_model_configured")
        if self._client is None:
            client = await self._connect()
            if self._client is None:
                self._client = client
            else:  # another session connected first
                await client.aclose()
        async for event in self._client.stream(request):
            yield event

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _info(settings: Settings, name: str, base_url: str, configured: bool) -> dict[str, Any]:
    return {
        "name": name,
        "baseUrl": base_url,
        "wireApi": settings.wire_api.value,
        "configured": configured,
    }


def _embedded_provider(settings: Settings) -> Provider:
    path = settings.model_path or default_model_path()
    if path is None or not runtime_available():
        return Provider(
            _info(settings, settings.model, settings.base_url, False),
            None,
            unavailable=f"{NO_MODEL_MESSAGE}; or {INSTALL_HINT} to use the embedded model",
        )
    server = EmbeddedServer(Path(path), context_tokens=settings.local_context_tokens)

    async def connect() -> WireClient:
        return wire_client(settings.replace(base_url=await server.base_url()), {})

    info = {**_info(settings, server.name, "embedded", True), "embedded": True}
    return Provider(info, connect, embedded=server)


def build_provider(settings: Settings, env: Mapping[str, str] | None) -> Provider:
    if settings.wants_embedded_model(env):
        return _embedded_provider(settings)
    if not settings.has_model_endpoint(env):
        return Provider(_info(settings, settings.model, settings.base_url, False), None)

    async def connect() -> WireClient:
        return wire_client(settings, env)

    return Provider(_info(settings, settings.model, settings.base_url, True), connect)
