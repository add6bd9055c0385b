"""Points 1-2 of a session: send, stream, tools, approvals, over stdio against the fake API."""

from __future__ import annotations

from pathlib import Path

from fixtures.fake_api import CallItem, FakeModelAPI, Reply, TextItem
from lsprotocol import types
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent
from tests.helpers import wait_for


async def test_initialize_advertises_the_agent_methods(agent: Agent) -> None:
    experimental = agent.initialize_result.capabilities.experimental
    assert experimental["agent"]["version"] == 1
    assert "agent/send" in experimental["agent"]["methods"]
    assert experimental["agent"]["model"]["configured"] is True


async def test_send_streams_then_answers(agent: Agent, api: FakeModelAPI) -> None:
    result = await agent.send("hello world")
    assert result["status"] == "completed"
    assert result["finalMessage"] == "You said: hello world"
    assert result["usage"]["total_tokens"] > 0
    events = agent.turn_events(result["turnId"])
    # every event of the turn arrived before the answer
    assert events[0]["type"] == "turnStarted"
    assert events[-1]["type"] == "turnCompleted"
    assert [e["seq"] for e in events] == list(range(len(events)))
    deltas = "".join(e["delta"] for e in events if e["type"] == "textDelta")
    assert deltas == "You said: hello world"
    body = api.requests[0]
    assert body["stream"] is True and body["store"] is False
    assert body["tools"][0]["name"] == "shell"


async def test_history_is_sent_in_full_each_turn(agent: Agent, api: FakeModelAPI) -> None:
    first = await agent.send("one")
    second = await agent.send("two", sessionId=first["sessionId"])
    assert second["sessionId"] == first["sessionId"]
    texts = [i.get("role") for i in api.requests[1]["input"]]
    assert texts == ["user", "assistant", "user"]
    assert api.rejected == []


