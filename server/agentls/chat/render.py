"""How a turn's events look when the output is not a terminal (pipes, `-p`, logs).

Answer text goes to `out` exactly as the model wrote it; everything about tools and status
goes to `info`, so `agentls chat -p ... > answer.txt` keeps only the answer. The helpers at
the top are shared with the interactive renderer.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from agentls.chat.mcp_servers import mcp_label
from agentls.history.view import describe_call
from agentls.protocol.events import EventType

DIM = "\033[2m"
BOLD = "\033[1m"
RED = "\033[31m"
RESET = "\033[0m"


def describe_tool(name: str, arguments: str, mcp: Any = None) -> str:
    """A call as the user would read it: shell commands as typed, MCP tools as server/tool.

    `mcp` is the event's `{server, tool}`; without it the name is split at its `__`s.
    """
    label = mcp_label(mcp)
    if label is None and name.startswith("mcp__"):
        _prefix, _sep, rest = name.partition("__")
        server, _sep, tool = rest.partition("__")
        label = f"{server}/{tool}"
    if label is not None:
        shown = arguments.strip()
        return f"{label} {shown}" if shown and shown != "{}" else label
    if name == "apply_patch":
        return "apply_patch"
    return describe_call(name, arguments)


def diff_summary(files: list[dict[str, Any]]) -> str:
    parts = [f"{f.get('path')} (+{f.get('added', 0)} -{f.get('removed', 0)})" for f in files]
    return "changed: " + ", ".join(parts)


def stop_label() -> str:
    return "(stopped)"


def usage_line(usage: dict[str, Any], percent: float | None) -> str:
    parts = []
    if usage:
        parts.append(f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out")
    if percent is not None:
        parts.append(f"context {percent:.0f}% used")
    return f"({' · '.join(parts)})" if parts else ""


def mcp_waiting_lines(event: dict[str, Any]) -> list[str]:
    """What an `mcpWaiting` event says: which servers the turn waits for, which failed."""
    if event.get("phase") == "started":
        servers = ", ".join(str(name) for name in event.get("servers") or [])
        return [f"(waiting for MCP servers to start: {servers})"]
    lines = []
    for failed in event.get("failed") or []:
        error = str(failed.get("error") or "not available").split("\n")[0]
        lines.append(f"(MCP server '{failed.get('name')}' is not available: {error}; going on)")
    return lines


def outcome_line(outcome: Any) -> str:
    """How a redrawn turn ended, when that is worth a line: stopped or failed."""
    if not isinstance(outcome, dict):
        return ""
    if outcome.get("status") == "interrupted":
        return stop_label()
    if outcome.get("status") == "failed":
        error = outcome.get("error") or {}
        return f"error: {error.get('message', 'the turn failed')}"
    return ""


class TerminalRenderer:
    """Plain text: what a pipe, a file or a log should receive."""

    def __init__(self, out: TextIO = sys.stdout, info: TextIO = sys.stderr) -> None:
        self.out = out
        self.info = info
        self.color = info.isatty()
        self._at_line_start = True
        self.percent: float | None = None
        self._turn_diff: dict[str, Any] | None = None

    def _style(self, text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if self.color else text

    def _write(self, stream: TextIO, text: str) -> None:
        if stream is not self.out and not self._at_line_start:
            self.out.write("\n")
            self.out.flush()
            self._at_line_start = True
        stream.write(text)
        stream.flush()
        if stream is self.out and text:
            self._at_line_start = text.endswith("\n")

    def begin_turn(self) -> None:
        self._turn_diff = None

    def end_turn(self) -> None:
        return None

    def set_input(self, label: str, text: str) -> None:
        return None

    def stopping(self) -> None:
        return None

    def ask(self, question: str | None) -> None:
        if question:
            self._write(self.info, question + " ")

    def notice(self, text: str) -> None:
        self._write(self.info, self._style(text, DIM) + "\n")

    def error(self, text: str) -> None:
        self._write(self.info, self._style(text, RED) + "\n")

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == EventType.TEXT_DELTA:
            self._write(self.out, str(event.get("delta", "")))
        elif kind == EventType.TOOL_CALL_STARTED:
            shown = describe_tool(
                str(event.get("name", "")), str(event.get("arguments", "")), event.get("mcp")
            )
            self._write(self.info, self._style(f"$ {shown}", BOLD) + "\n")
            self.show_changes(list(event.get("changes") or []))
        elif kind == EventType.TOOL_OUTPUT_DELTA:
            self._write(self.info, self._style(str(event.get("delta", "")), DIM))
        elif kind == EventType.TOOL_CALL_COMPLETED:
            status = event.get("status")
            code = event.get("exitCode")
            mark = f"[exit {code}]" if code is not None else f"[{status}]"
            self._write(self.info, "\n" + self._style(mark, DIM) + "\n")
        elif kind == EventType.TURN_DIFF:
            self._turn_diff = event
        elif kind == EventType.TOKEN_USAGE and isinstance(event.get("percent"), int | float):
            self.percent = float(event["percent"])
        elif kind == EventType.MCP_WAITING:
            for line in mcp_waiting_lines(event):
                self.notice(line)
        elif kind == EventType.RETRYING:
            reason = str(event.get("reason", "")).split("; ")[0][:120]
            self.notice(f"(attempt {event.get('attempt')}: {reason})")
        elif kind == EventType.TURN_COMPLETED:
            self._completed(event)

    def show_changes(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            self._write(self.info, self._style(f"{change.get('kind')} {change.get('path')}", BOLD))
            self._write(self.info, "\n" + str(change.get("diff", "")))

    def _completed(self, event: dict[str, Any]) -> None:
        if not self._at_line_start:
            self._write(self.out, "\n")
        if self._turn_diff and self._turn_diff.get("files"):
            self.notice(diff_summary(self._turn_diff["files"]))
        status = event.get("status")
        if status == "interrupted":
            self.notice(stop_label())
        elif status == "failed":
            error = event.get("error") or {}
            self.error(f"error: {error.get('message', 'the turn failed')}")
        line = usage_line(event.get("usage") or {}, self.percent)
        if line and status != "interrupted":
            self.notice(line)

    def history(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            role = entry.get("role")
            text = str(entry.get("text", ""))
            if role == "user":
                self._write(self.out, self._style(f"> {text}", BOLD) + "\n")
            elif role == "assistant":
                self._write(self.out, text + "\n")
            elif role == "tool":
                status = entry.get("status", "")
                self._write(self.info, self._style(f"$ {text} [{status}]", DIM) + "\n")
            line = outcome_line(entry.get("outcome"))
            if line:
                self.notice(line)
