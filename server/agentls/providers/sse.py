"""Opening a model API's event stream: the part both wire APIs share.

httpx-sse does not look at the status: a JSON error body would surface as a transport
error and hide the service's words. So the status and content type are checked first, and
every transport failure becomes a `ProviderError` worded for the user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from httpx_sse import EventSource, aconnect_sse

from agentls.config.settings import Settings
from agentls.providers.errors import http_error
from agentls.providers.events import ProviderError


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.stream_idle_timeout_s,
        write=30.0,
        pool=settings.connect_timeout_s,
    )
    return httpx.AsyncClient(timeout=timeout, trust_env=False)


class HttpPool:
    """A provider's HTTP client, replaced whenever a stream is abandoned midway.

    Cancelling a task while httpx reads a streamed body can leave that connection checked
    out of the pool for good (an httpcore cancellation bug); after enough stops the pool is
    exhausted. Closing the client is what reliably releases it. So a stopped stream retires
    the client it used: new requests get a fresh client at once, and the retired one is
    closed when the last stream still using it (another session's, say) has ended.
    """

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self.client = client or build_http_client(settings)
        self._leases: dict[httpx.AsyncClient, int] = {}
        self._retired: set[httpx.AsyncClient] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[httpx.AsyncClient]:
        client = self.client
        self._leases[client] = self._leases.get(client, 0) + 1
        try:
            yield client
        finally:
            self._leases[client] -= 1
            if not self._leases[client]:
                del self._leases[client]
                if client in self._retired:
                    self._close_later(client)

    def retire(self, client: httpx.AsyncClient) -> None:
        if client is self.client:
            self.client = build_http_client(self._settings)
        self._retired.add(client)
        if client not in self._leases:
            self._close_later(client)

    def _close_later(self, client: httpx.AsyncClient) -> None:
        self._retired.discard(client)
        task = asyncio.ensure_future(client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        await self.client.aclose()
        for client in list(self._retired):
            await client.aclose()
        for task in list(self._closing):
            with contextlib.suppress(Exception):
                await task


class StreamingClient:
    """What every wire client holds: its settings, the key's environment, a pool, a URL."""

    PATH = ""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self._env = env
        self._pool = HttpPool(settings, http)
        self._url = settings.base_url.rstrip("/") + self.PATH

    def events(self, body: dict[str, Any]) -> contextlib.AbstractAsyncContextManager[EventSource]:
        return open_event_stream(self._pool, self._url, body, self.settings, self._env)

    async def aclose(self) -> None:
        await self._pool.aclose()


def request_headers(settings: Settings, env: Mapping[str, str] | None) -> dict[str, str]:
    headers = {
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
        **settings.extra_headers,
    }
    key = settings.api_key(env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


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


def stream_cut() -> ProviderError:
    return ProviderError(
        "the model API ended the stream before the response completed",
        code="stream_cut",
        retryable=True,
    )


def decode_event(data: str) -> dict[str, Any] | None:
    if not data or data == "[DONE]":
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(
            "the model API sent an event that is not JSON", code="bad_event", retryable=True
        ) from exc
    return event if isinstance(event, dict) else None


@asynccontextmanager
async def open_event_stream(
    pool: HttpPool,
    url: str,
    body: dict[str, Any],
    settings: Settings,
    env: Mapping[str, str] | None,
) -> AsyncIterator[EventSource]:
    headers = request_headers(settings, env)
    async with pool.lease() as client:
        try:
            async with aconnect_sse(
                client, "POST", url, content=orjson.dumps(body), headers=headers
            ) as source:
                response = source.response
                if response.status_code != 200:
                    raise http_error(
                        response.status_code,
                        await response.aread(),
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
                yield source
        except httpx.HTTPError as exc:
            raise transport_error(exc, settings.base_url, settings.stream_idle_timeout_s) from exc
        except (asyncio.CancelledError, GeneratorExit):
            pool.retire(client)  # stopped mid-stream: its connection must not stay checked out
            raise
