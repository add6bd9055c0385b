"""Which model client a configuration means, and what to tell the user about it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from agentls.config.settings import DEFAULT_BASE_URL, Settings, WireApi
from agentls.providers.events import ModelEvent, ModelRequest, ProviderError
from agentls.providers.local import (
    INSTALL_HINT,
    EmbeddedServer,
    default_model_path,
    runtime_available,
)

logger = logging.getLogger(__name__)

ModelStream = Callable[[ModelRequest], AsyncIterator[ModelEvent]]

NO_MODEL_MESSAGE = (
    "no model API is configured: set OPENAI_API_KEY to use api.openai.com, or "
    "OPENAI_BASE_URL to use a local OpenAI-compatible server (Ollama, vLLM, llama.cpp)"
)
DEFAULT_MODEL = Settings.__dataclass_fields__["model"].default
MODELS_TIMEOUT_S = 3.0
# What resolvers print when a host name cannot be looked up (glibc, musl, macOS, Windows).
DNS_FAILURE_MARKS = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "no address associated",
    "getaddrinfo failed",
    "name resolution",
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
Resolve = Callable[[], Awaitable[str | None]]


def provider_name(base_url: str) -> str:
    """What a rollout records as `model_provider`: the API's host (and port)."""
    return urlparse(base_url).netloc or base_url


def reword_connection_error(exc: ProviderError, base_url: str, url_was_set: bool) -> None:
    """A DNS failure said as one; OPENAI_BASE_URL is named only to whoever set it."""
    if exc.code != "connection_error":
        return
    host = urlparse(base_url).hostname or base_url
    lowered = exc.message.lower()
    if any(mark in lowered for mark in DNS_FAILURE_MARKS):
        where = "check OPENAI_BASE_URL" if url_was_set else "check this machine's network"
        exc.message = f"could not look up {host} (DNS failure): {where}, then try again"
        exc.code = "dns_failure"
    elif not url_was_set:
        exc.message = (
            f"could not connect to {host}: check this machine's network connection, then try again"
        )
    exc.args = (exc.message,)


class Provider:
    """A model stream plus what the editor should show about it.

    `info` is a dict: `provider` (the API's host, or `embedded`) and `model` (the model
    actually used) are what the rollout records; `name`, `baseUrl`, `wireApi`,
    `configured` (and `embedded`) are what a client's banner shows. The client is made on the
    first request (the HTTP stack is not imported at start-up, and the embedded model may
    still be loading); without `connect`, every request fails with `unavailable`, which says
    what to configure.
    """

    def __init__(
        self,
        info: dict[str, Any],
        connect: Connect | None,
        *,
        unavailable: str = NO_MODEL_MESSAGE,
        embedded: EmbeddedServer | None = None,
        resolve: Resolve | None = None,
        instructions: str | None = None,
        url_was_set: bool = True,
    ) -> None:
        self.info = info
        self.embedded = embedded
        self.warnings: list[str] = []
        self._connect = connect
        self._unavailable = unavailable
        self._client: WireClient | None = None
        self._resolve = resolve
        self._resolved: asyncio.Future[None] | None = None
        self._instructions = instructions
        self._url_was_set = url_was_set
        if resolve is not None:
            # started now when there is a loop (the server's `initialize`), so the answer is
            # usually in before the first session records its model
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop()
                self._resolved = asyncio.ensure_future(self._settle(resolve))

    async def resolve(self) -> dict[str, Any]:
        """Settle which model is used (a local server's only model); idempotent, cached.

        Call it before recording a session's provider and model; `stream` calls it too.
        """
        if self._resolve is None:
            return self.info
        if self._resolved is None:
            self._resolved = asyncio.ensure_future(self._settle(self._resolve))
        await asyncio.shield(self._resolved)
        return self.info

    async def _settle(self, resolve: Resolve) -> None:
        model = await resolve()
        if model:
            self.info["model"] = model
            self.info["name"] = model

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        if self._connect is None:
            raise ProviderError(self._unavailable, code="no_model_configured")
        await self.resolve()
        if self._client is None:
            client = await self._connect()
            if self._client is None:
                self._client = client
            else:  # another session connected first
                await client.aclose()
        changes: dict[str, Any] = {}
        if self.info.get("model") and request.model != self.info["model"]:
            changes["model"] = self.info["model"]
        if self._instructions and not request.instructions:
            changes["instructions"] = self._instructions
        if self.embedded is not None and not self.embedded.calls_tools:
            changes["tools"] = []
        if changes:
            request = dataclasses.replace(request, **changes)
        try:
            async for event in self._client.stream(request):
                yield event
        except ProviderError as exc:
            reword_connection_error(exc, str(self.info.get("baseUrl", "")), self._url_was_set)
            raise

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _info(
    settings: Settings, name: str, base_url: str, configured: bool, provider: str
) -> dict[str, Any]:
    return {
        "name": name,
        "baseUrl": base_url,
        "wireApi": settings.wire_api.value,
        "configured": configured,
        "provider": provider,
        "model": name,
    }


