"""How the front ends show `mcpWaiting`: the terminal (plain and live) and ACP."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from acp.schema import AgentThoughtChunk
from rich.console import Console

from agentls.acp.updates import EventTranslator
from agentls.chat.live import LiveRenderer
from agentls.chat.render import TerminalRenderer, mcp_waiting_lines

STARTED: dict[str, Any] = {"type": "mcpWaiting", "phase": "started", "servers": ["docs", "db"]}
COMPLETED: dict[str, Any] = {
    "type": "mcpWaiting",
    "phase": "completed",
    "servers": ["docs", "db"],
    "ready": ["docs"],
    "failed": [{"name": "db", "error": "did not start within 10 s\nstderr: boom"}],
    "waitedMs": 10003,
}


def _event(fields: dict[str, Any], seq: int) -> dict[str, Any]:
    return {"sessionId": "s", "turnId": "turn-1", "seq": seq, **fields}


def test_the_lines_name_the_servers_and_the_failures_first_line() -> None:
    assert mcp_waiting_lines(STARTED) == ["(waiting for MCP servers to start: docs, db)"]
    assert mcp_waiting_lines(COMPLETED) == [
        "(MCP server 'db' is not available: did not start within 10 s; going on)"
    ]
    all_ready = {**COMPLETED, "ready": ["docs", "db"], "failed": []}
    assert mcp_waiting_lines(all_ready) == []


def test_the_plain_terminal_says_it_on_the_info_stream() -> None:
    out, info = io.StringIO(), io.StringIO()
    renderer = TerminalRenderer(out, info)
    renderer.event(_event(STARTED, 1))
    renderer.event(_event(COMPLETED, 2))
    assert out.getvalue() == ""  # the answer stream stays the model's
    assert "waiting for MCP servers to start: docs, db" in info.getvalue()
    assert "MCP server 'db' is not available" in info.getvalue()


def test_the_live_terminal_shows_a_status_then_the_failure() -> None:
    out = io.StringIO()
    renderer = LiveRenderer(Console(file=out, force_terminal=True, width=100))
    renderer.event(_event(STARTED, 1))
    assert renderer.status == "waiting for MCP servers to start (docs, db)…"
    renderer.event(_event(COMPLETED, 2))
    assert renderer.status == "thinking…"
    assert "MCP server 'db' is not available" in out.getvalue()


def test_acp_gets_thoughts() -> None:
    translator = EventTranslator(Path("/work"), check=None)
    [started] = translator.translate(_event(STARTED, 1))
    assert isinstance(started, AgentThoughtChunk)
    assert "Waiting for MCP servers to start: docs, db" in started.content.text  # type: ignore[union-attr]
    [failed] = translator.translate(_event(COMPLETED, 2))
    assert isinstance(failed, AgentThoughtChunk)
    assert "db is not available: did not start within 10 s" in failed.content.text  # type: ignore[union-attr]
