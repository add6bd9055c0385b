from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fixtures.fake_api import FakeModelAPI
from tests.e2e.harness import API_KEY, Agent, server_env, start_agent, stop_agent

Starter = Callable[..., Awaitable[Agent]]


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


@pytest_asyncio.fixture
async def start(api: FakeModelAPI, workspace: Path, home: Path) -> AsyncIterator[Starter]:
    """Start as many servers as a test needs; all are stopped at the end."""
    started: list[Agent] = []

    async def launch(
        *,
        env: dict[str, str] | None = None,
        base_url: str | None = "fake",
        workspace: Path = workspace,
        **kwargs: Any,
    ) -> Agent:
        url = api.base_url if base_url == "fake" else base_url
        agent = await start_agent(workspace, env or server_env(home, url), **kwargs)
        started.append(agent)
        return agent

    yield launch
    for agent in started:
        await stop_agent(agent)


@pytest_asyncio.fixture
async def agent(start: Starter) -> Agent:
    return await start()
