from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from fixtures.fake_api import FakeModelAPI
from tests.agentls.chat.terminal import Terminal
from tests.e2e.conftest import api, home, workspace
from tests.e2e.harness import server_env

__all__ = ["api", "home", "workspace"]


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
