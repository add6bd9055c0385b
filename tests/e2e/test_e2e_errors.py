"""Bad input gets a clear error and loses nothing; provider failures become failed turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import CutStream, FakeModelAPI, HttpError
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent, server_env


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("agent/send", {}, "text"),
        ("agent/send", {"text": 5}, "text"),
        ("agent/send", {"text": ""}, "text"),
        ("agent/send", {"text": "hi", "sessionId": 7}, "sessionId"),
        ("agent/send", [1, 2], "params"),
        ("agent/interrupt", {"sessionId": ["x"]}, "sessionId"),
        ("agent/resume", {"sessionId": False}, "sessionId"),
        ("agent/listSessions", {"limit": "ten"}, "limit"),
        ("agent/listSessions", {"limit": 0}, "limit"),
        ("agent/listSessions", {"cursor": "not-a-cursor!"}, "cursor"),
    ],
)
async def test_malformed_params_name_the_field(
    agent: Agent, method: str, params: Any, field: str
) -> None:
    with pytest.raises(JsonRpcException) as error:
        await agent.request(method, params)
    assert error.value.code == -32602
    assert f"'{field}'" in error.value.message or "params must be an object" in error.value.message


@pytest.mark.parametrize(
    "bad_id", ["../../etc", "../../etc/passwd", "/etc/passwd", "*", "..", "a" * 5000]
)
@pytest.mark.parametrize("method", ["agent/send", "agent/resume", "agent/interrupt"])
async def test_path_tricks_in_session_ids(
    agent: Agent, home: Path, method: str, bad_id: str
) -> None:
    params: dict[str, Any] = {"sessionId": bad_id}
    if method == "agent/send":
        params["text"] = "hi"
    with pytest.raises(JsonRpcException) as error:
        await agent.request(method, params)
    assert error.value.code == -32602
    assert "sessionId" in error.value.message
    # nothing was written anywhere for it
    assert not (home / "workspaces").exists() or all(
        p.name.endswith((".jsonl", ".json")) or p.is_dir() for p in home.rglob("*")
    )


async def test_server_survives_bad_requests(agent: Agent) -> None:
    for params in ({"text": None}, {"text": "x" * 2_000_000}):
        with pytest.raises(JsonRpcException) as error:
            await agent.request("agent/send", params)
        assert error.value.code == -32602
    unknown_fields = await agent.request("agent/send", {"text": "ok", "extra": {"a": 1}})
    assert unknown_fields["status"] == "completed"
    assert (await agent.send("still alive"))["status"] == "completed"


async def test_wrong_key_is_a_failed_turn_naming_the_variable(
    start: Starter, home: Path, api: FakeModelAPI
) -> None:
    env = server_env(home, api.base_url, OPENAI_API_KEY="sk-wrong-key-000")
    agent = await start(env=env)
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert result["error"]["httpStatus"] == 401
    assert "OPENAI_API_KEY" in result["error"]["message"]
    assert "Incorrect API key" in result["error"]["message"]
    assert "sk-wrong-key-000" not in str(agent.events)


async def test_429_then_success_is_retried(agent: Agent, api: FakeModelAPI) -> None:
    api.enqueue(HttpError(429, "Rate limit reached", type="requests", retry_after=0))
    result = await agent.send("hello")
    assert result["status"] == "completed"
    retrying = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "retrying"]
    assert len(retrying) == 1
    assert retrying[0]["attempt"] == 2 and "429" in retrying[0]["reason"]
    assert len(api.requests) == 2


async def test_500_until_retries_run_out(agent: Agent, api: FakeModelAPI) -> None:
    api.enqueue(*[HttpError(500, "The server had an error", type="server_error")] * 3)
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert result["error"]["httpStatus"] == 500
    assert "gave up after 3 attempts" in result["error"]["message"]
    assert len(api.requests) == 3


async def test_cut_stream_is_retried_and_nothing_partial_is_kept(
    agent: Agent, api: FakeModelAPI
) -> None:
    api.enqueue(CutStream(after_events=5))
    result = await agent.send("hello there")
    assert result["status"] == "completed"
    assert result["finalMessage"] == "You said: hello there"
    await agent.send("second")
    history = api.requests[-1]["input"]
    assert [i.get("role") for i in history] == ["user", "assistant", "user"]


async def test_cut_stream_every_time_fails_cleanly(agent: Agent, api: FakeModelAPI) -> None:
    api.enqueue(*[CutStream(after_events=4)] * 3)
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert (
        "before the response completed" in result["error"]["message"]
        or "broke" in result["error"]["message"]
    )
    follow = await agent.send("after")
    assert follow["status"] == "completed"
    assert [i.get("role") for i in api.requests[-1]["input"]] == ["user", "user"]


async def test_bad_request_quotes_the_api(agent: Agent, api: FakeModelAPI) -> None:
    api.enqueue(HttpError(400, "Invalid 'model': no such model"))
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert "Invalid 'model'" in result["error"]["message"]
    assert len(api.requests) == 1


async def test_no_key_and_no_server_says_what_to_set(start: Starter, home: Path) -> None:
    agent = await start(env=server_env(home, None, AGENTLS_LOCAL_MODEL="0"))
    assert (
        agent.initialize_result.capabilities.experimental["agent"]["model"]["configured"] is False
    )
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert "OPENAI_API_KEY" in result["error"]["message"]
    assert "OPENAI_BASE_URL" in result["error"]["message"]


async def test_unreachable_server_is_explained(start: Starter, home: Path) -> None:
    agent = await start(env=server_env(home, "http://127.0.0.1:9/v1"))
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert "could not reach the model API" in result["error"]["message"]


async def test_bad_settings_are_reported_and_defaults_used(start: Starter) -> None:
    agent = await start(init_options={"approval": "sometimes", "maxRetries": "many"})
    result = await agent.send("hello")
    assert result["status"] == "completed"
    messages = [m.message for m in agent.client.messages]
    assert any("'approval'" in m for m in messages)
    assert any("'max_retries'" in m for m in messages)
