"""The chat's pieces that need no server: rendering, line editing, choosing a session."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from tests.agentls.chat.terminal import plain

from agentls.chat.keys import Key, LineEditor
from agentls.chat.live import LiveRenderer
from agentls.chat.markdown import close_open_markup, stable_prefix_length
from agentls.chat.render import describe_tool
from agentls.chat.sessions import format_sessions, pick_session

GREEN, RED = "\x1b[32m", "\x1b[31m"


def _renderer() -> tuple[LiveRenderer, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=60, color_system="standard")
    return LiveRenderer(console), out


def test_finished_blocks_are_cut_outside_code_fences_only() -> None:
    assert stable_prefix_length("one paragraph still being written") == 0
    assert stable_prefix_length("done.\n\nnext") == len("done.\n\n")
    fenced = "```\ncode\n\nmore code\n"
    assert stable_prefix_length(fenced) == 0  # the blank line is inside the fence
    closed = fenced + "```\nafter"
    assert stable_prefix_length(closed) == len(fenced + "```\n")


def test_what_is_still_open_is_closed_while_it_streams() -> None:
    assert close_open_markup("Some **bold") == "Some **bold**"
    assert close_open_markup("run `ls") == "run `ls`"
    assert close_open_markup("```py\nx = 1\n") == "```py\nx = 1\n```"
    assert close_open_markup("done **here**") == "done **here**"


def test_markdown_streams_rendered_and_the_diffs_in_colour() -> None:
    ui, out = _renderer()
    ui.begin_turn()
    for piece in ("Some **bold", "** words.\n\n- one\n", "- two\n"):
        ui.event({"type": "textDelta", "delta": piece})
    ui.event(
        {
            "type": "toolCallStarted",
            "callId": "c1",
            "name": "apply_patch",
            "arguments": "{}",
            "changes": [
                {"path": "a.py", "kind": "update", "diff": "--- a/a.py\n+++ b/a.py\n-old\n+new\n"}
            ],
        }
    )
    ui.event({"type": "toolCallCompleted", "callId": "c1", "status": "completed"})
    ui.event(
        {"type": "turnDiff", "diff": "", "files": [{"path": "a.py", "added": 1, "removed": 1}]}
    )
    ui.event({"type": "tokenUsage", "inputTokens": 10, "outputTokens": 2, "percent": 42.4})
    ui.event({"type": "turnCompleted", "status": "completed", "usage": {"input_tokens": 10}})
    ui.end_turn()
    raw = out.getvalue()
    text = plain(raw)
    assert "**" not in text and "bold" in text and "• one" in text
    assert f"{GREEN}+new" in raw and f"{RED}-old" in raw
    assert "changed: a.py (+1 -1)" in text
    assert "context 42% used" in text


def test_mcp_calls_show_like_shell_calls() -> None:
    assert describe_tool("mcp__files__read", '{"path": "a.txt"}') == 'files/read {"path": "a.txt"}'
    assert describe_tool("shell", '{"command": ["bash", "-lc", "ls -la"]}') == "ls -la"
    ui, out = _renderer()
    ui.begin_turn()
    ui.event({"type": "toolCallStarted", "name": "mcp__files__read", "arguments": "{}"})
    ui.end_turn()
    assert "$ files/read" in plain(out.getvalue())


def test_one_line_per_retry() -> None:
    ui, out = _renderer()
    ui.begin_turn()
    reason = "could not look up api.openai.com (DNS failure): check this machine's network"
    for attempt in (2, 3, 4):
        ui.event({"type": "retrying", "attempt": attempt, "delayMs": 500, "reason": reason})
    ui.end_turn()
    lines = [line for line in plain(out.getvalue()).splitlines() if "attempt" in line]
    assert len(lines) == 3 and all("could not look up" in line for line in lines)


def test_the_line_editor() -> None:
    editor = LineEditor()
    keys = editor.feed("héllo wörld".encode())
    assert editor.buffer == "héllo wörld" and all(k.kind == "char" for k in keys)
    editor.feed(b"\x17")  # Ctrl-W: the last word
    assert editor.buffer == "héllo "
    editor.feed(b"\x7f\x1b[D")  # backspace; an arrow key is ignored
    assert editor.buffer == "héllo"
    assert editor.feed(b"\r") == [Key("line", "héllo")]
    assert editor.buffer == ""
    assert editor.feed(b"\x03") == [Key("interrupt")]
    assert editor.feed(b"\x04") == [Key("eof")]
    editor.feed(b"x\x15")  # Ctrl-U clears
    assert editor.buffer == ""
    # a character split across two reads
    editor.feed("é".encode()[:1])
    editor.feed("é".encode()[1:])
    assert editor.buffer == "é"


SESSIONS = [
    {"sessionId": "2026-a1", "title": "one-shot", "oneShot": True, "turns": 1},
    {"sessionId": "2026-b2", "title": "conversation", "turns": 4},
    {"sessionId": "2025-c3", "title": "older", "turns": 2},
]


def test_resume_picks_the_last_conversation_or_the_id_given() -> None:
    assert pick_session(SESSIONS, "") == "2026-b2"
    assert pick_session(SESSIONS[:1], "") == "2026-a1"  # only one-shots: the last one
    assert pick_session(SESSIONS, "2025") == "2025-c3"
    with pytest.raises(LookupError, match="matches 2 sessions"):
        pick_session(SESSIONS, "2026")
    with pytest.raises(LookupError, match="no session of this workspace starts with 'zz'"):
        pick_session(SESSIONS, "zz")
    with pytest.raises(LookupError, match="no session in this workspace yet"):
        pick_session([], "")
    listed = format_sessions(SESSIONS, current="2026-b2")
    assert "* 2026-b2" in listed and "(one-shot)" in listed


def test_a_redrawn_turn_shows_how_it_ended() -> None:
    ui, out = _renderer()
    ui.history(
        [
            {"role": "user", "text": "first", "turnId": "t1"},
            {
                "role": "assistant",
                "text": "partial",
                "turnId": "t1",
                "outcome": {"status": "interrupted"},
            },
            {
                "role": "user",
                "text": "second",
                "turnId": "t2",
                "outcome": {"status": "failed", "error": {"message": "401 from the model API"}},
            },
        ]
    )
    text = plain(out.getvalue())
    assert "(stopped)" in text and "error: 401 from the model API" in text


def test_a_bracketed_paste_is_one_message() -> None:
    editor = LineEditor()
    keys = editor.feed(b"\x1b[200~first line\r\nsecond line\x1b[201~")
    assert all(k.kind == "char" for k in keys)
    assert editor.buffer == "first line\n\nsecond line"
    assert editor.feed(b"\r") == [Key("line", "first line\n\nsecond line")]
