"""`agentls serve --tcp` and `--ws`: the same protocol over the other transports."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import FakeModelAPI
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from tests.e2e.harness import agent_converter, server_env

TOKEN = "transport-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("transport", ["--tcp", "--ws"])
async def test_send_over_network_transports(
    transport: str, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    port = free_port()
    server = await _start(transport, port, home, api, "--token", TOKEN)
    client = LanguageClient("test", "1", converter_factory=agent_converter)
    events: list[dict[str, Any]] = []
    client.feature("agent/event")(lambda params: events.append(params))
    try:
        await _connect(client, transport, port)
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="w")],
                initialization_options={"authToken": TOKEN},
            )
        )
        client.initialized(types.InitializedParams())
        result = await asyncio.wait_for(
            client.protocol.send_request_async("agent/send", {"text": "over the wire"}), 20
        )
        assert result["status"] == "completed"
        assert result["finalMessage"] == "You said: over the wire"
        assert events[-1]["type"] == "turnCompleted"
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
        await client.stop()  # type: ignore[no-untyped-call]


async def _start(transport: str, port: int, home: Path, api: FakeModelAPI, *extra: str) -> Any:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentls",
        "serve",
        transport,
        f"127.0.0.1:{port}",
        *extra,
        env=server_env(home, api.base_url),
        stderr=asyncio.subprocess.PIPE,
    )
    assert server.stderr is not None
    line = await asyncio.wait_for(server.stderr.readline(), 20)
    assert f"127.0.0.1:{port}".encode() in line, line  # it says where it listens
    return server


async def _connect(client: LanguageClient, transport: str, port: int) -> None:
    if transport == "--tcp":
        await client.start_tcp("127.0.0.1", port)
    else:
        await client.start_ws("127.0.0.1", port)


@pytest.mark.parametrize("transport", ["--tcp", "--ws"])
async def test_a_client_without_the_token_is_refused(
    transport: str, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    port = free_port()
    server = await _start(transport, port, home, api)
    token_file = home / "server-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert len(token_file.read_text().strip()) >= 32
    client = LanguageClient("test", "1", converter_factory=agent_converter)
    try:
        await _connect(client, transport, port)
        with pytest.raises(Exception, match="token"):
            await asyncio.wait_for(
                client.initialize_async(
                    types.InitializeParams(
                        capabilities=types.ClientCapabilities(),
                        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="w")],
                        initialization_options={"authToken": "wrong"},
                    )
                ),
                20,
            )
        assert api.requests == []
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
        await client.stop()  # type: ignore[no-untyped-call]


async def test_a_web_page_from_another_origin_cannot_connect(api: FakeModelAPI, home: Path) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    port = free_port()
    server = await _start(
        "--ws", port, home, api, "--no-auth", "--allow-origin", "http://localhost:3000"
    )
    try:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port}", origin="http://evil.example"):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
        async with connect(f"ws://127.0.0.1:{port}", origin="http://localhost:3000"):  # type: ignore[arg-type]
            pass
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
