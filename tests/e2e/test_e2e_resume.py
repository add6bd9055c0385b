"""Points 4-5: quit or SIGKILL mid-command, resume in a new server; sessions and listing."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from functools import partial
from pathlib import Path

import orjson
import pytest
from fixtures.fake_api import FakeModelAPI
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent
from tests.helpers import alive, pids_with_marker, process_tree, wait_for, written_later_than

from agentls.rollout.paths import WorkspaceLayout


def _strictly_paired(body: dict[str, object]) -> bool:
    items = body["input"]
    assert isinstance(items, list)
    calls = {i["call_id"] for i in items if i["type"] == "function_call"}
    outputs = {i["call_id"] for i in items if i["type"] == "function_call_output"}
    return calls == outputs


async def test_sigkill_mid_command_then_resume(
    start: Starter, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    first = await start()
    await first.send("before the crash")
    tag = f"agentls-kill-{uuid.uuid4().hex[:8]}"
    _msg, pending = first.start("agent/send", {"text": f"run: sleep 30; echo {tag}"})
    await first.wait_event("toolCallStarted")
    await wait_for(lambda: len(process_tree(pids_with_marker(tag))) >= 2)
    tools = process_tree(pids_with_marker(tag))  # bash and its grandchild `sleep 30`
    os.kill(first.server.pid, signal.SIGKILL)
    await first.server.wait()
    pending.cancel()
    # nothing the killed server started survives it
    await wait_for(lambda: not [p for p in tools if alive(p)], 5, explain=lambda: tools)

    second = await start()
    resumed = await second.request("agent/resume", {})
    history = resumed["history"]
    assert [h["role"] for h in history] == ["user", "assistant", "user", "tool"]
    assert history[0]["text"] == "before the crash"
    assert history[-1]["status"] == "aborted"
    assert any("had no output" in w for w in resumed["warnings"])
    result = await second.send("carry on", sessionId=resumed["sessionId"])
    assert result["status"] == "completed"
    assert api.rejected == []
    assert _strictly_paired(api.requests[-1])
    assert api.requests[-1]["store"] is False
    # the same file goes on: one session in the folder
    assert len(list(WorkspaceLayout.for_path(home, workspace).sessions_dir.iterdir())) == 1


async def test_quit_mid_turn_then_resume(start: Starter, api: FakeModelAPI) -> None:
    first = await start()
    _msg, pending = first.start("agent/send", {"text": "run: sleep 30"})
    await first.wait_event("toolCallStarted")
    await asyncio.wait_for(first.client.shutdown_session(), 15)
    result = await asyncio.wait_for(pending, 5)
    assert result["status"] == "interrupted"
    second = await start()
    resumed = await second.request("agent/resume", {})
    assert resumed["warnings"] == []  # the orderly stop left nothing to repair
    assert resumed["history"][-1]["status"] == "aborted"
    assert (await second.send("next"))["status"] == "completed"
    assert api.rejected == []


async def test_resume_without_sessions_is_a_clear_error(agent: Agent) -> None:
    with pytest.raises(JsonRpcException) as error:
        await agent.request("agent/resume", {})
    assert error.value.code == -33001
    assert "no sessions" in error.value.message


async def test_resume_by_id_and_unknown_ids(start: Starter) -> None:
    first = await start()
    a = (await first.send("session a"))["sessionId"]
    b = (await first.request("agent/newSession", {}))["sessionId"]
    await first.send("session b", sessionId=b)
    await first.client.shutdown_session()
    second = await start()
    resumed = await second.request("agent/resume", {"sessionId": a})
    assert resumed["title"] == "session a"
    latest = await second.request("agent/resume", {})
    assert latest["sessionId"] == b
    with pytest.raises(JsonRpcException) as unknown:
        await second.request("agent/resume", {"sessionId": str(uuid.uuid4())})
    assert unknown.value.code == -33001
    with pytest.raises(JsonRpcException) as unknown_send:
        await second.send("x", sessionId=str(uuid.uuid4()))
    assert unknown_send.value.code == -33001


async def test_two_servers_cannot_write_one_session(start: Starter) -> None:
    first = await start()
    session_id = (await first.send("mine"))["sessionId"]
    second = await start()
    with pytest.raises(JsonRpcException) as locked:
        await second.request("agent/resume", {"sessionId": session_id})
    assert locked.value.code == -33003
    assert "another agentls server" in locked.value.message
    # the second server can still work in a session of its own
    assert (await second.send("separate"))["sessionId"] != session_id


async def test_new_and_list_sessions_with_paging(agent: Agent, home: Path, tmp_path: Path) -> None:
    ids = []
    for n in range(5):
        session_id = (await agent.request("agent/newSession", {}))["sessionId"]
        await agent.send(f"topic {n}", sessionId=session_id)
        ids.append(session_id)
        # sessions are listed by their files' times, which tick coarsely: the next session's
        # file must be written on a later tick than this one's
        (latest,) = home.rglob(f"*{session_id}.jsonl")
        await wait_for(partial(written_later_than, latest, tmp_path / "probe"), what="a tick")
    page = await agent.request("agent/listSessions", {"limit": 2})
    assert [s["sessionId"] for s in page["sessions"]] == [ids[4], ids[3]]
    first = page["sessions"][0]
    assert first["title"] == "topic 4" and first["turns"] == 1
    assert first["createdAt"] <= first["updatedAt"]
    seen = [s["sessionId"] for s in page["sessions"]]
    while "nextCursor" in page:
        page = await agent.request("agent/listSessions", {"limit": 2, "cursor": page["nextCursor"]})
        seen += [s["sessionId"] for s in page["sessions"]]
    assert seen == ids[::-1]
    # activity moves a session to the front
    await agent.send("again", sessionId=ids[0])
    top = await agent.request("agent/listSessions", {"limit": 1})
    assert top["sessions"][0]["sessionId"] == ids[0]


async def test_sessions_changed_when_another_process_writes(
    agent: Agent, home: Path, workspace: Path
) -> None:
    await agent.send("hello")
    # a listing is answered once the folder is watched: every later change is told
    await agent.request("agent/listSessions", {})
    agent.sessions_changed = 0
    folder = WorkspaceLayout.for_path(home, workspace).sessions_dir
    other = folder / f"2026-01-01T00-00-00Z-{uuid.uuid4()}.jsonl"
    other.write_bytes(
        orjson.dumps({"timestamp": "t", "type": "session_meta", "payload": {"id": "x"}}) + b"\n"
    )
    await agent.wait_sessions_changed()
    listed = await agent.request("agent/listSessions", {})
    assert len(listed["sessions"]) == 2


async def test_corrupt_lines_do_not_hide_a_session(
    start: Starter, home: Path, workspace: Path, api: FakeModelAPI
) -> None:
    first = await start()
    session_id = (await first.send("keep me"))["sessionId"]
    await first.client.shutdown_session()
    path = WorkspaceLayout.for_path(home, workspace).find_session(session_id)
    assert path is not None
    data = path.read_bytes().split(b"\n")
    data.insert(2, b"\x00garbage{{{")
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(data) + b'{"timestamp": "x", "ty')
    second = await start()
    resumed = await second.request("agent/resume", {})
    assert resumed["sessionId"] == session_id
    assert resumed["history"][0]["text"] == "keep me"
    assert len(resumed["warnings"]) == 2
    assert (await second.send("still works"))["status"] == "completed"
    assert api.rejected == []
