"""A saved conversation replayed as `session/update`s, from the panel history the core renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    ContentToolCallContent,
    FileEditToolCallContent,
    ToolCallStart,
    UserMessageChunk,
)

from agentls.acp.history import history_updates
from agentls.acp.updates import Update
from agentls.history.user_shell import user_shell_message
from agentls.history.view import render_history

CWD = Path("/work/project")


def never_read_only(argv: list[str], cwd: Path) -> bool:
    return False


def wire(update: Update) -> dict[str, Any]:
    return update.model_dump(mode="json", by_alias=True, exclude_none=True)


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(arguments),
    }


def output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


PATCH = (
    "*** Begin Patch\n*** Update File: src/a.py\n@@\n def f():\n-    return 1\n+    return 2\n"
    "*** Add File: notes.txt\n+hello\n*** End Patch\n"
)


def rendered() -> list[dict[str, Any]]:
    """Two turns as the core renders them: messages, a shell call, a patch, a user command."""
    items = [
        user("fix f"),
        call("call_1", "shell", {"command": ["bash", "-lc", "pytest -q"]}),
        output("call_1", "1 failed"),
        call("call_2", "apply_patch", {"input": PATCH}),
        output("call_2", "Success."),
        assistant("Fixed f."),
        user_shell_message("git status", "Exit code: 0\nWall time: 0.01 seconds\nOutput:\nclean\n"),
        user("and the docs?"),
        call("call_3", "shell", {"command": ["rm", "-rf", "docs"]}),
        output("call_3", "The user denied this command."),
    ]
    events = [
        {"type": "turn_started", "turn_id": "turn-a", "_item_index": 0},
        {"type": "tool_call_completed", "call_id": "call_1", "status": "failed", "exit_code": 1},
        {"type": "tool_call_completed", "call_id": "call_2", "status": "completed"},
        {"type": "turn_completed", "turn_id": "turn-a", "status": "completed", "_item_index": 6},
        {"type": "turn_started", "turn_id": "turn-b", "_item_index": 6},
        {"type": "turn_completed", "turn_id": "turn-b", "status": "completed", "_item_index": 7},
        {"type": "turn_started", "turn_id": "turn-c", "_item_index": 7},
        {"type": "tool_call_completed", "call_id": "call_3", "status": "denied"},
        {
            "type": "turn_completed",
            "turn_id": "turn-c",
            "status": "failed",
            "error": {"message": "401 from the model API"},
            "_item_index": 10,
        },
    ]
    return render_history(items, events)


def test_a_conversation_is_told_again_in_order() -> None:
    updates = history_updates(rendered(), CWD, check=never_read_only)
    kinds = [
        (type(u).__name__, getattr(u, "kind", None), getattr(u, "status", None)) for u in updates
    ]
    assert kinds == [
        ("UserMessageChunk", None, None),
        ("ToolCallStart", "execute", "failed"),
        ("ToolCallStart", "edit", "completed"),
        ("AgentMessageChunk", None, None),
        ("ToolCallStart", "execute", "completed"),  # the user's own command
        ("UserMessageChunk", None, None),
        ("ToolCallStart", "execute", "failed"),  # denied
        ("AgentMessageChunk", None, None),  # the failed turn's error
    ]
    first, shell = updates[0], updates[1]
    assert isinstance(first, UserMessageChunk)
    assert wire(first)["content"] == {"type": "text", "text": "fix f"}
    assert wire(shell) == {
        "sessionUpdate": "tool_call",
        "toolCallId": "turn-a/call_1",
        "title": "pytest -q",
        "kind": "execute",
        "status": "failed",
        "content": [
            {"type": "content", "content": {"type": "text", "text": "```\n1 failed\n```"}},
            {"type": "content", "content": {"type": "text", "text": "Exit code: 1"}},
        ],
        "rawInput": {"command": "pytest -q"},
    }
    error = updates[-1]
    assert isinstance(error, AgentMessageChunk)
    assert "401 from the model API" in error.content.text  # type: ignore[union-attr]


def test_a_saved_patch_shows_its_diffs() -> None:
    patch = history_updates(rendered(), CWD, check=never_read_only)[2]
    assert isinstance(patch, ToolCallStart)
    assert patch.title == "Edit src/a.py, notes.txt"
    diffs = [item for item in patch.content or [] if isinstance(item, FileEditToolCallContent)]
    assert [(d.path, d.old_text, d.new_text) for d in diffs] == [
        ("/work/project/src/a.py", "def f():\n    return 1\n", "def f():\n    return 2\n"),
        ("/work/project/notes.txt", None, "hello\n"),
    ]
    assert [loc.path for loc in patch.locations or []] == [
        "/work/project/src/a.py",
        "/work/project/notes.txt",
    ]


def test_the_user_command_and_denied_calls() -> None:
    updates = history_updates(rendered(), CWD, check=never_read_only)
    command, denied = updates[4], updates[6]
    assert isinstance(command, ToolCallStart)
    assert command.title == "git status"
    assert command.tool_call_id.startswith("turn-b/")
    texts = [
        item.content.text  # type: ignore[union-attr]
        for item in command.content or []
        if isinstance(item, ContentToolCallContent)
    ]
    assert texts == ["```\nclean\n```"]
    assert isinstance(denied, ToolCallStart)
    assert [
        item.content.text  # type: ignore[union-attr]
        for item in denied.content or []
        if isinstance(item, ContentToolCallContent)
    ] == ["Denied by the user."]


def test_ids_are_unique_and_stable() -> None:
    first = history_updates(rendered(), CWD, check=never_read_only)
    again = history_updates(rendered(), CWD, check=never_read_only)
    ids = [u.tool_call_id for u in first if isinstance(u, ToolCallStart)]
    assert len(ids) == len(set(ids))
    assert ids == [u.tool_call_id for u in again if isinstance(u, ToolCallStart)]
    messages = [u.message_id for u in first if isinstance(u, UserMessageChunk | AgentMessageChunk)]
    assert len(messages) == len(set(messages))


def test_read_only_commands_and_shell_patches_and_plans() -> None:
    entries = [
        {"role": "tool", "toolName": "shell", "text": "rg TODO", "callId": "c1", "output": ""},
        {
            "role": "tool",
            "toolName": "shell",
            "text": "apply_patch <<'EOF'\n" + PATCH + "EOF",
            "callId": "c2",
            "status": "completed",
        },
        {
            "role": "tool",
            "toolName": "update_plan",
            "text": json.dumps({"plan": [{"step": "a", "status": "completed"}]}),
            "callId": "c3",
            "status": "completed",
        },
        {
            "role": "tool",
            "toolName": "mcp__web__fetch",
            "text": '{"url": "https://x"}',
            "callId": "c4",
            "status": "completed",
            "output": "page",
        },
        {"role": "assistant", "text": ""},  # nothing to say: nothing sent
    ]
    search, patch, plan, mcp = history_updates(entries, CWD, check=lambda argv, cwd: True)
    assert isinstance(search, ToolCallStart)
    assert (search.kind, search.status) == ("search", "completed")
    assert isinstance(patch, ToolCallStart)
    assert patch.kind == "edit"
    assert isinstance(plan, AgentPlanUpdate)
    assert isinstance(mcp, ToolCallStart)
    assert (mcp.title, mcp.kind, mcp.raw_input) == ("web: fetch", "fetch", {"url": "https://x"})


def test_an_unreadable_patch_still_replays() -> None:
    entries = [
        {"role": "tool", "toolName": "apply_patch", "text": "{not json", "status": "failed"},
    ]
    (patch,) = history_updates(entries, CWD)
    assert isinstance(patch, ToolCallStart)
    assert (patch.kind, patch.status, patch.title) == ("edit", "failed", "Apply a patch")
