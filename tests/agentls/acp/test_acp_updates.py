"""Live `agent/event`s as ACP `session/update`s: messages, tool calls, usage, plans, retries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    ContentToolCallContent,
    FileEditToolCallContent,
    ToolCallProgress,
    ToolCallStart,
    UsageUpdate,
    UserMessageChunk,
)

from agentls.acp.updates import EventTranslator, Update, title_update, tool_call_id
from agentls.tools.patch.diff import unified_diff

CWD = Path("/work/project")


def never_read_only(argv: list[str], cwd: Path) -> bool:
    return False


class Turn:
    """Events of one turn, numbered as the core numbers them."""

    def __init__(self, turn_id: str = "turn-1") -> None:
        self.turn_id = turn_id
        self.seq = 0

    def __call__(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"sessionId": "s", "turnId": self.turn_id, "seq": self.seq, "type": kind}
        self.seq += 1
        return {**event, **fields}


def wire(update: Update) -> dict[str, Any]:
    """What the SDK puts on the wire for an update."""
    return update.model_dump(mode="json", by_alias=True, exclude_none=True)


def texts(update: Update) -> list[str]:
    assert isinstance(update, ToolCallStart | ToolCallProgress)
    found = []
    for item in update.content or []:
        if isinstance(item, ContentToolCallContent):
            found.append(item.content.text)  # type: ignore[union-attr]
    return found


def shell_args(*argv: str) -> str:
    return json.dumps({"command": list(argv)})


@pytest.fixture
def translator() -> EventTranslator:
    return EventTranslator(CWD, check=never_read_only)


def test_text_deltas_are_message_chunks_and_completion_adds_only_what_is_missing(
    translator: EventTranslator,
) -> None:
    turn = Turn()
    assert translator.translate(turn("turnStarted", text="hi")) == []
    first = translator.translate(turn("textDelta", itemId="msg_1", delta="Hel"))
    second = translator.translate(turn("textDelta", itemId="msg_1", delta="lo"))
    assert [wire(u) for u in first + second] == [
        {
            "sessionUpdate": "agent_message_chunk",
            "messageId": "turn-1:msg_1",
            "content": {"type": "text", "text": "Hel"},
        },
        {
            "sessionUpdate": "agent_message_chunk",
            "messageId": "turn-1:msg_1",
            "content": {"type": "text", "text": "lo"},
        },
    ]
    assert translator.translate(turn("messageCompleted", itemId="msg_1", text="Hello")) == []
    # a provider that streamed part of it, or nothing at all
    translator.translate(turn("textDelta", itemId="msg_2", delta="Par"))
    (rest,) = translator.translate(turn("messageCompleted", itemId="msg_2", text="Partial"))
    assert isinstance(rest, AgentMessageChunk)
    assert rest.content.text == "tial"  # type: ignore[union-attr]
    (whole,) = translator.translate(turn("messageCompleted", itemId="msg_3", text="Whole"))
    assert whole.content.text == "Whole"  # type: ignore[union-attr]


def test_reasoning_is_thought_chunks(translator: EventTranslator) -> None:
    turn = Turn()
    (delta,) = translator.translate(turn("reasoningDelta", itemId="rs_1", delta="Think"))
    assert isinstance(delta, AgentThoughtChunk)
    (rest,) = translator.translate(turn("reasoning", itemId="rs_1", text="Thinking"))
    assert isinstance(rest, AgentThoughtChunk)
    assert rest.content.text == "ing"  # type: ignore[union-attr]


def test_a_retry_is_said_and_the_next_attempt_is_a_new_message(
    translator: EventTranslator,
) -> None:
    turn = Turn()
    (before,) = translator.translate(turn("textDelta", itemId="msg_1", delta="Half a"))
    (said,) = translator.translate(
        turn("retrying", attempt=1, delayMs=1500, reason="502 from the model API")
    )
    assert isinstance(said, AgentThoughtChunk)
    assert "attempt 1" in said.content.text  # type: ignore[union-attr]
    assert "1.5 s" in said.content.text  # type: ignore[union-attr]
    (after,) = translator.translate(turn("textDelta", itemId="msg_1", delta="Whole"))
    assert isinstance(before, AgentMessageChunk)
    assert isinstance(after, AgentMessageChunk)
    assert after.message_id != before.message_id
    # the completion is reconciled with the new attempt's text, not the void one
    assert translator.translate(turn("messageCompleted", itemId="msg_1", text="Whole")) == []


def test_a_shell_call_streams_its_output_then_ends_with_its_status(
    translator: EventTranslator,
) -> None:
    turn = Turn()
    (start,) = translator.translate(
        turn("toolCallStarted", callId="call_1", name="shell", arguments=shell_args("make"))
    )
    assert wire(start) == {
        "sessionUpdate": "tool_call",
        "toolCallId": "turn-1/call_1",
        "title": "make",
        "kind": "execute",
        "status": "pending",
        "rawInput": {"command": ["make"]},
    }
    (one,) = translator.translate(turn("toolOutputDelta", callId="call_1", delta="cc a.c\n"))
    (two,) = translator.translate(turn("toolOutputDelta", callId="call_1", delta="cc b.c\n"))
    assert isinstance(two, ToolCallProgress)
    assert two.status == "in_progress"
    # ACP replaces a call's content with each update: the output so far, fenced
    assert texts(one) == ["```\ncc a.c\n```"]
    assert texts(two) == ["```\ncc a.c\ncc b.c\n```"]
    (end,) = translator.translate(
        turn(
            "toolCallCompleted",
            callId="call_1",
            status="failed",
            exitCode=2,
            output="cc a.c\ncc b.c\nerror\n",
        )
    )
    assert isinstance(end, ToolCallProgress)
    assert end.status == "failed"
    assert texts(end) == ["```\ncc a.c\ncc b.c\nerror\n```", "Exit code: 2"]
    assert end.raw_output == {"status": "failed", "exitCode": 2}


def test_read_only_commands_are_read_or_search(translator: EventTranslator) -> None:
    turn = Turn()
    cases = {
        ("cat", "README.md"): "read",
        ("rg", "-n", "TODO"): "search",
        ("bash", "-lc", "cd src && grep -r foo . | head"): "read",
        ("bash", "-lc", "cd src && grep -r foo ."): "search",
        ("git", "grep", "foo"): "search",
        ("git", "log", "-3"): "read",
    }
    for index, (argv, kind) in enumerate(cases.items()):
        (start,) = translator.translate(
            turn(
                "toolCallStarted",
                callId=f"c{index}",
                name="shell",
                arguments=shell_args(*argv),
                readOnly=True,
            )
        )
        assert isinstance(start, ToolCallStart)
        assert start.kind == kind, argv
    (writes,) = translator.translate(
        turn(
            "toolCallStarted",
            callId="w",
            name="shell",
            arguments=shell_args("rm", "x"),
            readOnly=False,
        )
    )
    assert isinstance(writes, ToolCallStart)
    assert writes.kind == "execute"


def test_without_readonly_in_the_event_the_check_decides_where_the_command_runs() -> None:
    asked: list[tuple[list[str], Path]] = []

    def check(argv: list[str], cwd: Path) -> bool:
        asked.append((argv, cwd))
        return True

    translator = EventTranslator(CWD, check=check)
    arguments = json.dumps({"command": ["ls"], "workdir": "src"})
    (start,) = translator.translate(
        Turn()("toolCallStarted", callId="c", name="shell", arguments=arguments)
    )
    assert isinstance(start, ToolCallStart)
    assert start.kind == "search"
    assert asked == [(["ls"], CWD / "src")]


def test_the_core_classifier_is_the_default(tmp_path: Path) -> None:
    translator = EventTranslator(tmp_path)
    turn = Turn()
    (reads,) = translator.translate(
        turn("toolCallStarted", callId="a", name="shell", arguments=shell_args("ls", "-la"))
    )
    (writes,) = translator.translate(
        turn("toolCallStarted", callId="b", name="shell", arguments=shell_args("touch", "x"))
    )
    assert isinstance(reads, ToolCallStart)
    assert isinstance(writes, ToolCallStart)
    assert (reads.kind, writes.kind) == ("search", "execute")


def test_a_patch_is_an_edit_with_one_diff_per_file(translator: EventTranslator) -> None:
    old = "".join(f"line {n}\n" for n in range(1, 13))
    new = old.replace("line 2\n", "line two\n").replace("line 12\n", "line twelve\n")
    changes = [
        {"path": "src/a.py", "kind": "update", "diff": unified_diff(old, new, "a/a", "b/a")},
        {"path": "new.txt", "kind": "add", "diff": unified_diff(None, "hi\n", "/dev/null", "b")},
        {"path": "old.txt", "kind": "delete", "diff": unified_diff("bye\n", None, "a", "-")},
    ]
    turn = Turn()
    (start,) = translator.translate(
        turn(
            "toolCallStarted",
            callId="p",
            name="apply_patch",
            arguments=json.dumps({"input": "*** Begin Patch ..."}),
            changes=changes,
        )
    )
    assert isinstance(start, ToolCallStart)
    assert start.kind == "edit"
    assert start.title == "Edit src/a.py, new.txt, old.txt"
    assert [loc.path for loc in start.locations or []] == [
        "/work/project/src/a.py",
        "/work/project/new.txt",
        "/work/project/old.txt",
    ]
    diffs = [wire(item) for item in start.content or []]  # type: ignore[arg-type]
    assert diffs[0] == {
        "type": "diff",
        "path": "/work/project/src/a.py",
        "oldText": "line 1\nline 2\nline 3\nline 4\nline 5\n⋯\nline 9\nline 10\nline 11\nline 12\n",
        "newText": "line 1\nline two\nline 3\nline 4\nline 5\n⋯\n"
        "line 9\nline 10\nline 11\nline twelve\n",
    }
    assert diffs[1] == {"type": "diff", "path": "/work/project/new.txt", "newText": "hi\n"}
    assert diffs[2] == {
        "type": "diff",
        "path": "/work/project/old.txt",
        "oldText": "bye\n",
        "newText": "",
    }
    (end,) = translator.translate(
        turn("toolCallCompleted", callId="p", status="completed", output="Success.")
    )
    assert isinstance(end, ToolCallProgress)
    assert end.status == "completed"
    assert all(isinstance(item, FileEditToolCallContent) for item in end.content or [])
    assert len(end.content or []) == 3


def test_whole_file_texts_win_over_the_unified_diff(translator: EventTranslator) -> None:
    changes = [
        {
            "path": "a.py",
            "kind": "update",
            "diff": "@@ -1 +1 @@\n-x\n+y\n",
            "oldText": "whole old\n",
            "newText": "whole new\n",
        },
        {"path": "b.py", "movePath": "c.py", "kind": "update", "diff": "@@ -1 +1 @@\n-x\n+y\n"},
    ]
    (start,) = translator.translate(
        Turn()("toolCallStarted", callId="p", name="apply_patch", arguments="{}", changes=changes)
    )
    assert isinstance(start, ToolCallStart)
    first, moved = start.content or []
    assert isinstance(first, FileEditToolCallContent)
    assert (first.old_text, first.new_text) == ("whole old\n", "whole new\n")
    assert isinstance(moved, FileEditToolCallContent)
    assert moved.path == "/work/project/c.py"
    assert start.title == "Edit a.py, b.py → c.py"


def test_a_shell_call_that_is_a_patch_shows_as_an_edit(translator: EventTranslator) -> None:
    (start,) = translator.translate(
        Turn()(
            "toolCallStarted",
            callId="p",
            name="shell",
            arguments=shell_args("bash", "-lc", "apply_patch <<'EOF'\n...\nEOF"),
            changes=[{"path": "a", "kind": "add", "diff": "@@ -0,0 +1 @@\n+a\n"}],
        )
    )
    assert isinstance(start, ToolCallStart)
    assert start.kind == "edit"


@pytest.mark.parametrize(
    ("status", "output", "expected"),
    [
        ("denied", "denied", ["Denied by the user."]),
        ("aborted", "aborted", ["Stopped."]),
        ("aborted", "partial\n", ["Stopped.", "```\npartial\n```"]),
        ("completed", "", []),
    ],
)
def test_how_a_call_ends(
    translator: EventTranslator, status: str, output: str, expected: list[str]
) -> None:
    turn = Turn()
    translator.translate(
        turn("toolCallStarted", callId="c", name="shell", arguments=shell_args("make"))
    )
    (end,) = translator.translate(
        turn("toolCallCompleted", callId="c", status=status, output=output)
    )
    assert isinstance(end, ToolCallProgress)
    assert end.status == ("completed" if status == "completed" else "failed")
    assert texts(end) == expected


def test_mcp_tools_are_fetch_or_other(translator: EventTranslator) -> None:
    turn = Turn()
    (fetch,) = translator.translate(
        turn(
            "toolCallStarted",
            callId="m1",
            name="mcp__web__fetch_url",
            arguments='{"url": "https://example.com"}',
            mcp={"server": "web", "tool": "fetch_url"},
        )
    )
    (other,) = translator.translate(
        turn("toolCallStarted", callId="m2", name="mcp__db__migrate", arguments="{}")
    )
    assert isinstance(fetch, ToolCallStart)
    assert isinstance(other, ToolCallStart)
    assert (fetch.title, fetch.kind) == ("web: fetch_url", "fetch")
    assert fetch.raw_input == {"url": "https://example.com"}
    assert (other.title, other.kind) == ("db: migrate", "other")
    (output,) = translator.translate(turn("toolOutputDelta", callId="m1", delta="<html>"))
    assert texts(output) == ["<html>"]  # not a terminal: not fenced
    (end,) = translator.translate(
        turn("toolCallCompleted", callId="m1", status="completed", output="<html>")
    )
    assert texts(end) == ["<html>"]


def test_the_user_command_is_execute(translator: EventTranslator) -> None:
    arguments = json.dumps({"command": ["bash", "-lc", "ls -la"]})
    (start,) = translator.translate(
        Turn()("toolCallStarted", callId="user_shell_1", name="user_shell", arguments=arguments)
    )
    assert isinstance(start, ToolCallStart)
    assert (start.title, start.kind, start.status) == ("ls -la", "execute", "in_progress")


def test_long_output_shows_its_tail() -> None:
    translator = EventTranslator(CWD, check=never_read_only, output_limit=100)
    turn = Turn()
    translator.translate(
        turn("toolCallStarted", callId="c", name="shell", arguments=shell_args("yes"))
    )
    for _ in range(50):
        (update,) = translator.translate(turn("toolOutputDelta", callId="c", delta="y\n" * 10))
    (shown,) = texts(update)
    assert "earlier characters not shown" in shown
    assert len(shown) < 200


def test_approval_then_running(translator: EventTranslator) -> None:
    turn = Turn()
    translator.translate(
        turn("toolCallStarted", callId="c", name="shell", arguments=shell_args("make"))
    )
    view = translator.view("turn-1", "c")
    assert view is not None
    assert view.title == "make"
    (running,) = translator.running("turn-1", "c")
    assert isinstance(running, ToolCallProgress)
    assert running.status == "in_progress"
    assert translator.running("turn-1", "c") == []  # said once
    assert translator.running("turn-1", "unknown") == []


def test_update_plan_is_the_plan_not_a_tool_call(translator: EventTranslator) -> None:
    turn = Turn()
    arguments = json.dumps(
        {
            "plan": [
                {"step": "read the code", "status": "completed"},
                {"step": "fix it", "status": "in_progress"},
                {"step": "test", "status": "bogus"},
            ]
        }
    )
    (plan,) = translator.translate(
        turn("toolCallStarted", callId="u", name="update_plan", arguments=arguments)
    )
    assert wire(plan) == {
        "sessionUpdate": "plan",
        "entries": [
            {"content": "read the code", "priority": "medium", "status": "completed"},
            {"content": "fix it", "priority": "medium", "status": "in_progress"},
            {"content": "test", "priority": "medium", "status": "pending"},
        ],
    }
    assert translator.translate(turn("toolCallCompleted", callId="u", status="completed")) == []
    (event_plan,) = translator.translate(turn("plan", plan=[{"step": "x", "status": "pending"}]))
    assert isinstance(event_plan, AgentPlanUpdate)


def test_token_usage_is_the_context_meter_when_the_window_is_known(
    translator: EventTranslator,
) -> None:
    turn = Turn()
    (meter,) = translator.translate(
        turn("tokenUsage", inputTokens=1000, outputTokens=200, contextWindow=8000, percent=15)
    )
    assert isinstance(meter, UsageUpdate)
    assert wire(meter) == {"sessionUpdate": "usage_update", "used": 1200, "size": 8000}
    assert translator.translate(turn("tokenUsage", inputTokens=1, outputTokens=2)) == []


def test_compaction_steering_and_quiet_events(translator: EventTranslator) -> None:
    turn = Turn()
    (started,) = translator.translate(
        turn("compaction", phase="started", reason="auto", tokensBefore=90000)
    )
    (done,) = translator.translate(
        turn("compaction", phase="completed", reason="auto", tokensBefore=90000, tokensAfter=9000)
    )
    (failed,) = translator.translate(
        turn("compaction", phase="failed", reason="auto", error={"message": "stopped"})
    )
    for update, words in ((started, "90,000"), (done, "9,000"), (failed, "stopped")):
        assert isinstance(update, AgentThoughtChunk)
        assert words in update.content.text  # type: ignore[union-attr]
    (steered,) = translator.translate(turn("steered", text="also the docs"))
    assert isinstance(steered, UserMessageChunk)
    assert translator.translate(turn("turnDiff", diff="", files=[])) == []
    assert translator.translate(turn("somethingNew", x=1)) == []


def test_turn_end_closes_calls_left_open_and_forgets_the_turn(
    translator: EventTranslator,
) -> None:
    turn = Turn()
    translator.translate(
        turn("toolCallStarted", callId="c", name="shell", arguments=shell_args("make"))
    )
    (closed,) = translator.translate(turn("turnCompleted", status="interrupted"))
    assert isinstance(closed, ToolCallProgress)
    assert (closed.tool_call_id, closed.status) == ("turn-1/c", "failed")
    assert translator.translate(turn("toolOutputDelta", callId="c", delta="late")) == []


def test_call_ids_are_unique_across_turns() -> None:
    assert tool_call_id("turn-1", "call_0") != tool_call_id("turn-2", "call_0")
    translator = EventTranslator(CWD, check=never_read_only)
    first = translator.translate(
        Turn("turn-1")("toolCallStarted", callId="call_0", name="shell", arguments="{}")
    )
    second = translator.translate(
        Turn("turn-2")("toolCallStarted", callId="call_0", name="shell", arguments="{}")
    )
    assert isinstance(first[0], ToolCallStart)
    assert isinstance(second[0], ToolCallStart)
    assert first[0].tool_call_id != second[0].tool_call_id


def test_title_update() -> None:
    assert wire(title_update("Fix the build")) == {
        "sessionUpdate": "session_info_update",
        "title": "Fix the build",
    }


def test_a_failing_check_counts_as_execute() -> None:
    def broken(argv: list[str], cwd: Path) -> bool:
        raise RuntimeError("grammar missing")

    translator = EventTranslator(CWD, check=broken)
    (start,) = translator.translate(
        Turn()("toolCallStarted", callId="c", name="shell", arguments=shell_args("ls"))
    )
    assert isinstance(start, ToolCallStart)
    assert start.kind == "execute"
