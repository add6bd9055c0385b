"""`agentls acp` end to end: the real process, the SDK's client side, the strict fake API.

The scenarios of the LSP end-to-end tests, through the second front end: send and stream,
a tool call, a denial, a stop that kills the command, a load after the agent process is
gone, an edit's diff, the client's MCP servers and files, and a session moved between LSP
and ACP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from acp import PROTOCOL_VERSION, RequestError, text_block
from acp.schema import (
    AgentMessageChunk,
    ClientCapabilities,
    FileSystemCapabilities,
    McpServerStdio,
    ToolCallProgress,
    ToolCallStart,
    UserMessageChunk,
)
from acp.stdio import spawn_agent_process
from fixtures.fake_api import FakeModelAPI
from tests.agentls.acp.fake_core import RecordingClient
from tests.e2e.conftest import Starter
from tests.e2e.harness import server_env
from tests.helpers import alive, pids_with_marker, process_tree, wait_for

MCP_FIXTURE = str(Path(__file__).resolve().parents[2] / "fixtures" / "mcp" / "server.py")
Connection = Any


@contextlib.asynccontextmanager
async def acp_agent(
    env: dict[str, str], workspace: Path, *, fs: bool = False
) -> AsyncIterator[tuple[Connection, RecordingClient, asyncio.subprocess.Process]]:
    """`agentls acp` started as an editor starts it, and initialized."""
    client = RecordingClient()
    async with spawn_agent_process(
        lambda _agent: client,
        sys.executable,
        "-m",
        "agentls",
        "acp",
        env=env,
        cwd=workspace,
        use_unstable_protocol=True,
    ) as (conn, process):
        files = FileSystemCapabilities(read_text_file=fs, write_text_file=fs)
        await conn.initialize(
            protocol_version=PROTOCOL_VERSION, client_capabilities=ClientCapabilities(fs=files)
        )
        yield conn, client, process


def agent_text(client: RecordingClient, session_id: str) -> str:
    return "".join(
        update.content.text
        for sid, update in client.updates
        if sid == session_id and isinstance(update, AgentMessageChunk)
    )


def tool_updates(client: RecordingClient, session_id: str) -> list[Any]:
    return [
        update
        for sid, update in client.updates
        if sid == session_id and isinstance(update, ToolCallStart | ToolCallProgress)
    ]


def final_status(client: RecordingClient, session_id: str) -> str | None:
    statuses = [u.status for u in tool_updates(client, session_id) if u.status is not None]
    return statuses[-1] if statuses else None


def content_text(update: Any) -> str:
    parts = []
    for item in update.content or []:
        inner = getattr(item, "content", None)
        parts.append(str(getattr(inner, "text", "")))
    return "".join(parts)


@pytest.fixture
def env(api: FakeModelAPI, home: Path) -> dict[str, str]:
    return server_env(home, api.base_url)


async def test_a_prompt_streams_and_ends_the_turn(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    async with acp_agent(env, workspace) as (conn, client, _process):
        new = await conn.new_session(cwd=str(workspace))
        answer = await conn.prompt(session_id=new.session_id, prompt=[text_block("hello")])
        assert answer.stop_reason == "end_turn"
        await wait_for(lambda: "You said: hello" in agent_text(client, new.session_id))
    assert api.rejected == []


async def test_a_command_runs_as_a_tool_call_with_its_output(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    async with acp_agent(env, workspace) as (conn, client, _process):
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        answer = await conn.prompt(session_id=sid, prompt=[text_block("run: echo from-acp")])
        assert answer.stop_reason == "end_turn"
        await wait_for(lambda: final_status(client, sid) == "completed")
        started = next(u for u in tool_updates(client, sid) if isinstance(u, ToolCallStart))
        assert started.kind in ("execute", "read", "search")
        assert any("from-acp" in content_text(u) for u in tool_updates(client, sid))
        assert client.asked == []  # `echo` only reads: it ran unasked
    assert api.rejected == []


async def test_a_denied_command_does_not_run(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    async with acp_agent(env, workspace) as (conn, client, _process):
        client.answer = "reject_once"
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        answer = await conn.prompt(session_id=sid, prompt=[text_block("run: touch made.txt")])
        assert answer.stop_reason == "end_turn"
        assert len(client.asked) == 1
        tool_call, options = client.asked[0]
        assert {o.kind for o in options} == {
            "allow_once",
            "allow_always",
            "reject_once",
            "reject_always",
        }
        assert "touch made.txt" in str(tool_call.model_dump())
        await wait_for(lambda: final_status(client, sid) == "failed")
    assert not (workspace / "made.txt").exists()
    assert api.rejected == []


async def test_cancel_kills_the_command_and_the_next_prompt_is_accepted(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    tag = f"agentls-acp-{uuid.uuid4().hex[:8]}"
    async with acp_agent(env, workspace) as (conn, client, _process):
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        prompt = asyncio.ensure_future(
            conn.prompt(session_id=sid, prompt=[text_block(f"run: sleep 30; echo {tag}")])
        )
        await wait_for(lambda: len(process_tree(pids_with_marker(tag))) >= 2, 15)
        pids = process_tree(pids_with_marker(tag))  # bash and its `sleep`
        await conn.cancel(session_id=sid)
        answer = await asyncio.wait_for(prompt, 10)
        assert answer.stop_reason == "cancelled"
        assert [pid for pid in pids if alive(pid)] == []  # gone when the answer arrives
        await wait_for(lambda: final_status(client, sid) == "failed")
        again = await conn.prompt(session_id=sid, prompt=[text_block("still there?")])
        assert again.stop_reason == "end_turn"
    # the strict API took the next request: the stopped call has its output
    assert api.rejected == []
    outputs = [i for i in api.requests[-1]["input"] if i.get("type") == "function_call_output"]
    assert outputs and outputs[-1]["output"] == "aborted"


async def test_load_after_the_agent_was_killed_replays_the_conversation(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    async with acp_agent(env, workspace) as (conn, _client, process):
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        await conn.prompt(session_id=sid, prompt=[text_block("remember the word pelican")])
        await conn.prompt(session_id=sid, prompt=[text_block("run: echo two")])
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
    async with acp_agent(env, workspace) as (conn, client, _process):
        listed = await conn.list_sessions(cwd=str(workspace))
        assert [s.session_id for s in listed.sessions] == [sid]
        await conn.load_session(cwd=str(workspace), session_id=sid)
        users = [
            u.content.text
            for s, u in client.updates
            if s == sid and isinstance(u, UserMessageChunk)
        ]
        assert users == ["remember the word pelican", "run: echo two"]
        assert "You said: remember the word pelican" in agent_text(client, sid)
        assert final_status(client, sid) == "completed"
        answer = await conn.prompt(session_id=sid, prompt=[text_block("and now?")])
        assert answer.stop_reason == "end_turn"
    assert api.rejected == []


PATCH = """*** Begin Patch
*** Update File: notes.txt
@@
-old line
+new line
*** End Patch"""


async def test_an_edit_shows_its_diff(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    (workspace / "notes.txt").write_text("old line\n")
    async with acp_agent(env, workspace) as (conn, client, _process):
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        answer = await conn.prompt(session_id=sid, prompt=[text_block("patch:\n" + PATCH)])
        assert answer.stop_reason == "end_turn"
        await wait_for(lambda: final_status(client, sid) == "completed")
        started = next(u for u in tool_updates(client, sid) if isinstance(u, ToolCallStart))
        assert started.kind == "edit"
        diffs = [c for u in tool_updates(client, sid) for c in u.content or [] if c.type == "diff"]
        assert diffs and diffs[0].path == str(workspace / "notes.txt")
        assert "new line" in diffs[0].new_text
    assert (workspace / "notes.txt").read_text() == "new line\n"
    assert api.rejected == []


async def test_an_edit_is_planned_on_and_written_through_the_clients_buffer(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    path = workspace / "notes.txt"
    path.write_text("old line\n")
    async with acp_agent(env, workspace, fs=True) as (conn, client, _process):
        client.files[str(path)] = "unsaved first\nold line\n"  # the editor's unsaved buffer
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        answer = await conn.prompt(session_id=sid, prompt=[text_block("patch:\n" + PATCH)])
        assert answer.stop_reason == "end_turn"
        await wait_for(lambda: final_status(client, sid) == "completed")
        assert client.files[str(path)] == "unsaved first\nnew line\n"
    assert path.read_text() == "old line\n"  # the disk is the editor's to save
    assert api.rejected == []


async def test_the_clients_mcp_servers_join_the_tools(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    server = McpServerStdio(name="fix", command=sys.executable, args=[MCP_FIXTURE], env=[])
    async with acp_agent(env, workspace) as (conn, _client, _process):
        new = await conn.new_session(cwd=str(workspace), mcp_servers=[server])
        await conn.prompt(session_id=new.session_id, prompt=[text_block("hello")])
    names = [tool.get("name") for tool in api.requests[-1]["tools"]]
    assert "mcp__fix__echo" in names
    assert "shell" in names


async def test_a_session_moves_between_lsp_and_acp(
    env: dict[str, str], workspace: Path, api: FakeModelAPI, start: Starter
) -> None:
    lsp = await start()
    from_lsp = (await lsp.send("said in the lsp panel"))["sessionId"]
    await lsp.request("shutdown", None)
    async with acp_agent(env, workspace) as (conn, client, _process):
        listed = await conn.list_sessions(cwd=str(workspace))
        assert from_lsp in [s.session_id for s in listed.sessions]
        await conn.load_session(cwd=str(workspace), session_id=from_lsp)
        assert "You said: said in the lsp panel" in agent_text(client, from_lsp)
        await conn.prompt(session_id=from_lsp, prompt=[text_block("said over acp")])
        new = await conn.new_session(cwd=str(workspace))
        await conn.prompt(session_id=new.session_id, prompt=[text_block("an acp session")])
        from_acp = new.session_id
    other = await start()
    listed_lsp = await other.request("agent/listSessions", {})
    assert {from_lsp, from_acp} <= {s["sessionId"] for s in listed_lsp["sessions"]}
    resumed = await other.request("agent/resume", {"sessionId": from_lsp})
    texts = [h["text"] for h in resumed["history"] if h["role"] == "user"]
    assert texts == ["said in the lsp panel", "said over acp"]
    assert api.rejected == []


async def test_bad_input_gets_errors_and_loses_nothing(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    async with acp_agent(env, workspace) as (conn, _client, _process):
        with pytest.raises(RequestError) as unknown:
            await conn.prompt(session_id="no-such-session", prompt=[text_block("hi")])
        assert unknown.value.code == -33001
        with pytest.raises(RequestError) as relative:
            await conn.new_session(cwd="relative/folder")
        assert relative.value.code == -32602
        with pytest.raises(RequestError) as missing:
            await conn.load_session(cwd=str(workspace), session_id=str(uuid.uuid4()))
        assert missing.value.code == -33001
        with pytest.raises(RequestError) as method:
            await conn.ext_method("agentls/nothing", {})
        assert method.value.code == -32601
        new = await conn.new_session(cwd=str(workspace))
        answer = await conn.prompt(session_id=new.session_id, prompt=[text_block("still fine")])
        assert answer.stop_reason == "end_turn"
    assert api.rejected == []


async def test_a_client_that_goes_away_mid_turn_stops_it_cleanly(
    env: dict[str, str], workspace: Path, api: FakeModelAPI
) -> None:
    tag = f"agentls-acp-gone-{uuid.uuid4().hex[:8]}"
    async with acp_agent(env, workspace) as (conn, _client, process):
        new = await conn.new_session(cwd=str(workspace))
        sid = new.session_id
        prompt = asyncio.ensure_future(
            conn.prompt(session_id=sid, prompt=[text_block(f"run: sleep 30; echo {tag}")])
        )
        await wait_for(lambda: len(process_tree(pids_with_marker(tag))) >= 2, 15)
        pids = process_tree(pids_with_marker(tag))
        assert process.stdin is not None
        process.stdin.close()  # the editor is gone
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert [pid for pid in pids if alive(pid)] == []
        prompt.cancel()
        with contextlib.suppress(BaseException):
            await prompt
    async with acp_agent(env, workspace) as (conn, client, _process):
        await conn.load_session(cwd=str(workspace), session_id=sid)
        assert final_status(client, sid) == "failed"  # the stopped call, answered
        answer = await conn.prompt(session_id=sid, prompt=[text_block("go on")])
        assert answer.stop_reason == "end_turn"
    assert api.rejected == []
