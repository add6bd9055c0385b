"""Point 3: stop a turn at any point, by $/cancelRequest or agent/interrupt."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from fixtures.fake_api import FakeModelAPI
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent
from tests.helpers import alive, pids_with_marker, process_tree, wait_for


async def _assert_next_turn_accepted(agent: Agent, api: FakeModelAPI, session_id: str) -> None:
    result = await agent.send("after the stop", sessionId=session_id)
    assert result["status"] == "completed"
    assert api.rejected == []
    body = api.requests[-1]["input"]
    calls = [i["call_id"] for i in body if i["type"] == "function_call"]
    outputs = [i["call_id"] for i in body if i["type"] == "function_call_output"]
    assert sorted(calls) == sorted(outputs)


@pytest.mark.parametrize("how", ["cancel", "interrupt"])
async def test_stop_while_the_model_streams(agent: Agent, api: FakeModelAPI, how: str) -> None:
    msg_id, pending = agent.start("agent/send", {"text": "slow: 0.05"})
    first = await agent.wait_event("textDelta")
    if how == "cancel":
        agent.cancel(msg_id)
    else:
        answer = await agent.request("agent/interrupt", {})
        assert answer == {"interrupted": True, "turnId": first["turnId"]}
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted"
    assert result["finalMessage"].startswith("tick")
    events = agent.turn_events(result["turnId"])
    assert events[-1]["type"] == "turnCompleted"
    assert events[-1]["status"] == "interrupted"
    await _assert_next_turn_accepted(agent, api, result["sessionId"])
    # the partial answer is part of the history the model sees next
    assistant = [i for i in api.requests[-1]["input"] if i.get("role") == "assistant"]
    assert assistant[0]["content"][0]["text"].startswith("tick")


@pytest.mark.parametrize("how", ["cancel", "interrupt"])
async def test_stop_while_a_command_runs(
    agent: Agent, api: FakeModelAPI, how: str, tmp_path: Path
) -> None:
    tag = f"agentls-test-{uuid.uuid4().hex[:8]}"
    msg_id, pending = agent.start("agent/send", {"text": f"run: sleep 30; echo {tag}"})
    await agent.wait_event("toolCallStarted")
    await wait_for(lambda: len(process_tree(pids_with_marker(tag))) >= 2)
    pids = process_tree(pids_with_marker(tag))  # bash and its `sleep` child
    if how == "cancel":
        agent.cancel(msg_id)
    else:
        assert (await agent.request("agent/interrupt", {}))["interrupted"] is True
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted"
    # the whole group is gone when the answer arrives
    assert [pid for pid in pids if alive(pid)] == []
    done = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted"]
    assert done[-1]["status"] == "aborted"
    await _assert_next_turn_accepted(agent, api, result["sessionId"])
    call_id = done[-1]["callId"]
    outputs = [i for i in api.requests[-1]["input"] if i.get("call_id") == call_id]
    assert outputs[-1]["output"] == "aborted"


async def test_stop_while_an_approval_is_pending(start: Starter, api: FakeModelAPI) -> None:
    agent = await start(init_options={"approval": "always-ask"})
    asked = asyncio.Event()

    async def never_answer(_params: object) -> object:
        asked.set()
        await asyncio.sleep(60)
        return {"decision": "approve"}

    agent.decide = never_answer
    msg_id, pending = agent.start("agent/send", {"text": "run: touch nope"})
    await asyncio.wait_for(asked.wait(), 10)
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted"
    # the server withdrew its question with $/cancelRequest
    await wait_for(lambda: len(agent.approval_cancels) == 1)
    await _assert_next_turn_accepted(agent, api, result["sessionId"])


async def test_interrupt_with_nothing_running(agent: Agent) -> None:
    assert await agent.request("agent/interrupt", {}) == {"interrupted": False}
    result = await agent.send("hi")
    answer = await agent.request("agent/interrupt", {"sessionId": result["sessionId"]})
    assert answer == {"interrupted": False}


async def test_send_while_a_turn_runs_is_refused(agent: Agent) -> None:
    msg_id, pending = agent.start("agent/send", {"text": "slow: 0.05"})
    started = await agent.wait_event("textDelta")
    with pytest.raises(JsonRpcException) as refused:
        await agent.send("second", sessionId=started["sessionId"])
    assert refused.value.code == -33002
    assert "already running" in refused.value.message
    agent.cancel(msg_id)
    assert (await asyncio.wait_for(pending, 10))["status"] == "interrupted"


async def test_cancel_answers_once_even_when_repeated(agent: Agent) -> None:
    msg_id, pending = agent.start("agent/send", {"text": "slow: 0.05"})
    await agent.wait_event("textDelta")
    agent.cancel(msg_id)
    agent.cancel(msg_id)
    await agent.request("agent/interrupt", {})
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted"
    completed = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "turnCompleted"]
    assert len(completed) == 1


async def test_cancel_right_after_send(agent: Agent, api: FakeModelAPI) -> None:
    msg_id, pending = agent.start("agent/send", {"text": "run: sleep 20"})
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] in ("interrupted", "completed")
    await _assert_next_turn_accepted(agent, api, result["sessionId"])
