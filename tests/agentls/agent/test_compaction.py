"""Compaction in the core, with a scripted model: what is recorded, what the model sees next,
and what a failure or a stop leaves (nothing)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.agentls.agent.scripted_model import ScriptedModel, call_reply, check_strict, text_reply
from tests.agentls.rollout.reference_reader import build_model_history, read_rollout

from agentls.agent.compaction import CompactionError, _Meter
from agentls.agent.context import AgentContext
from agentls.agent.session import Session
from agentls.agent.workspace import Workspace
from agentls.config.settings import ApprovalPolicy, Settings
from agentls.history.compact import COMPACTION_PROMPT, SUMMARY_PREFIX, estimate_tokens
from agentls.history.user_shell import parse_user_shell, user_shell_entry, user_shell_text
from agentls.providers.events import Completed, ModelEvent, ModelRequest, ProviderError
from agentls.rollout.paths import WorkspaceLayout

SUMMARY = "Handoff: the user talks about parts; continue with the next part."


def make_workspace(tmp_path: Path, model: ScriptedModel, **settings: Any) -> Workspace:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    config = Settings(
        home=tmp_path / "home",
        approval=ApprovalPolicy.NEVER_ASK,
        retry_base_delay_s=0,
        max_retries=0,
        kill_grace_s=0.2,
        **settings,
    )
    context = AgentContext(
        settings=config, workspace=work, model_stream=model.stream, env=dict(os.environ)
    )
    return Workspace(context, WorkspaceLayout.for_path(config.home, work))


class Events(list[dict[str, Any]]):
    def __call__(self, event: dict[str, Any]) -> None:
        self.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self if e["type"] == kind]


def is_summary_request(items: list[dict[str, Any]]) -> bool:
    content = items[-1].get("content")
    return isinstance(content, list) and content[0].get("text") == COMPACTION_PROMPT


def too_long() -> ProviderError:
    return ProviderError(
        "Your input exceeds the context window of this model.",
        http_status=400,
        code="context_length_exceeded",
    )


async def talk(session: Session, model: ScriptedModel, turns: int) -> None:
    for n in range(turns):
        model.replies.append(text_reply(f"answer {n} " + "detail " * 100))
        assert (await session.send(f"question {n} " + "words " * 50, Events())).status == (
            "completed"
        )


def test_the_meter_keeps_a_running_sum() -> None:
    meter = _Meter()
    history: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": "a" * 40}]
    assert meter.history_tokens(history) == estimate_tokens(history)
    history.append({"type": "message", "role": "assistant", "content": "b" * 400})
    assert meter.history_tokens(history) == estimate_tokens(history)
    replaced = history[:1]
    assert meter.history_tokens(replaced) == estimate_tokens(replaced)


async def test_compacting_records_the_line_and_replaces_the_history(tmp_path: Path) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    await talk(session, model, 3)
    model.replies.append(text_reply(SUMMARY))
    events = Events()
    outcome = await session.compact(events)
    assert outcome.tokens_after < outcome.tokens_before
    summary_request = model.requests[-1]
    assert is_summary_request(summary_request.input) and summary_request.tools == []
    assert [e["phase"] for e in events.of("compaction")] == ["started", "completed"]
    # the model sees the user's messages, then the summary
    texts = [str(i["content"][0]["text"]) for i in session.history]
    assert texts[:3] == [f"question {n} " + "words " * 50 for n in range(3)]
    assert texts[3].startswith(SUMMARY_PREFIX) and SUMMARY in texts[3]
    assert len(texts) == 4
    # what is on disk gives back exactly that history
    rollout = read_rollout(session.writer.path)
    assert len(rollout.compactions) == 1
    assert build_model_history(rollout) == session.history
    # and the next request starts from it
    model.replies.append(text_reply("ok"))
    await session.send("next", Events())
    assert model.requests[-1].input[3]["content"][0]["text"].startswith(SUMMARY_PREFIX)
    assert len(model.requests[-1].input) == 5


async def test_a_failed_summary_changes_nothing(tmp_path: Path) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    await talk(session, model, 2)
    before = list(session.history)
    model.replies.append(ProviderError("the server had an error", http_status=500))
    events = Events()
    with pytest.raises(CompactionError, match="the server had an error"):
        await session.compact(events)
    assert [e["phase"] for e in events.of("compaction")] == ["started", "failed"]
    assert session.history == before
    assert read_rollout(session.writer.path).compactions == []


async def test_a_stopped_compaction_changes_nothing(tmp_path: Path) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    await talk(session, model, 2)
    before = list(session.history)
    model.replies.append(text_reply("slow summary " * 50, delay_s=0.05))
    events = Events()
    started = asyncio.Event()

    def sink(event: dict[str, Any]) -> None:
        events(event)
        started.set()

    task = asyncio.create_task(session.compact(sink))
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.1)  # into the summary's stream
    assert session.interrupt() is not None
    with pytest.raises(CompactionError, match="stopped"):
        await task
    assert session.history == before
    assert read_rollout(session.writer.path).compactions == []
    # the session still works
    model.replies.append(text_reply("fine"))
    assert (await session.send("still there?", Events())).status == "completed"


async def test_auto_compaction_before_a_request_that_would_fill_the_window(
    tmp_path: Path,
) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model, context_window=1_500, auto_compact_percent=50)
    session = ws.session_for_send(None)
    events = Events()
    model.replies.append(text_reply("first answer"))
    await session.send("question " + "words " * 50, events)
    usage = events.of("tokenUsage")[0]
    assert usage == {
        **usage,
        "inputTokens": 3,
        "outputTokens": 2,
        "contextWindow": 1_500,
        "percent": 0,
    }
    model.replies += [text_reply(SUMMARY), text_reply("second answer")]
    result = await session.send("another " + "words " * 200, events)
    assert result.status == "completed" and result.final_message == "second answer"
    summary, real = model.requests[-2:]
    assert is_summary_request(summary.input) and not is_summary_request(real.input)
    assert str(real.input[-1]["content"][0]["text"]).startswith(SUMMARY_PREFIX)
    phases = [e for e in events.of("compaction") if e["turnId"] == result.turn_id]
    assert [(p["phase"], p["reason"]) for p in phases] == [
        ("started", "auto"),
        ("completed", "auto"),
    ]


async def test_a_refusal_compacts_and_retries_once_only(tmp_path: Path) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    await talk(session, model, 2)
    model.replies += [too_long(), text_reply(SUMMARY), text_reply("fits now")]
    result = await session.send("more", Events())
    assert result.status == "completed" and result.final_message == "fits now"
    model.replies += [too_long(), text_reply(SUMMARY), too_long()]
    failed = await session.send("even more", Events())
    assert failed.status == "failed"
    assert failed.error is not None and failed.error["code"] == "context_length_exceeded"
    check_strict(model.requests[-1].input)


async def test_compaction_while_a_call_waits_for_the_model(tmp_path: Path) -> None:
    """The call ran and has its output; the request that carries it is refused: the summary
    request carries the output, every call keeps its output on disk, requests stay valid."""
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    model.replies += [
        call_reply("echo the-output-of-the-call"),
        too_long(),
        text_reply(SUMMARY),
        text_reply("done"),
    ]
    result = await session.send("run it", Events())
    assert result.status == "completed"
    summary_request = model.requests[-2].input
    assert is_summary_request(summary_request)
    assert any(
        i["type"] == "function_call_output" and "the-output-of-the-call" in i["output"]
        for i in summary_request
    )
    on_disk = read_rollout(session.writer.path)
    check_strict(on_disk.items)
    assert all(item["type"] != "function_call" for item in build_model_history(on_disk))


async def test_resume_reads_the_model_history_lazily_from_the_compacted_line(
    tmp_path: Path,
) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    await talk(session, model, 2)
    model.replies.append(text_reply(SUMMARY))
    await session.compact(Events())
    await talk(session, model, 1)
    expected = list(session.history)
    session.close()

    other = make_workspace(tmp_path, model)
    resumed = other.resume(session.id, history_limit=2)
    assert len(resumed.history or []) == 2 and resumed.history_cursor is not None
    assert resumed.session._resume_view is not None  # nothing of the model's part read yet
    await resumed.session.load_history()
    assert resumed.session.history == expected
    resumed.session.close()

    third = make_workspace(tmp_path, model)
    synchronous = third.resume(session.id, history_limit=0).session
    assert synchronous.history == expected  # a synchronous use reads it too


async def test_a_user_command_is_one_user_message_the_model_sees(tmp_path: Path) -> None:
    model = ScriptedModel()
    ws = make_workspace(tmp_path, model)
    session = ws.session_for_send(None)
    events = Events()
    result = await session.run_command("echo from-the-user; exit 3", events)
    assert result.status == "completed"
    assert model.requests == []
    done = events.of("toolCallCompleted")[0]
    assert done["status"] == "failed" and done["exitCode"] == 3
    parsed = parse_user_shell(str(session.history[-1]["content"][0]["text"]))
    assert parsed is not None and parsed[0] == "echo from-the-user; exit 3"
    assert "from-the-user" in parsed[1]
    resumed = ws.resume(session.id).to_wire()
    assert resumed["title"] == "!echo from-the-user; exit 3"
    entry = resumed["history"][-1]
    assert entry["toolName"] == "user_shell" and entry["exitCode"] == 3
    assert entry["status"] == "failed" and "from-the-user" in entry["output"]
    session.close()
    reopened = make_workspace(tmp_path, model).resume(session.id).to_wire()
    assert reopened["title"] == "!echo from-the-user; exit 3"


def test_user_shell_text_round_trips_odd_commands() -> None:
    command = "printf '</command>\\n<result>\\n'"
    text = user_shell_text(command, "Exit code: 0\nWall time: 0 seconds\nOutput:\nx\n")
    assert parse_user_shell(text) == (
        command,
        "Exit code: 0\nWall time: 0 seconds\nOutput:\nx\n",
    )
    assert parse_user_shell("plain words") is None
    stopped = user_shell_entry(user_shell_text("sleep 9", "Exit code: none (stopped)\n"))
    assert stopped is not None and stopped["status"] == "aborted"


async def test_the_api_count_wins_when_it_is_larger_than_the_estimate(tmp_path: Path) -> None:
    """A tokenizer that counts 40 times the bytes / 4 estimate: compaction goes by the count."""
    model = ScriptedModel()

    async def counting(request: ModelRequest) -> AsyncIterator[ModelEvent]:
        estimate = estimate_tokens(request.input)
        async for event in model.stream(request):
            if isinstance(event, Completed):
                usage = {"input_tokens": estimate * 40, "output_tokens": 2}
                event = Completed(event.response_id, usage)
            yield event

    ws = make_workspace(tmp_path, model, context_window=20_000, auto_compact_percent=80)
    ws.context.model_stream = counting
    session = ws.session_for_send(None)
    events = Events()
    model.replies.append(text_reply("first"))
    await session.send("question " + "words " * 300, events)
    by_bytes = estimate_tokens(session.history) + session.compaction.fixed_tokens
    assert by_bytes < 16_000 / 5  # bytes / 4 alone: far from the mark
    assert session.compaction.estimate() > 16_000
    assert events.of("compaction") == []
    model.replies += [text_reply(SUMMARY), text_reply("second")]
    await session.send("another", events)
    assert [e["phase"] for e in events.of("compaction")] == ["started", "completed"]
    assert events.of("tokenUsage")[-2]["estimated"] is True


async def test_the_window_comes_from_the_setting_the_server_or_the_table(
    tmp_path: Path,
) -> None:
    from fixtures.fake_api import FakeModelAPI

    from agentls.agent.compaction import context_window

    async def nothing(_request: ModelRequest) -> AsyncIterator[ModelEvent]:
        return
        yield

    def context(**settings: Any) -> AgentContext:
        config = Settings(home=tmp_path, **settings)
        info = {"baseUrl": config.base_url, "model": config.model}
        return AgentContext(config, tmp_path, nothing, env={}, provider_info=info)

    async with FakeModelAPI(context_limit=12_345, flavor="llamacpp") as api:
        assert await context_window(context(base_url=api.base_url)) == 12_345
        assert await context_window(context(base_url=api.base_url, context_window=999)) == 999
        api.flavor = "openai"  # no /props: the table knows the model, or nothing does
        other = api.base_url.replace("/v1", "/other/v1")
        assert await context_window(context(base_url=other, model="qwen3-8b")) == 32_768
        assert await context_window(context(base_url=other, model="no-such-model")) is None
    assert await context_window(context(model="gpt-5-mini")) == 272_000  # never asked