async def test_shell_tool_runs_in_the_workspace(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    (workspace / "marker.txt").write_text("in the workspace")
    result = await agent.send("run: cat marker.txt; echo second line")
    assert result["status"] == "completed"
    events = agent.turn_events(result["turnId"])
    kinds = [e["type"] for e in events]
    assert (
        kinds.index("toolCallStarted")
        < kinds.index("toolOutputDelta")
        < kinds.index("toolCallCompleted")
    )
    done = next(e for e in events if e["type"] == "toolCallCompleted")
    assert done["status"] == "completed" and done["exitCode"] == 0
    assert "in the workspace" in done["output"]
    streamed = "".join(e["delta"] for e in events if e["type"] == "toolOutputDelta")
    assert "second line" in streamed
    assert result["finalMessage"].startswith("Tool output: Exit code: 0")
    assert api.rejected == []


async def test_big_output_is_truncated_with_head_and_tail(agent: Agent, api: FakeModelAPI) -> None:
    result = await agent.send("run: seq 1 300000")
    done = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted")
    assert done["output"].startswith("1\n2\n")
    assert done["output"].rstrip().endswith("300000")
    assert "omitted" in done["output"]
    assert len(done["output"]) < 40_000
    sent = api.requests[-1]["input"][-1]["output"]
    assert "omitted" in sent and len(sent) < 40_000


async def test_model_loop_continues_until_no_call(agent: Agent, api: FakeModelAPI) -> None:
    api.enqueue(
        Reply([CallItem("shell", {"command": ["echo", "a"]})]),
        Reply([TextItem("thinking more"), CallItem("shell", {"command": ["echo", "b"]})]),
        Reply([TextItem("all done")]),
    )
    result = await agent.send("two steps")
    assert result["finalMessage"] == "all done"
    assert len(api.requests) == 3
    assert [i["type"] for i in api.requests[2]["input"]][-2:] == [
        "function_call",
        "function_call_output",
    ]


async def test_bad_tool_arguments_are_reported_to_the_model(
    agent: Agent, api: FakeModelAPI
) -> None:
    api.enqueue(Reply([CallItem("shell", "{not json")]), Reply([TextItem("sorry")]))
    result = await agent.send("x")
    done = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted")
    assert done["status"] == "failed"
    assert "JSON" in api.requests[1]["input"][-1]["output"]


async def test_approval_asked_and_denied(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    agent = await start(init_options={"approval": "always-ask"})
    agent.decide = lambda _p: {"decision": "deny"}
    result = await agent.send("run: touch created.txt")
    assert result["status"] == "completed"
    request = agent.approval_requests[0]
    assert request["kind"] == "shell"
    assert request["command"] == ["bash", "-lc", "touch created.txt"]
    assert request["cwd"] == str(workspace.resolve())
    done = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted")
    assert done["status"] == "denied"
    assert not (workspace / "created.txt").exists()
    assert "denied" in api.requests[-1]["input"][-1]["output"]


async def test_approval_for_session_is_remembered(start: Starter, workspace: Path) -> None:
    agent = await start(init_options={"approval": "ask-unsafe"})
    agent.decide = lambda _p: {"decision": "approveForSession"}
    await agent.send("run: touch a.txt")
    await agent.send("run: touch a.txt")
    await agent.send("run: ls")  # read-only: never asked
    assert len(agent.approval_requests) == 1
    assert (workspace / "a.txt").exists()


async def test_clients_without_approvals_are_asked_with_show_message_request(
    start: Starter, workspace: Path
) -> None:
    agent = await start(init_options={"approvals": False, "approval": "always-ask"})
    asked: list[types.ShowMessageRequestParams] = []

    @agent.client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def show(params: types.ShowMessageRequestParams) -> types.MessageActionItem:
        asked.append(params)
        return types.MessageActionItem(title="Approve")

    result = await agent.send("run: touch via-message.txt")
    assert result["status"] == "completed"
    assert [a.title for a in asked[0].actions or []] == ["Approve", "Approve for session", "Deny"]
    assert (workspace / "via-message.txt").exists()


async def test_never_ask_runs_without_asking(start: Starter, workspace: Path) -> None:
    agent = await start(init_options={"approval": "never-ask"})
    await agent.send("run: touch free.txt")
    assert agent.approval_requests == []
    assert (workspace / "free.txt").exists()


async def test_work_done_progress_when_a_token_is_given(agent: Agent) -> None:
    await agent.send("hello", workDoneToken="tok-1")
    reports = agent.client.progress_reports["tok-1"]
    assert reports[0].kind == "begin"
    assert reports[-1].kind == "end"


async def test_the_api_key_reaches_no_file_no_tool_and_no_event(
    agent: Agent, api: FakeModelAPI, home: Path
) -> None:
    from tests.e2e.harness import API_KEY

    result = await agent.send("run: echo key=[$OPENAI_API_KEY]; env | grep -c OPENAI_API_KEY")
    done = next(e for e in agent.turn_events(result["turnId"]) if e["type"] == "toolCallCompleted")
    assert "key=[]" in done["output"]
    assert API_KEY not in str(agent.events)
    for path in home.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


async def test_configuration_pulled_mid_turn_does_not_break_the_turn(start: Starter) -> None:
    import asyncio

    capabilities = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(configuration=True)
    )
    agent = await start(capabilities=capabilities)
    answered = asyncio.Event()
    agent.client.protocol.fm.features.pop(types.WORKSPACE_CONFIGURATION)  # pytest-lsp's own

    @agent.client.feature(types.WORKSPACE_CONFIGURATION)
    async def configuration(_params: types.ConfigurationParams) -> list[object]:
        await asyncio.sleep(0.3)
        answered.set()
        return [{"maxRetries": 3, "approval": "never-ask"}]

    msg_id, pending = agent.start("agent/send", {"text": "slow: 0.05"})
    await asyncio.wait_for(answered.wait(), 10)
    # the turn streams on after the answer: it was not broken by it
    seen = len(agent.events)
    await wait_for(
        lambda: any(e["type"] == "textDelta" for e in agent.events[seen:]),
        what="a text delta after the configuration's answer",
        changes=agent.arrivals,
    )
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted", result
    assert (await agent.send("after"))["status"] == "completed"
