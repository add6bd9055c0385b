"""The ACP agent end to end over a socket, with the SDK's own client, on a scripted core."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from acp import (
    PROTOCOL_VERSION,
    RequestError,
    audio_block,
    resource_link_block,
    text_block,
)
from acp.schema import (
    AgentMessageChunk,
    EnvVariable,
    McpServerStdio,
    SseMcpServer,
    ToolCallProgress,
    ToolCallStart,
    UserMessageChunk,
)
from tests.agentls.acp.fake_core import FS, FakeCore, Turn, connected

from agentls.acp.agent import AcpAgent, stop_reason
from agentls.agent.results import TurnResult

CWD = Path("/work/project")


async def settle(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until `predicate()` holds: notifications after an answer arrive a little later."""
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_initialize_says_what_agentls_offers() -> None:
    async with connected(FakeCore()) as (conn, _client):
        answer = await conn.initialize(protocol_version=PROTOCOL_VERSION)
    wire = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["protocolVersion"] == 1
    assert wire["agentInfo"]["name"] == "agentls"
    capabilities = wire["agentCapabilities"]
    assert capabilities["loadSession"] is True
    assert capabilities["promptCapabilities"] == {
        "image": False,
        "audio": False,
        "embeddedContext": True,
    }
    assert capabilities["mcpCapabilities"] == {"http": True, "sse": False, "acp": False}
    assert set(capabilities["sessionCapabilities"]) == {"list", "resume", "close", "fork"}


async def test_a_new_session_then_a_prompt_streams_and_answers_end_turn() -> None:
    core = FakeCore()
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        mcp = McpServerStdio(
            name="files", command="mcp-files", args=[], env=[EnvVariable(name="A", value="b")]
        )
        new = await conn.new_session(cwd=str(CWD), mcp_servers=[mcp])
        assert new.config_options is not None
        assert [o.id for o in new.config_options] == ["model", "approval"]  # type: ignore[union-attr]
        assert new.modes is not None
        assert new.modes.current_mode_id == "ask-unsafe"
        assert core.calls[0] == (
            "new_session",
            CWD,
            {"files": {"command": "mcp-files", "args": [], "env": {"A": "b"}}},
        )
        await settle(lambda: "available_commands_update" in client.kinds())
        core.retitle(new.session_id, "Say hello")
        answer = await conn.prompt(
            session_id=new.session_id,
            prompt=[text_block("Hi, see "), resource_link_block("a.py", f"file://{CWD}/a.py")],
        )
        assert answer.stop_reason == "end_turn"
        assert answer.usage is not None
        assert (answer.usage.input_tokens, answer.usage.total_tokens) == (10, 12)
    assert core.calls[-1] == (
        "send",
        new.session_id,
        "Hi, see @a.py",
        [{"uri": f"file://{CWD}/a.py"}],
        [],
    )
    chunks = [u for _, u in client.updates if isinstance(u, AgentMessageChunk)]
    assert "".join(c.content.text for c in chunks) == "Hello"  # type: ignore[union-attr]
    assert client.kinds()[-1] == "session_info_update"  # the new title, before the answer


async def test_an_approval_is_asked_after_the_call_is_shown() -> None:
    core = FakeCore()

    async def script(turn: Turn) -> TurnResult:
        from agentls.agent.approvals import ApprovalRequest

        turn.emit("turnStarted", text=turn.text)
        arguments = json.dumps({"command": ["make", "install"]})
        turn.emit("toolCallStarted", callId="c1", name="shell", arguments=arguments)
        decision = await turn.approver(
            ApprovalRequest(
                turn.session_id, turn.turn_id, "c1", "shell", str(CWD), ["make", "install"]
            )
        )
        assert decision == "approve"
        turn.emit("toolOutputDelta", callId="c1", delta="installed\n")
        turn.emit(
            "toolCallCompleted", callId="c1", status="completed", output="installed\n", exitCode=0
        )
        turn.emit("turnCompleted", status="completed")
        return TurnResult(turn.session_id, turn.turn_id, "completed")

    core.script = script
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        answer = await conn.prompt(session_id=session.session_id, prompt=[text_block("install")])
    assert answer.stop_reason == "end_turn"
    ((tool_call, options),) = client.asked
    assert tool_call.tool_call_id == "turn-1/c1"
    assert [o.kind for o in options] == [
        "allow_once",
        "allow_always",
        "reject_once",
        "reject_always",
    ]
    calls = [u for _, u in client.updates if isinstance(u, ToolCallStart | ToolCallProgress)]
    assert [(type(u).__name__, u.status) for u in calls] == [
        ("ToolCallStart", "pending"),
        ("ToolCallProgress", "in_progress"),  # approved: running
        ("ToolCallProgress", "in_progress"),  # its output
        ("ToolCallProgress", "completed"),
    ]