def _embedded_provider(settings: Settings) -> Provider:
    path = settings.model_path or default_model_path()
    if path is None or not runtime_available():
        info = _info(
            settings, settings.model, settings.base_url, False, provider_name(settings.base_url)
        )
        unavailable = f"{NO_MODEL_MESSAGE}; or {INSTALL_HINT} to use the embedded model"
        return Provider(info, None, unavailable=unavailable)
    server = EmbeddedServer(Path(path), context_tokens=settings.local_context_tokens)

    async def connect() -> WireClient:
        return wire_client(settings.replace(base_url=await server.base_url()), {})

    info = {**_info(settings, server.name, "embedded", True, "embedded"), "embedded": True}
    return Provider(info, connect, embedded=server, instructions=server.default_instructions)


def model_was_set(settings: Settings, env: Mapping[str, str] | None) -> bool:
    """Settings cannot tell a default from a choice: a name other than the default, or
    AGENTLS_MODEL, counts as chosen."""
    source = os.environ if env is None else env
    return settings.model != DEFAULT_MODEL or bool(source.get("AGENTLS_MODEL"))


async def offered_models(settings: Settings, env: Mapping[str, str] | None) -> list[str]:
    """`GET {base_url}/models`: what an OpenAI-compatible server says it serves."""
    import httpx

    headers = {}
    key = settings.api_key(env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = settings.base_url.rstrip("/") + "/models"
    async with httpx.AsyncClient(timeout=MODELS_TIMEOUT_S, trust_env=False) as http:
        answer = await http.get(url, headers=headers)
    if answer.status_code != 200:
        return []
    data = answer.json()
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):  # Ollama's own shape: {"models": [{"name"...}]}
        entries = data.get("models") if isinstance(data, dict) else None
    names = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            name = entry.get("id") or entry.get("name") or entry.get("model")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def _model_resolver(
    settings: Settings, env: Mapping[str, str] | None, provider: list[Provider]
) -> Resolve:
    async def resolve() -> str | None:
        try:
            names = await offered_models(settings, env)
        except Exception as exc:  # the turn's own request will say what is wrong
            logger.info("could not list the models of %s: %s", settings.base_url, exc)
            return None
        if len(names) == 1:
            logger.info("using %s, the one model %s offers", names[0], settings.base_url)
            return names[0]
        if len(names) > 1 and settings.model not in names and provider:
            shown = ", ".join(names[:10])
            provider[0].warnings.append(
                f"the server at {settings.base_url} offers several models ({shown}); set "
                "AGENTLS_MODEL (or `model` in config.toml) to one of them"
            )
        return None

    return resolve


def build_provider(settings: Settings, env: Mapping[str, str] | None) -> Provider:
    if settings.wants_embedded_model(env):
        return _embedded_provider(settings)
    host = provider_name(settings.base_url)
    if not settings.has_model_endpoint(env):
        return Provider(_info(settings, settings.model, settings.base_url, False, host), None)

    async def connect() -> WireClient:
        return wire_client(settings, env)

    custom_url = settings.base_url.rstrip("/") != DEFAULT_BASE_URL
    holder: list[Provider] = []
    resolve = (
        _model_resolver(settings, env, holder)
        if custom_url and not model_was_set(settings, env)
        else None
    )
    provider = Provider(
        _info(settings, settings.model, settings.base_url, True, host),
        connect,
        resolve=resolve,
        url_was_set=custom_url,
    )
    holder.append(provider)
    return provider
