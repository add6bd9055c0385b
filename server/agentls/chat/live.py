"""How a turn looks in an interactive terminal: Markdown, wrapped, streamed, with a spinner.

Finished blocks of the answer are printed once through `rich`; a `rich.live.Live` region at
the bottom holds only what still changes: the block being written, a spinner ("thinking…",
"running …"), and the line the user is typing while the turn runs (which steers it or waits
for the next turn; it is never mixed into the answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from agentls.chat.markdown import close_open_markup, stable_prefix_length
from agentls.chat.render import (
    describe_tool,
    diff_summary,
    mcp_waiting_lines,
    outcome_line,
    stop_label,
    usage_line,
)
from agentls.protocol.events import EventType

MAX_OUTPUT_LINES = 40
MAX_DIFF_LINES = 120


def diff_text(diff: str, limit: int = MAX_DIFF_LINES) -> Text:
    """A unified diff coloured the usual way: additions green, removals red, hunks cyan."""
    text = Text()
    lines = diff.splitlines()
    for line in lines[:limit]:
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = "dim"
        text.append(line + "\n", style=style)
    if len(lines) > limit:
        text.append(f"… {len(lines) - limit} more lines\n", style="dim")
    return text


class _Tail:
    """The last lines of the block being written: the live region never outgrows the screen."""

    def __init__(self, markdown: str, max_lines: int) -> None:
        self.markdown = markdown
        self.max_lines = max_lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown = Markdown(close_open_markup(self.markdown))
        lines = console.render_lines(shown, options, pad=False)
        for line in lines[-self.max_lines :]:
            yield from line
            yield Segment.line()


class LiveRenderer:
    """Everything a running turn shows, on one `rich` console."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=False)
        self.live: Live | None = None
        self.text = ""  # the answer's part not yet printed for good
        self.printed_blocks = 0
        self.status: str | None = None
        self.input_label = ""
        self.input_text = ""
        self.question: str | None = None
        self.percent: float | None = None
        self.stopped = False
        self.usage: dict[str, Any] = {}
        self._output_lines = 0
        self._partial_output = ""
        self._patch_diffs_shown = False
        self._turn_diff: dict[str, Any] | None = None
        self._turn_started = 0.0
        # the events this view draws; the others (`turnStarted`, `steered`) it already shows
        # from what the user typed
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            EventType.TEXT_DELTA: self._on_text_delta,
            EventType.MESSAGE_COMPLETED: self._on_message_completed,
            EventType.TOOL_CALL_STARTED: self._on_tool_call_started,
            EventType.TOOL_OUTPUT_DELTA: self._on_tool_output_delta,
            EventType.TOOL_CALL_COMPLETED: self._on_tool_call_completed,
            EventType.TURN_DIFF: self._on_turn_diff,
            EventType.TOKEN_USAGE: self._on_token_usage,
            EventType.COMPACTION: self._on_compaction,
            EventType.MCP_WAITING: self._on_mcp_waiting,
            EventType.RETRYING: self._on_retrying,
            EventType.TURN_COMPLETED: self._on_turn_completed,
        }

    # -- the live region -------------------------------------------------------------------
    def _region(self) -> RenderableType:
        parts: list[RenderableType] = []
        if self.text.strip():
            parts.append(_Tail(self.text, max(3, self.console.size.height - 4)))
        if self.question:
            parts.append(Text(self.question, style="bold yellow"))
        elif self.status:
            parts.append(Spinner("dots", Text(self.status, style="dim"), style="cyan"))
        if self.input_text or self.input_label:
            line = Text(self.input_label, style="dim")
            line.append(self.input_text)
            parts.append(line)
        return Group(*parts)

    def _refresh(self, now: bool = True) -> None:
        # text deltas wait for the next frame (12 per second): tokens can come faster
        if self.live is not None:
            self.live.update(self._region(), refresh=now)

    def begin_turn(self, status: str = "thinking…") -> None:
        self.text = ""
        self.printed_blocks = 0
        self.status = status
        self.question = None
        self.stopped = False
        self.usage = {}
        self._patch_diffs_shown = False
        self._turn_diff = None
        self._turn_started = time.monotonic()
        self.live = Live(
            self._region(),
            console=self.console,
            refresh_per_second=12,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.live.start()

    def end_turn(self) -> None:
        self._flush_text()
        if self.live is not None:
            self.live.stop()
            self.live = None

    def stopping(self) -> None:
        self.stopped = True
        self.status = "stopping…"
        self._refresh()

    def set_input(self, label: str, text: str) -> None:
        self.input_label, self.input_text = label, text
        self._refresh()

    def ask(self, question: str | None) -> None:
        self.question = question
        self._refresh()

    # -- printing above the live region ---------------------------------------------------
    def print(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def notice(self, text: str) -> None:
        self.console.print(Text(text, style="dim"))

    def error(self, text: str) -> None:
        self.console.print(Text(text, style="bold red"))

    def _flush_text(self, final: bool = True) -> None:
        cut = len(self.text) if final else stable_prefix_length(self.text)
        block = self.text[:cut]
        if block.strip():
            if self.printed_blocks:
                self.console.print()
            self.console.print(Markdown(block.strip("\n")))
            self.printed_blocks += 1
        self.text = self.text[cut:]
        if final:
            self.printed_blocks = 0

    def _flush_output(self) -> None:
        if self._partial_output:
            self._output_line(self._partial_output)
            self._partial_output = ""

    def _output_line(self, line: str) -> None:
        self._output_lines += 1
        if self._output_lines <= MAX_OUTPUT_LINES:
            self.console.print(Text("  " + line, style="dim"))
        elif self._output_lines == MAX_OUTPUT_LINES + 1:
            self.console.print(Text("  … (more output not shown)", style="dim"))

    # -- events ------------------------------------------------------------------------------
    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        handler = self._handlers.get(str(kind))
        if handler is not None:
            handler(event)
        self._refresh(now=kind != EventType.TEXT_DELTA)

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        self.status = None
        self.text += str(event.get("delta", ""))
        if stable_prefix_length(self.text):
            self._flush_text(final=False)

    def _on_message_completed(self, event: dict[str, Any]) -> None:
        self._flush_text()

    def _on_tool_call_started(self, event: dict[str, Any]) -> None:
        self._flush_text()
        shown = describe_tool(
            str(event.get("name", "")), str(event.get("arguments", "")), event.get("mcp")
        )
        self.console.print(Text("$ ", style="bold cyan") + Text(shown, style="bold"))
        self.show_changes(list(event.get("changes") or []))
        self._output_lines = 0
        self.status = f"running {shown[:60]}…"

    def show_changes(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            kind = change.get("kind", "update")
            target = f" → {change['movePath']}" if change.get("movePath") else ""
            self.console.print(Text(f"  {kind} {change.get('path', '?')}{target}", style="bold"))
            if change.get("diff"):
                self.console.print(diff_text(str(change["diff"])))
                self._patch_diffs_shown = True
        self._refresh()

    def _on_tool_output_delta(self, event: dict[str, Any]) -> None:
        data = self._partial_output + str(event.get("delta", ""))
        *lines, self._partial_output = data.split("\n")
        for line in lines:
            self._output_line(line)

    def _on_tool_call_completed(self, event: dict[str, Any]) -> None:
        self._flush_output()
        code = event.get("exitCode")
        status = event.get("status")
        mark = f"[exit {code}]" if code is not None and status == "completed" else f"[{status}]"
        style = "dim" if status == "completed" and code in (0, None) else "yellow"
        self.console.print(Text(mark, style=style))
        self.status = "stopping…" if self.stopped else "thinking…"

    def _on_turn_diff(self, event: dict[str, Any]) -> None:
        self._turn_diff = event

    def _on_token_usage(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("percent"), int | float):
            self.percent = float(event["percent"])

    def _on_compaction(self, event: dict[str, Any]) -> None:
        phase = event.get("phase")
        if phase == "started":
            self.status = "compacting the conversation…"
        elif phase == "completed":
            self.notice(
                f"(conversation compacted: {event.get('tokensBefore', '?')} → "
                f"{event.get('tokensAfter', '?')} tokens)"
            )
            self.status = "thinking…"
        else:
            self.error("(compaction failed)")

    def _on_mcp_waiting(self, event: dict[str, Any]) -> None:
        if event.get("phase") == "started":
            servers = ", ".join(str(name) for name in event.get("servers") or [])
            self.status = f"waiting for MCP servers to start ({servers})…"
            return
        for line in mcp_waiting_lines(event):
            self.console.print(Text(line, style="yellow"))
        self.status = "stopping…" if self.stopped else "thinking…"

    def _on_retrying(self, event: dict[str, Any]) -> None:
        reason = str(event.get("reason", "")).split("; ")[0]
        delay = float(event.get("delayMs") or 0) / 1000
        line = Text(f"(attempt {event.get('attempt')} in {delay:.1f} s: {reason})", style="dim")
        line.no_wrap, line.overflow = True, "ellipsis"  # one line per retry, whatever the width
        self.console.print(line)
        self.status = "retrying…"

    def _on_turn_completed(self, event: dict[str, Any]) -> None:
        self._flush_text()
        self._flush_output()
        self.status = None
        diff = self._turn_diff
        if diff and diff.get("files"):
            self.console.print(Text(diff_summary(diff["files"]), style="bold"))
            if not self._patch_diffs_shown and diff.get("diff"):
                self.console.print(diff_text(str(diff["diff"])))
        status = event.get("status")
        if status == "interrupted":
            self.console.print(Text(stop_label(), style="yellow"))
        elif status == "failed":
            error = event.get("error") or {}
            self.error(f"error: {error.get('message', 'the turn failed')}")
        line = usage_line(event.get("usage") or {}, self.percent)
        if line:
            self.notice(line)

    def history(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            role = entry.get("role")
            text = str(entry.get("text", ""))
            if role == "user":
                self.console.print(Text("> " + text, style="bold"))
            elif role == "assistant":
                self.console.print(Markdown(text))
            elif role == "tool":
                status = entry.get("status", "")
                self.console.print(Text(f"$ {text} [{status}]", style="dim"))
            line = outcome_line(entry.get("outcome"))
            if line:
                self.console.print(Text(line, style="yellow"))