async def test_cancel_stops_the_turn_and_withdraws_the_question() -> None:
    core = FakeCore()
    decisions: list[str] = []

    async def script(turn: Turn) -> TurnResult:
        from agentls.agent.approvals import ApprovalRequest

        turn.emit("turnStarted", text=turn.text)
        turn.emit("toolCallStarted", callId="c1", name="shell", arguments='{"command": ["rm"]}')
        decisions.append(
            await turn.approver(
                ApprovalRequest(turn.session_id, turn.turn_id, "c1", "shell", str(CWD), ["rm"])
            )
        )
        await turn.stop.wait()
        turn.emit("toolCallCompleted", callId="c1", status="aborted", output="aborted")
        turn.emit("turnCompleted", status="interrupted")
        return TurnResult(turn.session_id, turn.turn_id, "interrupted")

    core.script = script
    async with connected(core) as (conn, client):
        client.answer = None  # the question stays open until the client withdraws it
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        prompt = asyncio.ensure_future(
            conn.prompt(session_id=session.session_id, prompt=[text_block("clean")])
        )
        await settle(lambda: bool(client.asked))
        await conn.cancel(session_id=session.session_id)
        client.release.set()  # ACP: the client answers open questions `cancelled`
        answer = await prompt
    assert answer.stop_reason == "cancelled"
    assert decisions == ["abort"]
    assert ("interrupt", session.session_id) in core.calls
    last = [u for _, u in client.updates if isinstance(u, ToolCallProgress)][-1]
    assert last.status == "failed"


async def test_cancel_before_the_turn_starts_still_answers_cancelled() -> None:
    core = FakeCore()
    core.gate = asyncio.Event()  # the core is still getting ready (the model, the history)
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        prompt = asyncio.ensure_future(
            conn.prompt(session_id=session.session_id, prompt=[text_block("x")])
        )
        await settle(lambda: any(call[0] == "send" for call in core.calls))
        await conn.cancel(session_id=session.session_id)
        await conn.cancel(session_id=session.session_id)  # twice: still one answer
        assert (await prompt).stop_reason == "cancelled"
        assert core.turns == []  # no turn ran
        # and the session takes the next prompt
        core.gate = None
        again = await conn.prompt(session_id=session.session_id, prompt=[text_block("y")])
        assert again.stop_reason == "end_turn"


async def test_load_replays_the_history_before_answering() -> None:
    core = FakeCore()
    history = [
        {"role": "user", "text": "hi", "turnId": "t1"},
        {"role": "assistant", "text": "hello", "turnId": "t1"},
    ]
    session_id = core.add(CWD, "Greeting", history)
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        loaded = await conn.load_session(cwd=str(CWD), session_id=session_id, mcp_servers=[])
        replayed = list(client.updates)
        assert loaded is not None
        assert loaded.config_options is not None
        assert [type(u) for _, u in replayed] == [UserMessageChunk, AgentMessageChunk]
        await settle(lambda: "session_info_update" in client.kinds())
        resumed = await conn.resume_session(cwd=str(CWD), session_id=session_id, mcp_servers=[])
        assert resumed.config_options is not None
        assert ("open_session", session_id, False) in core.calls
        with pytest.raises(RequestError) as unknown:
            await conn.load_session(cwd=str(CWD), session_id="nope", mcp_servers=[])
    assert unknown.value.code == -33001


async def test_list_sessions_pages() -> None:
    core = FakeCore()
    for title in ("a", "b", "c"):
        core.add(CWD, title)
    core.add(Path("/elsewhere"), "d")
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        first = await conn.list_sessions(cwd=str(CWD))
        second = await conn.list_sessions(cwd=str(CWD), cursor=first.next_cursor)
        assert [s.title for s in first.sessions + second.sessions] == ["a", "b", "c"]
        assert second.next_cursor is None
        assert first.sessions[0].cwd == str(CWD)
        with pytest.raises(RequestError) as bad:
            await conn.list_sessions(cursor="garbage")
    assert bad.value.code == -32602


