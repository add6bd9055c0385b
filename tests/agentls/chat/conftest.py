from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from fixtures.fake_api import FakeModelAPI
from tests.agentls.chat.terminal import Terminal
from tests.e2e.harness import API_KEY, server_env


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeModelAPI]:
    async with FakeModelAPI(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def env(api: FakeModelAPI, home: Path) -> dict[str, str]:
    return server_env(home, api.base_url, AGENTLS_SANDBOX="off")


@pytest_asyncio.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    """Every terminal a test opens is closed (its processes killed) at the end."""
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()
