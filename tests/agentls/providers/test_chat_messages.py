"""Responses-style history to Chat Completions messages."""

from __future__ import annotations

from typing import Any

from agentls.providers.chat import to_chat_tools, to_messages
from agentls.tools.shell import SHELL_TOOL


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def said(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def call(cid: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": cid,
        "name": "shell",
        "arguments": '{"command":["ls"]}',
    }


def out(cid: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": cid, "output": text}


def test_text_and_calls_become_one_assistant_message_with_tool_replies() -> None:
    messages = to_messages(
        [
            user("hi"),
            said("let me look"),
            call("a"),
            call("b"),
            out("a", "A"),
            out("b", "B"),
            said("done"),
        ],
        "be brief",
    )
    assert messages[0] == {"role": "system", "content": "be brief"}
    assert messages[1] == {"role": "user", "content": "hi"}
    assistant = messages[2]
    assert assistant["content"] == "let me look"
    assert [c["id"] for c in assistant["tool_calls"]] == ["a", "b"]
    assert assistant["tool_calls"][0]["function"] == {
        "name": "shell",
        "arguments": '{"command":["ls"]}',
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "a", "content": "A"}
    assert messages[4] == {"role": "tool", "tool_call_id": "b", "content": "B"}
    assert messages[5] == {"role": "assistant", "content": "done"}


def test_every_tool_call_is_answered_right_after_it() -> None:
    # a crash left a call without output, and a later repair put the output far away
    messages = to_messages([user("1"), call("a"), user("2"), said("x"), out("a", "late")], None)
    roles = [m["role"] for m in messages]
    assert roles == ["user", "assistant", "tool", "user", "assistant"]
    assert messages[2]["content"] == "late"
    missing = to_messages([user("1"), call("z")], None)
    assert missing[-1] == {"role": "tool", "tool_call_id": "z", "content": "aborted"}


def test_reasoning_and_orphans_are_left_out() -> None:
    messages = to_messages(
        [{"type": "reasoning", "summary": []}, out("ghost", "x"), user("q")], None
    )
    assert messages == [{"role": "user", "content": "q"}]


def test_tools_are_wrapped_as_functions() -> None:
    tools = to_chat_tools([SHELL_TOOL])
    assert tools[0]["type"] == "function"
    assert tools[0]["function"]["name"] == "shell"
    assert tools[0]["function"]["parameters"]["required"] == ["command"]