async def test_bad_input_is_an_error_and_nothing_is_lost() -> None:
    core = FakeCore()
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        with pytest.raises(RequestError) as audio:
            await conn.prompt(
                session_id=session.session_id,
                prompt=[text_block("listen"), audio_block("aGk=", "audio/wav")],
            )
        assert audio.value.code == -32602
        assert "prompt[1]: audio" in str(audio.value)
        with pytest.raises(RequestError) as unknown:
            await conn.prompt(session_id="not-open", prompt=[text_block("x")])
        assert unknown.value.code == -33001
        with pytest.raises(RequestError) as relative:
            await conn.new_session(cwd="relative/path", mcp_servers=[])
        assert relative.value.code == -32602
        sse = SseMcpServer(type="sse", name="old", url="https://x", headers=[])
        with pytest.raises(RequestError) as transport:
            await conn.new_session(cwd=str(CWD), mcp_servers=[sse])
        assert "sse transport" in str(transport.value)
        # the session still works
        ok = await conn.prompt(session_id=session.session_id, prompt=[text_block("hi")])
        assert ok.stop_reason == "end_turn"
    assert [c[0] for c in core.calls].count("send") == 1


async def test_a_second_prompt_while_one_runs_is_refused() -> None:
    core = FakeCore()

    async def script(turn: Turn) -> TurnResult:
        await turn.stop.wait()
        return TurnResult(turn.session_id, turn.turn_id, "interrupted")

    core.script = script
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        first = asyncio.ensure_future(
            conn.prompt(session_id=session.session_id, prompt=[text_block("a")])
        )
        await settle(lambda: bool(core.turns))
        with pytest.raises(RequestError) as busy:
            await conn.prompt(session_id=session.session_id, prompt=[text_block("b")])
        assert busy.value.code == -33002
        await conn.cancel(session_id=session.session_id)
        assert (await first).stop_reason == "cancelled"


async def test_a_failed_turn_is_an_error_with_the_core_s_words() -> None:
    core = FakeCore()

    async def script(turn: Turn) -> TurnResult:
        error = {"message": "401 from the model API. Check OPENAI_API_KEY", "httpStatus": 401}
        turn.emit("turnCompleted", status="failed", error=error)
        return TurnResult(turn.session_id, turn.turn_id, "failed", error=error)

    core.script = script
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        with pytest.raises(RequestError) as failed:
            await conn.prompt(session_id=session.session_id, prompt=[text_block("hi")])
    assert "401 from the model API" in str(failed.value)
    assert failed.value.data == {"httpStatus": 401}


def test_stop_reasons() -> None:
    def result(status: str, **error: object) -> TurnResult:
        return TurnResult("s", "t", status, error=dict(error) or None)  # type: ignore[arg-type]

    assert stop_reason(result("completed"), cancelled=False) == "end_turn"
    assert stop_reason(result("completed"), cancelled=True) == "cancelled"
    assert stop_reason(result("interrupted"), cancelled=False) == "cancelled"
    assert stop_reason(result("failed", message="boom"), cancelled=True) == "cancelled"
    cut = "the model stopped before finishing its answer (max_output_tokens)"
    assert stop_reason(result("failed", message=cut, code="incomplete"), False) == "max_tokens"
    filtered = "the model stopped before finishing its answer (content_filter)"
    assert stop_reason(result("failed", message=filtered, code="incomplete"), False) == "refusal"
    many = "the model kept calling tools for 200 requests; stopped the turn"
    assert stop_reason(result("failed", message=many), False) == "max_turn_requests"


