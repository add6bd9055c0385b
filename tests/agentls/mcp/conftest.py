"""Fixtures for the MCP tests: managers that always close, the HTTP fixture server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.agentls.mcp.mcp_helpers import SERVER, ManagerFactory


@pytest.fixture
async def make_manager() -> AsyncIterator[ManagerFactory]:
    factory = ManagerFactory()
    yield factory
    for manager in factory.made:
        await manager.aclose()


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, str]]:
    """The fixture over Streamable HTTP with a bearer check: (url, token)."""
    token = "fixture-token-7f3a9c"
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", "--token", token],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp", token
    finally:
        process.terminate()
        process.wait(10)
