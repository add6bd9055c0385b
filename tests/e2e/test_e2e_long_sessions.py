"""Long sessions over stdio against the strict fake API: the context meter, compaction (before
the window fills, after a refusal, on demand, with a call's output in flight), resume from the
compacted line, paged resume, steering and the user's own commands."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from fixtures.fake_api import FakeModelAPI, Reply, TextItem, last_user_text_contains
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent, server_env
from tests.helpers import alive, pids_with_marker, process_tree, wait_for

from agentls.history.compact import COMPACTION_PROMPT, SUMMARY_PREFIX
from agentls.rollout.paths import WorkspaceLayout

SUMMARY = "The user is describing parts one by one; keep describing each part."
WIRES = ["responses", "chat"]


async def start_on(
    start: Starter, api: FakeModelAPI, home: Path, wire: str, **options: Any
) -> Agent:
    env = server_env(home, api.base_url, AGENTLS_WIRE_API=wire)
    return await start(env=env, init_options=options)


def answer_summaries(api: FakeModelAPI) -> None:
    api.when(last_user_text_contains(COMPACTION_PROMPT[:60]), Reply([TextItem(SUMMARY)]))


def conversation(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("input", body.get("messages"))
    assert isinstance(items, list)
    return items


def texts_of(body: dict[str, Any]) -> str:
    return orjson.dumps(conversation(body)).decode()


def summary_requests(api: FakeModelAPI) -> list[dict[str, Any]]:
    return [b for b in api.requests if COMPACTION_PROMPT[:60] in texts_of(b)]


def rollout_lines(home: Path, workspace: Path, session_id: str) -> list[dict[str, Any]]:
    path = WorkspaceLayout.for_path(home, workspace).find_session(session_id)
    assert path is not None
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def part(n: int) -> str:
    return f"part {n}: " + "describe this part in detail " * 40


@pytest.mark.parametrize("wire", WIRES)
async def test_token_usage_after_each_response(
    start: Starter, api: FakeModelAPI, home: Path, wire: str
) -> None:
    agent = await start_on(start, api, home, wire, contextWindow=100_000)
    result = await agent.send("run: echo hello")
    usage = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "tokenUsage"]
    assert len(usage) == 2  # the call, then the answer
    assert all(u["contextWindow"] == 100_000 for u in usage)
    assert usage[1]["inputTokens"] > usage[0]["inputTokens"] > 0
    assert usage[1]["percent"] == round(
        (usage[1]["inputTokens"] + usage[1]["outputTokens"]) * 100 / 100_000
    )


async def test_the_window_a_llamacpp_server_reports(start: Starter, api: FakeModelAPI) -> None:
    api.flavor = "llamacpp"
    api.context_limit = 50_000
    agent = await start()
    result = await agent.send("hello")
    usage = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "tokenUsage")
    assert usage["contextWindow"] == 50_000
    assert isinstance(usage["percent"], int)


@pytest.mark.parametrize("wire", WIRES)
async def test_auto_compaction_then_resume_from_the_compacted_line(
    start: Starter, api: FakeModelAPI, home: Path, workspace: Path, wire: str
) -> None:
    answer_summaries(api)
    agent = await start_on(start, api, home, wire, contextWindow=3_000, autoCompactPercent=60)
    session_id = (await agent.send(part(0)))["sessionId"]
    n = 1
    while not any(e["type"] == "compaction" for e in agent.events):
        assert n < 10, "no compaction happened"
        await agent.send(part(n), sessionId=session_id)
        n += 1
    phases = [e for e in agent.events if e["type"] == "compaction"]
    assert [p["phase"] for p in phases] == ["started", "completed"]
    assert phases[1]["tokensAfter"] < phases[1]["tokensBefore"]
    assert phases[1]["reason"] == "auto"
    assert len(summary_requests(api)) == 1  # one model request per compaction
    assert api.rejected == []  # compacted before the window filled, never refused
    after = texts_of(api.requests[-1])
    assert SUMMARY in after and SUMMARY_PREFIX[:40] in after
    assert "You said: part 0" not in after  # the old answers are gone
    kinds = [line["type"] for line in rollout_lines(home, workspace, session_id)]
    assert kinds.count("compacted") == 1

    await agent.client.shutdown_session()
    second = await start_on(start, api, home, wire, contextWindow=3_000, autoCompactPercent=60)
    resumed = await second.request("agent/resume", {"sessionId": session_id})
    # the panel still has the whole conversation
    assert resumed["history"][0]["text"] == part(0)
    assert len(resumed["history"]) == 2 * n
    count = len(api.requests)
    await second.send("go on", sessionId=session_id)
    first = conversation(api.requests[count])
    # the model's input is built from the compacted line on
    joined = orjson.dumps(first).decode()
    assert SUMMARY in joined and "You said: part 0" not in joined
    assert api.rejected == []


@pytest.mark.parametrize("wire", WIRES)
async def test_a_refusal_for_length_compacts_and_retries_once(
    start: Starter, api: FakeModelAPI, home: Path, wire: str
) -> None:
    answer_summaries(api)
    agent = await start_on(start, api, home, wire)  # no window known: only refusals compact
    session_id = (await agent.send(part(0)))["sessionId"]
    await agent.send(part(1), sessionId=session_id)
    api.context_limit = max(api.request_tokens) + 200  # the next message does not fit
    result = await agent.send(part(2), sessionId=session_id)
    assert result["status"] == "completed"
    assert len(api.rejected) == 1
    # the retried request: the recent user messages, this one included, then the summary
    retried = texts_of(api.requests[-1])
    assert part(2)[:40] in retried and SUMMARY in retried
    assert api.rejected[0][1]["error"]["code"] == "context_length_exceeded"
    phases = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "compaction"]
    assert [p["phase"] for p in phases] == ["started", "completed"]
    assert phases[0]["reason"] == "refused"
    assert len(summary_requests(api)) == 1
    # later turns go on from the compacted history
    assert (await agent.send("and then", sessionId=session_id))["status"] == "completed"
    assert len(api.rejected) == 1


@pytest.mark.parametrize("wire", WIRES)
async def test_compaction_with_a_call_output_in_flight(
    start: Starter, api: FakeModelAPI, home: Path, workspace: Path, wire: str
) -> None:
    """A call prints a lot: the request that would carry its output to the model passes the
    threshold, so the history is compacted first; the summary request carries the output,
    and the call keeps its output in the rollout and in the panel."""
    answer_summaries(api)
    api.context_limit = 3_000
    agent = await start_on(start, api, home, wire, contextWindow=3_000, autoCompactPercent=60)
    session_id = (await agent.send("hello"))["sessionId"]
    result = await agent.send("run: head -c 6000 /dev/zero | tr '\\0' a", sessionId=session_id)
    assert result["status"] == "completed"
    events = agent.turn_events(result["turnId"])
    kinds = [e["type"] for e in events]
    assert kinds.index("toolCallCompleted") < kinds.index("compaction")
    done = next(e for e in events if e["type"] == "toolCallCompleted")
    assert done["status"] == "completed"
    assert api.rejected == []
    assert "a" * 4000 in texts_of(summary_requests(api)[0])
    lines = rollout_lines(home, workspace, session_id)
    outputs = [
        line["payload"]
        for line in lines
        if line["type"] == "response_item" and line["payload"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 1 and "a" * 4000 in outputs[0]["output"]
    resumed = await agent.request("agent/resume", {"sessionId": session_id})
    tool = next(h for h in resumed["history"] if h["role"] == "tool")
    assert tool["status"] == "completed" and "a" * 4000 in tool["output"]


@pytest.mark.parametrize("wire", WIRES)
async def test_paged_resume_and_history(
    start: Starter, api: FakeModelAPI, home: Path, wire: str
) -> None:
    first = await start_on(start, api, home, wire)
    session_id = (await first.send("message 0"))["sessionId"]
    for n in range(1, 6):
        await first.send(f"message {n}", sessionId=session_id)
    await first.client.shutdown_session()
    second = await start_on(start, api, home, wire)
    everything = (await second.request("agent/resume", {"sessionId": session_id}))["history"]
    assert len(everything) == 12
    await second.client.shutdown_session()

    third = await start_on(start, api, home, wire)
    resumed = await third.request("agent/resume", {"sessionId": session_id, "historyLimit": 5})
    assert resumed["history"] == everything[-5:]
    pages = [resumed["history"]]
    cursor = resumed.get("historyCursor")
    while cursor is not None:
        page = await third.request("agent/history", {"cursor": cursor, "limit": 4})
        assert len(page["history"]) <= 4
        pages.insert(0, page["history"])
        cursor = page.get("cursor")
    assert [entry for page in pages for entry in page] == everything
    with pytest.raises(JsonRpcException) as bad:
        await third.request("agent/history", {"cursor": "not-a-cursor"})
    assert bad.value.code == -32602
    # the session goes on after a paged resume
    assert (await third.send("more", sessionId=session_id))["status"] == "completed"
    assert len(conversation(api.requests[-1])) == 13
    assert api.rejected == []


async def test_compact_on_demand(start: Starter, api: FakeModelAPI) -> None:
    answer_summaries(api)
    agent = await start()
    with pytest.raises(JsonRpcException) as nothing:
        await agent.request("agent/compact", {})
    assert nothing.value.code == -33001
    session_id = (await agent.send(part(0)))["sessionId"]
    await agent.send(part(1), sessionId=session_id)
    result = await agent.request("agent/compact", {"sessionId": session_id})
    assert result["tokensAfter"] < result["tokensBefore"]
    assert len(summary_requests(api)) == 1
    await agent.send("after", sessionId=session_id)
    assert SUMMARY in texts_of(api.requests[-1])
    # refused while a turn runs
    _msg, running = agent.start("agent/send", {"text": "slow: 0.05", "sessionId": session_id})
    await agent.wait_event("turnStarted", lambda e: e.get("text") == "slow: 0.05")
    with pytest.raises(JsonRpcException) as busy:
        await agent.request("agent/compact", {"sessionId": session_id})
    assert busy.value.code == -33002
    await agent.request("agent/interrupt", {"sessionId": session_id})
    assert (await asyncio.wait_for(running, 10))["status"] == "interrupted"


@pytest.mark.parametrize("wire", WIRES)
async def test_steering_joins_the_running_turn(
    start: Starter, api: FakeModelAPI, home: Path, wire: str
) -> None:
    agent = await start_on(start, api, home, wire)
    session_id = (await agent.send("hello"))["sessionId"]
    assert (await agent.request("agent/steer", {"text": "idle"}))["accepted"] is False
    _msg, running = agent.start("agent/send", {"text": "run: sleep 1", "sessionId": session_id})
    await agent.wait_event("toolCallStarted")
    steered = await agent.request("agent/steer", {"text": "also check the tests"})
    assert steered["accepted"] is True
    result = await asyncio.wait_for(running, 15)
    assert result["status"] == "completed"
    events = agent.turn_events(result["turnId"])
    kinds = [e["type"] for e in events]
    assert kinds.index("toolCallCompleted") < kinds.index("steered")
    assert next(e for e in events if e["type"] == "steered")["text"] == "also check the tests"
    # the text reached the model after the call's output, as a user message of the turn
    last = conversation(api.requests[-1])
    assert last[-2].get("type") == "function_call_output" or last[-2].get("role") == "tool"
    assert last[-1]["role"] == "user" and "also check the tests" in orjson.dumps(last[-1]).decode()
    assert result["finalMessage"] == "You said: also check the tests"
    history = (await agent.request("agent/resume", {"sessionId": session_id}))["history"]
    assert [h["text"] for h in history if h["role"] == "user"][-1] == "also check the tests"
    assert api.rejected == []


@pytest.mark.parametrize("wire", WIRES)
async def test_user_command_runs_streams_and_is_seen_next_turn(
    start: Starter, api: FakeModelAPI, home: Path, wire: str
) -> None:
    agent = await start_on(start, api, home, wire)
    session_id = (await agent.send("hello"))["sessionId"]
    count = len(api.requests)
    result = await agent.request(
        "agent/runCommand", {"sessionId": session_id, "command": "echo first; echo second"}
    )
    assert result["status"] == "completed"
    assert len(api.requests) == count  # no model request
    events = agent.turn_events(result["turnId"])
    kinds = [e["type"] for e in events]
    assert kinds[0] == "turnStarted" and kinds[-1] == "turnCompleted"
    started = next(e for e in events if e["type"] == "toolCallStarted")
    assert started["name"] == "user_shell"
    assert "first" in "".join(e["delta"] for e in events if e["type"] == "toolOutputDelta")
    done = next(e for e in events if e["type"] == "toolCallCompleted")
    assert done["exitCode"] == 0 and "second" in done["output"]
    await agent.send("what did it print?", sessionId=session_id)
    sent = texts_of(api.requests[-1])
    assert "<user_shell_command>" in sent and "echo first; echo second" in sent
    assert "second" in sent
    assert api.rejected == []
    history = (await agent.request("agent/resume", {"sessionId": session_id}))["history"]
    shell = next(h for h in history if h.get("toolName") == "user_shell")
    assert shell["text"] == "echo first; echo second" and shell["exitCode"] == 0


async def test_a_user_command_can_be_stopped(start: Starter, api: FakeModelAPI) -> None:
    agent = await start()
    session_id = (await agent.send("hello"))["sessionId"]
    tag = f"agentls-user-{uuid.uuid4().hex[:8]}"
    _msg, running = agent.start(
        "agent/runCommand", {"sessionId": session_id, "command": f"echo {tag}; sleep 30"}
    )
    await agent.wait_event("toolOutputDelta", lambda e: tag in e["delta"])
    procs = process_tree(pids_with_marker(tag))
    assert procs
    with pytest.raises(JsonRpcException) as busy:
        await agent.send("meanwhile", sessionId=session_id)
    assert busy.value.code == -33002
    stopped = await agent.request("agent/interrupt", {"sessionId": session_id})
    assert stopped["interrupted"] is True
    result = await asyncio.wait_for(running, 10)
    assert result["status"] == "interrupted"
    await wait_for(lambda: not [p for p in procs if alive(p)], 5)
    done = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted")
    assert done["status"] == "aborted"
    await agent.send("next", sessionId=session_id)
    sent = texts_of(api.requests[-1])
    assert "stopped by the user" in sent and tag in sent
    assert api.rejected == []


async def test_compaction_with_the_history_stored_by_the_service(
    start: Starter, api: FakeModelAPI, home: Path
) -> None:
    """`history = "server"`: after a compaction the chain starts again from the replacement,
    and a resumed session goes on with the chain stored after the compacted line."""
    answer_summaries(api)
    env = server_env(home, api.base_url, AGENTLS_HISTORY="server")
    options = {"contextWindow": 4_000, "autoCompactPercent": 60}
    agent = await start(env=env, init_options=options)
    session_id = (await agent.send(part(0)))["sessionId"]
    n = 1
    while not any(e["type"] == "compaction" for e in agent.events):
        assert n < 10, "no compaction happened"
        await agent.send(part(n), sessionId=session_id)
        n += 1
    summary = summary_requests(api)[0]
    after = api.requests[api.requests.index(summary) + 1]
    assert after["store"] is True and "previous_response_id" not in after
    assert SUMMARY in texts_of(after)
    await agent.send("one more", sessionId=session_id)
    assert "previous_response_id" in api.requests[-1]
    await agent.client.shutdown_session()

    second = await start(env=env, init_options=options)
    await second.request("agent/resume", {"sessionId": session_id, "historyLimit": 1})
    await second.send("after resume", sessionId=session_id)
    last = api.requests[-1]
    assert "previous_response_id" in last
    assert len(last["input"]) == 1  # only the new message: the rest is in the stored chain
    assert api.rejected == []


@pytest.mark.parametrize("wire", WIRES)
async def test_steering_while_the_model_answers_adds_a_request(
    start: Starter, api: FakeModelAPI, home: Path, wire: str
) -> None:
    agent = await start_on(start, api, home, wire)
    api.enqueue(Reply([TextItem("one two three four five six", delay_s=0.1)]))
    _msg, running = agent.start("agent/send", {"text": "tell me"})
    await agent.wait_event("textDelta")
    assert (await agent.request("agent/steer", {"text": "and briefly"}))["accepted"] is True
    result = await asyncio.wait_for(running, 15)
    assert result["status"] == "completed"
    assert result["finalMessage"] == "You said: and briefly"
    texts = [
        e["text"] for e in agent.turn_events(result["turnId"]) if e["type"] == "messageCompleted"
    ]
    assert texts == ["one two three four five six", "You said: and briefly"]
    last = conversation(api.requests[-1])
    assert [m["role"] for m in last] == ["user", "assistant", "user"]
    assert api.rejected == []


async def test_a_paged_resume_after_a_crash_shows_the_repair(
    start: Starter, api: FakeModelAPI
) -> None:
    """The entries answered by a paged resume are read after the crash repair: the cut-off
    call has its output and the cut-off turn its outcome, as a full resume shows them."""
    first = await start()
    session_id = (await first.send("before the crash"))["sessionId"]
    _msg, pending = first.start("agent/send", {"text": "run: sleep 30", "sessionId": session_id})
    await first.wait_event("toolCallStarted")
    first.server.kill()
    await first.server.wait()
    pending.cancel()

    second = await start()
    resumed = await second.request("agent/resume", {"sessionId": session_id, "historyLimit": 2})
    assert any("had no output" in w for w in resumed["warnings"])
    paged = resumed["history"]
    assert [h["role"] for h in paged] == ["user", "tool"]
    assert paged[-1]["status"] == "aborted" and paged[-1]["output"] == "aborted"
    full = await second.request("agent/resume", {"sessionId": session_id})
    assert full["history"][-2:] == paged
    assert (await second.send("go on", sessionId=session_id))["status"] == "completed"
    assert api.rejected == []


async def test_a_llamacpp_refusal_compacts_too(
    start: Starter, api: FakeModelAPI, home: Path
) -> None:
    """llama.cpp words it "exceeds the available context size" (`exceed_context_size_error`)."""
    answer_summaries(api)
    api.flavor = "llamacpp"
    agent = await start_on(start, api, home, "chat", autoCompactPercent=0)
    session_id = (await agent.send(part(0)))["sessionId"]
    await agent.send(part(1), sessionId=session_id)
    api.context_limit = max(api.request_tokens) + 200
    result = await agent.send(part(2), sessionId=session_id)
    assert result["status"] == "completed"
    assert [error["error"]["type"] for _status, error in api.rejected] == [
        "exceed_context_size_error"
    ]
    phases = [e for e in agent.turn_events(result["turnId"]) if e["type"] == "compaction"]
    assert [(p["phase"], p["reason"]) for p in phases] == [
        ("started", "refused"),
        ("completed", "refused"),
    ]


async def test_a_user_command_that_writes_is_checkpointed_like_a_shell_call(
    agent: Agent, workspace: Path
) -> None:
    session_id = (await agent.send("hello"))["sessionId"]
    result = await agent.request(
        "agent/runCommand", {"sessionId": session_id, "command": "echo made > made.txt"}
    )
    assert (workspace / "made.txt").read_text() == "made\n"
    diff = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "turnDiff")
    assert [f["path"] for f in diff["files"]] == ["made.txt"]
    undone = await agent.request("agent/undo", {"sessionId": session_id})
    assert undone["restoredFiles"] == ["made.txt"]
    assert not (workspace / "made.txt").exists()
