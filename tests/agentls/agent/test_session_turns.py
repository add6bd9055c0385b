"""The turn loop without LSP: streaming, tools, stops at every point, repair on resume."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from tests.agentls.agent.scripted_model import ScriptedModel, call_reply, check_strict, text_reply
from tests.agentls.rollout.reference_reader import read_rollout

from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.context import AgentContext
from agentls.agent.results import TurnInProgressError
from agentls.agent.session import Session
from agentls.agent.workspace import SessionNotFoundError, Workspace
from agentls.config.settings import ApprovalPolicy, Settings
from agentls.providers.events import ProviderError
from agentls.rollout.paths import WorkspaceLayout
from agentls.tools.process import process_group_alive


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


def make_workspace(tmp_path: Path, model: ScriptedModel, **overrides: Any) -> Workspace:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    settings = Settings(
        home=tmp_path / "home",
        approval=overrides.pop("approval", ApprovalPolicy.NEVER_ASK),
        retry_base_delay_s=0,
        kill_grace_s=0.2,
    )
    context = AgentContext(
        settings=settings,
        workspace=work,
        model_stream=model.stream,
        env=dict(os.environ),
        **overrides,
    )
    return Workspace(context, WorkspaceLayout.for_path(settings.home, work))


class Events:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.seen: dict[str, asyncio.Event] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        self.items.append(event)
        self.seen.setdefault(event["type"], asyncio.Event()).set()

    async def wait(self, kind: str, timeout: float = 10) -> None:
        await asyncio.wait_for(self.seen.setdefault(kind, asyncio.Event()).wait(), timeout)

    def types(self) -> list[str]:
        return [e["type"] for e in self.items]


async def test_a_plain_answer_streams_and_is_recorded(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    model.replies.append(text_reply("hello there"))
    events = Events()
    session = ws.session_for_send(None)
    result = await session.send("hi", events)
    assert result.status == "completed"
    assert result.final_message == "hello there"
    assert result.usage == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert events.types() == [
        "turnStarted",
        "textDelta",
        "textDelta",
        "messageCompleted",
        "tokenUsage",  # v2: the context meter, after each model response
        "turnCompleted",
    ]
    assert [e["seq"] for e in events.items] == list(range(6))
    rollout = read_rollout(session.writer.path)
    assert [i["type"] for i in rollout.items] == ["message", "message"]
    assert rollout.events[-1]["type"] == "turn_completed"


async def test_tool_calls_run_and_loop_continues(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    model.replies += [call_reply("echo out; echo err >&2; exit 3"), text_reply("saw it")]
    events = Events()
    session = ws.session_for_send(None)
    result = await session.send("run it", events)
    assert result.status == "completed"
    completed = next(e for e in events.items if e["type"] == "toolCallCompleted")
    assert completed["exitCode"] == 3
    assert completed["status"] == "failed"
    assert "out" in completed["output"] and "err" in completed["output"]
    deltas = "".join(e["delta"] for e in events.items if e["type"] == "toolOutputDelta")
    assert "out" in deltas
    second = model.requests[1].input
    assert second[-1]["type"] == "function_call_output"
    assert "Exit code: 3" in second[-1]["output"]


async def test_send_while_running_is_refused(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    model.replies.append(text_reply("a b c d e f", delay_s=0.05))
    events = Events()
    session = ws.session_for_send(None)
    first = asyncio.create_task(session.send("one", events))
    await events.wait("textDelta")
    with pytest.raises(TurnInProgressError, match="already running"):
        await session.send("two", Events())
    assert (await first).status == "completed"


async def test_interrupt_mid_stream_keeps_partial_text(
    tmp_path: Path, model: ScriptedModel
) -> None:
    ws = make_workspace(tmp_path, model)
    model.replies.append(text_reply("one two three four five six seven", delay_s=0.1))
    events = Events()
    session = ws.session_for_send(None)
    task = asyncio.create_task(session.send("talk", events))
    await events.wait("textDelta")
    assert session.interrupt() is not None
    result = await task
    assert result.status == "interrupted"
    assert result.final_message and result.final_message.startswith("one")
    assert events.types()[-1] == "turnCompleted"
    rollout = read_rollout(session.writer.path)
    assert rollout.events[-1]["type"] == "turn_aborted"
    assert rollout.items[-1]["role"] == "assistant"
    assert session.interrupt() is None
    result = await session.send("again", Events())
    assert result.status == "completed"


async def test_interrupt_kills_the_command_and_answers_the_call(
    tmp_path: Path, model: ScriptedModel
) -> None:
    ws = make_workspace(tmp_path, model)
    marker = tmp_path / "pid"
    model.replies.append(call_reply(f"echo $$ > {marker}; sleep 30; echo done"))
    events = Events()
    session = ws.session_for_send(None)
    task = asyncio.create_task(session.send("sleep", events))
    await events.wait("toolCallStarted")
    for _ in range(200):
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.01)
    pgid = int(marker.read_text())
    session.interrupt()
    result = await task
    assert result.status == "interrupted"
    assert not process_group_alive(pgid)
    done = [e for e in events.items if e["type"] == "toolCallCompleted"]
    assert done[-1]["status"] == "aborted"
    rollout = read_rollout(session.writer.path)
    check_strict(rollout.items)
    assert rollout.items[-1] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": "aborted",
    }
    assert (await session.send("next", Events())).status == "completed"
    check_strict(model.requests[-1].input)


async def test_interrupt_during_approval(tmp_path: Path, model: ScriptedModel) -> None:
    asked = asyncio.Event()
    withdrawn = asyncio.Event()

    async def approver(_request: ApprovalRequest) -> Decision:
        asked.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            withdrawn.set()
            raise
        return "approve"

    ws = make_workspace(tmp_path, model, approval=ApprovalPolicy.ALWAYS_ASK, approver=approver)
    model.replies.append(call_reply("touch should-not-exist"))
    session = ws.session_for_send(None)
    task = asyncio.create_task(session.send("go", Events()))
    await asyncio.wait_for(asked.wait(), 5)
    session.interrupt()
    result = await task
    assert result.status == "interrupted"
    assert withdrawn.is_set()
    assert not (ws.context.workspace / "should-not-exist").exists()
    check_strict(read_rollout(session.writer.path).items)


@pytest.mark.parametrize(
    ("decision", "status", "runs"),
    [
        ("approve", "completed", True),
        ("deny", "denied", False),
        ("approveForSession", "completed", True),
    ],
)
async def test_approval_decisions(
    tmp_path: Path, model: ScriptedModel, decision: Decision, status: str, runs: bool
) -> None:
    requests: list[ApprovalRequest] = []

    async def approver(request: ApprovalRequest) -> Decision:
        requests.append(request)
        return decision

    ws = make_workspace(tmp_path, model, approval=ApprovalPolicy.ASK_UNSAFE, approver=approver)
    model.replies += [call_reply("touch made"), text_reply("ok")]
    events = Events()
    session = ws.session_for_send(None)
    assert (await session.send("go", events)).status == "completed"
    assert requests[0].command == ["bash", "-lc", "touch made"]
    done = next(e for e in events.items if e["type"] == "toolCallCompleted")
    assert done["status"] == status
    assert (ws.context.workspace / "made").exists() is runs
    if decision == "approveForSession":
        model.replies += [call_reply("touch made", "call_2"), text_reply("ok")]
        await session.send("again", Events())
        assert len(requests) == 1


async def test_abort_decision_stops_the_turn(tmp_path: Path, model: ScriptedModel) -> None:
    async def approver(_request: ApprovalRequest) -> Decision:
        return "abort"

    ws = make_workspace(tmp_path, model, approval=ApprovalPolicy.ALWAYS_ASK, approver=approver)
    model.replies.append(call_reply("ls"))
    session = ws.session_for_send(None)
    result = await session.send("go", Events())
    assert result.status == "interrupted"
    check_strict(read_rollout(session.writer.path).items)


async def test_read_only_commands_skip_approval_in_ask_unsafe(
    tmp_path: Path, model: ScriptedModel
) -> None:
    async def approver(_request: ApprovalRequest) -> Decision:
        raise AssertionError("should not be asked")

    ws = make_workspace(tmp_path, model, approval=ApprovalPolicy.ASK_UNSAFE, approver=approver)
    model.replies += [call_reply("ls -la"), text_reply("ok")]
    session = ws.session_for_send(None)
    assert (await session.send("go", Events())).status == "completed"


async def test_provider_failure_is_a_failed_turn(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    model.replies.append(ProviderError("401 from the model API: bad key", http_status=401))
    events = Events()
    session = ws.session_for_send(None)
    result = await session.send("hi", events)
    assert result.status == "failed"
    assert result.error == {"message": "401 from the model API: bad key", "httpStatus": 401}
    assert events.items[-1]["type"] == "turnCompleted"
    assert read_rollout(session.writer.path).events[-1]["status"] == "failed"


async def test_retryable_errors_are_retried(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    model.replies += [
        ProviderError("429", http_status=429, retryable=True, retry_after_s=0),
        text_reply("fine"),
    ]
    events = Events()
    result = await ws.session_for_send(None).send("hi", events)
    assert result.status == "completed"
    retry = next(e for e in events.items if e["type"] == "retrying")
    assert retry["attempt"] == 2


async def test_resume_after_a_crash_answers_every_call(
    tmp_path: Path, model: ScriptedModel
) -> None:
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    await session.send("first", Events())
    # what a SIGKILL mid-command leaves: a started turn, a call, no output, no end
    session.writer.append("turn_context", {"turn_id": "t-x"})
    session.writer.append("event_msg", {"type": "turn_started", "turn_id": "t-x"})
    session.writer.append(
        "response_item",
        {"type": "function_call", "call_id": "c-lost", "name": "shell", "arguments": "{}"},
    )
    session.writer.close()
    with session.writer.path.open("ab") as fh:
        fh.write(b'{"timestamp": "x", "type": "resp')

    other = make_workspace(tmp_path, model)
    resumed = other.resume(None)
    assert resumed.session.id == session.id
    joined = " ".join(resumed.warnings)
    assert "cut off mid-write" in joined
    assert "1 tool call(s) had no output" in joined
    history = resumed.to_wire()["history"]
    # v2: entries carry their turn's id
    assert {k: v for k, v in history[0].items() if k != "turnId"} == {
        "role": "user",
        "text": "first",
    }
    assert history[0]["turnId"].startswith("turn-")
    assert history[-1]["status"] == "aborted"
    result = await resumed.session.send("go on", Events())
    assert result.status == "completed"
    check_strict(model.requests[-1].input)
    on_disk = read_rollout(session.writer.path)
    check_strict(on_disk.items)
    assert any(e.get("turn_id") == "t-x" and e["type"] == "turn_aborted" for e in on_disk.events)


async def test_unknown_and_locked_sessions(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    with pytest.raises(SessionNotFoundError):
        ws.resume(None)
    with pytest.raises(SessionNotFoundError):
        ws.resume("0b6f3c1e-2d4a-4b8e-9f10-3a2b1c0d9e8f")
    session = ws.new_session()
    from agentls.rollout.writer import SessionLockedError

    with pytest.raises(SessionLockedError):
        make_workspace(tmp_path, model).resume(session.id)


async def test_sessions_are_listed_newest_first_with_paging(
    tmp_path: Path, model: ScriptedModel
) -> None:
    ws = make_workspace(tmp_path, model)
    ids = []
    for n in range(3):
        session = ws.new_session()
        await session.send(f"message {n}", Events())
        ids.append(session.id)
        await asyncio.sleep(0.01)
    page, cursor = ws.store.page(2, None)
    assert [s.session_id for s in page] == [ids[2], ids[1]]
    assert page[0].title == "message 2"
    assert page[0].turns == 1
    assert cursor
    rest, end = ws.store.page(2, cursor)
    assert [s.session_id for s in rest] == [ids[0]]
    assert end is None


def test_session_create_writes_meta(tmp_path: Path, model: ScriptedModel) -> None:
    ws = make_workspace(tmp_path, model)
    session = Session.create(ws.context, ws.layout)
    meta = read_rollout(session.writer.path).meta
    assert meta is not None
    assert meta["originator"] == "agentls"
    assert meta["id"] == session.id
    assert meta["cwd"] == str(ws.context.workspace)


async def test_instructions_reach_the_model_redacted_and_read_off_the_loop(
    tmp_path: Path, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from agentls.agent import instructions

    key = "sk-secret-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    ws = make_workspace(tmp_path, model)
    (ws.context.workspace / "AGENTS.md").write_text(f"the key is {key}; use it\n")
    readers: list[int] = []
    real = instructions.load_project_instructions

    def spy(workspace: Path) -> instructions.ProjectInstructions:
        readers.append(threading.get_ident())
        return real(workspace)

    monkeypatch.setattr(instructions, "load_project_instructions", spy)
    session = ws.session_for_send(None)
    result = await session.send("hi", Events())
    assert result.status == "completed"
    sent = model.requests[0].instructions or ""
    assert "the key is [redacted]; use it" in sent and key not in sent
    assert readers and threading.get_ident() not in readers
