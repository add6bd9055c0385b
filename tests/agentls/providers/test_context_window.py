"""Context windows: the table, the order of sources, the llama.cpp probe, error recognition."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web
from fixtures.fake_api import FakeModelAPI

from agentls.providers.context_window import (
    context_percent,
    is_context_length_error,
    known_context_window,
    probe_reported_window,
    resolve_context_window,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-5", 272_000),
        ("gpt-5-mini", 272_000),
        ("gpt-5.1-codex", 272_000),
        ("gpt-4.1-nano", 1_047_576),
        ("gpt-4o-mini", 128_000),
        ("gpt-4", 8_192),
        ("o3", 200_000),
        ("o4-mini", 200_000),
        ("gpt-oss-20b", 131_072),
        ("openai/gpt-oss-120b", 131_072),
        ("qwen2.5-coder:7b", 32_768),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", 262_144),
        ("qwen3:8b", 32_768),
        ("llama3.1:8b", 131_072),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", 131_072),
        ("llama3", 8_192),
        ("SmolLM2-360M-Instruct", 8_192),
    ],
)
def test_known_models(model: str, window: int) -> None:
    assert known_context_window(model) == window


def test_unknown_models() -> None:
    assert known_context_window("fake-model") is None
    assert known_context_window("") is None


def test_setting_wins_then_reported_then_table() -> None:
    assert resolve_context_window(50_000, "gpt-5", 4_096) == 50_000
    assert resolve_context_window(None, "gpt-5", 4_096) == 4_096
    assert resolve_context_window(None, "gpt-5", None) == 272_000
    assert resolve_context_window(None, "fake-model", None) is None
    assert resolve_context_window(None, "gpt-5", 0) == 272_000


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def serve(routes: dict[str, Handler]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


async def test_probe_reads_llamacpp_props(http: httpx.AsyncClient) -> None:
    async with FakeModelAPI(context_limit=6_000, flavor="llamacpp") as api:
        assert await probe_reported_window(http, api.base_url) == 6_000
        assert await probe_reported_window(http, api.base_url + "/") == 6_000


async def test_probe_on_the_openai_service_shape_is_none(http: httpx.AsyncClient) -> None:
    async with FakeModelAPI(context_limit=6_000) as api:
        assert await probe_reported_window(http, api.base_url) is None


async def test_probe_falls_back_to_models_meta(http: httpx.AsyncClient) -> None:
    async def models(request: web.Request) -> web.Response:
        data = [{"id": "m.gguf", "object": "model", "meta": {"n_ctx_train": 32_768}}]
        return web.json_response({"object": "list", "data": data})

    async def bad_props(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>")

    runner, base_url = await serve({"/v1/models": models, "/props": bad_props})
    try:
        assert await probe_reported_window(http, base_url) == 32_768
    finally:
        await runner.cleanup()


async def test_probe_never_raises(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert await probe_reported_window(http, f"http://127.0.0.1:{port}/v1") is None

    async def odd(request: web.Request) -> web.Response:
        return web.json_response({"default_generation_settings": {"n_ctx": "big"}, "data": 3})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    runner, base_url = await serve({"/props": odd, "/v1/models": odd})
    try:
        assert await probe_reported_window(http, base_url) is None
    finally:
        await runner.cleanup()
    runner, base_url = await serve({"/props": slow, "/v1/models": slow})
    try:
        assert await probe_reported_window(http, base_url, timeout_s=0.2) is None
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "context_length_exceeded", "Your input exceeds the context window of this model."),
        (400, None, "This model's maximum context length is 8192 tokens. However, ..."),
        (400, "400", "request (5000 tokens) exceeds the available context size (4096 tokens)"),
        (400, "exceed_context_size_error", "anything"),
        (400, None, "the request exceeds the available context size, try increasing it"),
        (400, None, "prompt is too long: 215000 tokens > 200000 maximum"),
        (400, None, "This model's maximum model length is 4096 tokens"),
        (None, None, "Input is too long for requested model."),
    ],
)
def test_context_errors_are_recognised(status: int | None, code: str | None, message: str) -> None:
    assert is_context_length_error(status, code, message)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (429, "rate_limit_exceeded", "Rate limit reached: tokens per min (TPM): Limit 30000"),
        (429, None, "context window full, slow down"),
        (400, "invalid_value", "Invalid value: 'tool'."),
        (401, "invalid_api_key", "Incorrect API key provided"),
        (500, None, "The server had an error while processing your request."),
    ],
)
def test_other_errors_are_not(status: int | None, code: str | None, message: str) -> None:
    assert not is_context_length_error(status, code, message)


def test_context_percent() -> None:
    assert context_percent(8_500, 10_000) == 85
    assert context_percent(0, 10_000) == 0
    assert context_percent(25_000, 10_000) == 100
    assert context_percent(5, None) is None
