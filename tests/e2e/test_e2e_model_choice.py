"""The rollout records the provider and model that really answered."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from fixtures.fake_api import FakeModelAPI
from tests.agentls.rollout.reference_reader import read_rollout
from tests.e2e.harness import Agent

from agentls.rollout.paths import WorkspaceLayout


async def test_a_local_server_s_only_model_is_used_and_recorded(
    agent: Agent, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    result = await agent.send("hello")
    assert result["status"] == "completed"
    used = api.requests[-1]["model"]
    assert used == "fake-model"  # no model was set: the server's only one (GET /v1/models)
    path = WorkspaceLayout.for_path(home, workspace).find_session(result["sessionId"])
    assert path is not None
    meta = read_rollout(path).meta or {}
    assert meta["model"] == used
    assert meta["model_provider"] == urlparse(api.base_url).netloc
