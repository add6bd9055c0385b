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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("transport", ["--tcp", "--ws"])
async def test_send_over_network_transports(
    transport: str, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentls",
        "serve",
        transport,
        f"127.0.0.1:{port}",
        env=server_env(home, api.base_url),
    )
    client = LanguageClient("test", "1", converter_factory=agent_converter)
    events: list[dict[str, Any]] = []
    client.feature("agent/event")(lambda params: events.append(params))
    try:
        for _ in range(200):
            try:
                if transport == "--tcp":
                    await client.start_tcp("127.0.0.1", port)
                else:
                    await client.start_ws("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="w")],
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