async def test_slash_commands_reach_the_core() -> None:
    core = FakeCore()
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        sid = session.session_id
        for text in ("/compact", "/undo files force", "/fork", "/run make test"):
            answer = await conn.prompt(session_id=sid, prompt=[text_block(text)])
            assert answer.stop_reason == "end_turn", text
        with pytest.raises(RequestError) as bad:
            await conn.prompt(session_id=sid, prompt=[text_block("/undo everything")])
        assert bad.value.code == -32602
    names = [call[0] for call in core.calls]
    assert names[1:] == ["compact", "undo", "fork", "run_command"]
    assert core.calls[2] == ("undo", sid, "files", True)
    said = [
        u.content.text  # type: ignore[union-attr]
        for _, u in client.updates
        if isinstance(u, AgentMessageChunk) and u.message_id is None
    ]
    assert said[0] == "Compacted the conversation: 50,000 → 4,000 tokens."
    assert "Skipped b.py: changed since the turn" in said[1]
    assert "Forked this conversation into a new session" in said[2]
    run = [u for _, u in client.updates if isinstance(u, ToolCallStart)]
    assert [(u.title, u.kind) for u in run] == [("make test", "execute")]


async def test_config_options_and_modes() -> None:
    core = FakeCore()
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        sid = session.session_id
        changed = await conn.set_config_option(
            config_id="model", session_id=sid, value="gpt-5-mini"
        )
        assert changed.config_options[0].current_value == "gpt-5-mini"  # type: ignore[union-attr]
        changed = await conn.set_config_option(
            config_id="approval", session_id=sid, value="never-ask"
        )
        assert changed.config_options[1].current_value == "never-ask"  # type: ignore[union-attr]
        await settle(lambda: "current_mode_update" in client.kinds())
        await conn.set_session_mode(session_id=sid, mode_id="always-ask")
        await settle(lambda: "config_option_update" in client.kinds())
        with pytest.raises(RequestError) as bad:
            await conn.set_config_option(config_id="model", session_id=sid, value="gpt-2")
        assert bad.value.code == -32602
    assert core.sessions[sid].model == "gpt-5-mini"
    assert core.sessions[sid].approval == "always-ask"


async def test_the_client_s_files_reach_the_core_when_offered() -> None:
    core = FakeCore()
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION, client_capabilities=FS)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        client.files[f"{CWD}/a.py"] = "unsaved text\n"
        files = core.files
        assert files is not None
        assert files.read is not None
        assert files.write is not None
        assert await files.read(session.session_id, CWD / "a.py") == "unsaved text\n"
        await files.write(session.session_id, CWD / "b.py", "new\n")
        assert client.files[f"{CWD}/b.py"] == "new\n"
    async with connected(core) as (conn, client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        await conn.new_session(cwd=str(CWD), mcp_servers=[])
        assert core.files is not None
        assert (core.files.read, core.files.write) == (None, None)


async def test_fork_and_close() -> None:
    core = FakeCore()
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        forked = await conn.fork_session(
            session_id=session.session_id, cwd=str(CWD), mcp_servers=[]
        )
        assert forked.session_id != session.session_id
        await conn.close_session(session_id=session.session_id)
        with pytest.raises(RequestError) as closed:
            await conn.prompt(session_id=session.session_id, prompt=[text_block("x")])
        assert closed.value.code == -33001
        ok = await conn.prompt(session_id=forked.session_id, prompt=[text_block("x")])
        assert ok.stop_reason == "end_turn"
    assert ("close_session", session.session_id) in core.calls


async def test_closing_a_session_mid_turn_answers_its_prompt_cancelled() -> None:
    core = FakeCore()

    async def script(turn: Turn) -> TurnResult:
        await turn.stop.wait()
        return TurnResult(turn.session_id, turn.turn_id, "interrupted")

    core.script = script
    async with connected(core) as (conn, _client):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        session = await conn.new_session(cwd=str(CWD), mcp_servers=[])
        prompt = asyncio.ensure_future(
            conn.prompt(session_id=session.session_id, prompt=[text_block("a")])
        )
        await settle(lambda: bool(core.turns))
        with pytest.raises(RequestError) as busy:
            await conn.load_session(cwd=str(CWD), session_id=session.session_id, mcp_servers=[])
        assert busy.value.code == -33002
        await conn.close_session(session_id=session.session_id)
        assert (await prompt).stop_reason == "cancelled"


async def test_sessions_are_closed_when_the_connection_ends() -> None:
    core = FakeCore()
    agent = AcpAgent(core)
    session = await agent.new_session(cwd=str(CWD), mcp_servers=[])
    await agent.aclose()
    assert ("close_session", session.session_id) in core.calls
