"""Chat Completions wire and server-side history, with the same guarantees as the default."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from fixtures.fake_api import CutStream, FakeModelAPI, HttpError
from tests.e2e.conftest import Starter
from tests.e2e.harness import API_KEY, server_env
from tests.helpers import alive, pids_with_marker, process_tree, wait_for

CHAT = {"wireApi": "chat"}
SERVER = {"history": "server"}


def tool_pairs_ok(messages: list[dict[str, Any]]) -> bool:
    """Every assistant tool_calls message is followed at once by its tool replies."""
    for index, message in enumerate(messages):
        ids = [c["id"] for c in message.get("tool_calls") or []]
        replies = [m.get("tool_call_id") for m in messages[index + 1 : index + 1 + len(ids)]]
        if ids and replies != ids:
            return False
    return True


async def test_chat_wire_streams_and_runs_tools(start: Starter, api: FakeModelAPI) -> None:
    agent = await start(init_options=CHAT)
    assert agent.initialize_result.capabilities.experimental["agent"]["model"]["wireApi"] == "chat"
    result = await agent.send("run: echo from-chat")
    assert result["status"] == "completed"
    assert result["usage"]["total_tokens"] > 0
    done = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted")
    assert "from-chat" in done["output"]
    assert api.requests[0]["stream_options"] == {"include_usage": True}
    assert api.requests[0]["tools"][0]["function"]["name"] == "shell"
    messages = api.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert api.rejected == []


async def test_chat_wire_stop_mid_command_then_next_turn(start: Starter, api: FakeModelAPI) -> None:
    agent = await start(init_options=CHAT)
    tag = f"chat-stop-{uuid.uuid4().hex[:8]}"
    msg_id, pending = agent.start("agent/send", {"text": f"run: sleep 30; echo {tag}"})
    await agent.wait_event("toolCallStarted")
    await wait_for(lambda: len(process_tree(pids_with_marker(tag))) >= 2)
    pids = process_tree(pids_with_marker(tag))
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted"
    assert [p for p in pids if alive(p)] == []
    follow = await agent.send("next", sessionId=result["sessionId"])
    assert follow["status"] == "completed"
    assert api.rejected == []
    messages = api.requests[-1]["messages"]
    assert tool_pairs_ok(messages)
    assert any(m["role"] == "tool" and m["content"] == "aborted" for m in messages)


async def test_chat_wire_survives_sigkill_and_resumes(start: Starter, api: FakeModelAPI) -> None:
    first = await start(init_options=CHAT)
    tag = f"chat-kill-{uuid.uuid4().hex[:8]}"
    _msg, pending = first.start("agent/send", {"text": f"run: sleep 30; echo {tag}"})
    await first.wait_event("toolCallStarted")
    # the command runs (bash and its `sleep`): the call is on record
    await wait_for(lambda: len(process_tree(pids_with_marker(tag))) >= 2)
    os.kill(first.server.pid, signal.SIGKILL)
    await first.server.wait()
    pending.cancel()
    second = await start(init_options=CHAT)
    resumed = await second.request("agent/resume", {})
    assert resumed["history"][-1]["status"] == "aborted"
    assert (await second.send("again"))["status"] == "completed"
    assert api.rejected == []
    assert tool_pairs_ok(api.requests[-1]["messages"])


async def test_chat_wire_retries_and_errors(start: Starter, api: FakeModelAPI) -> None:
    agent = await start(init_options=CHAT)
    api.enqueue(HttpError(429, "slow down", retry_after=0), CutStream(after_events=2))
    result = await agent.send("hello")
    assert result["status"] == "completed"
    assert result["finalMessage"] == "You said: hello"
    retries = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "retrying"]
    assert len(retries) == 2
    api.enqueue(HttpError(401, "bad key", code="invalid_api_key"))
    failed = await agent.send("again")
    assert failed["status"] == "failed"
    assert "OPENAI_API_KEY" in failed["error"]["message"]


async def test_server_history_sends_only_new_items(start: Starter, api: FakeModelAPI) -> None:
    agent = await start(init_options=SERVER)
    first = await agent.send("one")
    second = await agent.send("run: echo hi", sessionId=first["sessionId"])
    assert second["status"] == "completed"
    assert api.requests[0]["store"] is True
    assert "previous_response_id" not in api.requests[0]
    follow = api.requests[1]
    assert follow["previous_response_id"].startswith("resp_")
    assert [i.get("role", i["type"]) for i in follow["input"]] == ["user"]
    after_tool = api.requests[2]
    assert [i["type"] for i in after_tool["input"]] == ["function_call_output"]
    assert api.rejected == []


async def test_server_history_survives_resume_and_stops(start: Starter, api: FakeModelAPI) -> None:
    first = await start(init_options=SERVER)
    msg_id, pending = first.start("agent/send", {"text": "run: sleep 30"})
    await first.wait_event("toolCallStarted")
    first.cancel(msg_id)
    assert (await asyncio.wait_for(pending, 10))["status"] == "interrupted"
    await first.client.shutdown_session()
    second = await start(init_options=SERVER)
    await second.request("agent/resume", {})
    assert (await second.send("go on"))["status"] == "completed"
    last = api.requests[-1]
    # the chain recorded before the stop goes on after the resume: the strict fake accepts
    # only an id it stored, and only if the stored call now has its output
    assert last["previous_response_id"].startswith("resp_")
    assert [i["type"] for i in last["input"]] == ["function_call_output", "message"]
    assert last["input"][0]["output"] == "aborted"
    assert api.rejected == []


async def test_server_history_falls_back_when_the_service_forgot(
    start: Starter, api: FakeModelAPI, home: Path
) -> None:
    first = await start(init_options=SERVER)
    await first.send("remember me")
    await first.client.shutdown_session()
    async with FakeModelAPI(api_key=API_KEY) as amnesiac:
        second = await start(env=server_env(home, amnesiac.base_url), init_options=SERVER)
        await second.request("agent/resume", {})
        result = await second.send("do you?")
        assert result["status"] == "completed"
        assert amnesiac.rejected[0][0] == 400
        retry = amnesiac.requests[-1]
        assert "previous_response_id" not in retry
        assert [i.get("role") for i in retry["input"]] == ["user", "assistant", "user"]
        # the new chain is used from here on
        await second.send("and now")
        assert amnesiac.requests[-1]["previous_response_id"].startswith("resp_")
