"""How a turn's events look in a terminal."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from agentls.history.view import describe_call

DIM = "\033[2m"
BOLD = "\033[1m"
RED = "\033[31m"
RESET = "\033[0m"


class TerminalRenderer:
    """Answer text goes to `out`; everything about tools and status goes to `info`."""

    def __init__(self, out: TextIO = sys.stdout, info: TextIO = sys.stderr) -> None:
        self.out = out
        self.info = info
        self.color = info.isatty()
        self._at_line_start = True

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

    def notice(self, text: str) -> None:
        self._write(self.info, self._style(text, DIM) + "\n")

    def error(self, text: str) -> None:
        self._write(self.info, self._style(text, RED) + "\n")

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "textDelta":
            self._write(self.out, str(event.get("delta", "")))
        elif kind == "toolCallStarted":
            shown = describe_call(str(event.get("name", "")), str(event.get("arguments", "")))
            self._write(self.info, self._style(f"$ {shown}", BOLD) + "\n")
        elif kind == "toolOutputDelta":
            self._write(self.info, self._style(str(event.get("delta", "")), DIM))
        elif kind == "toolCallCompleted":
            status = event.get("status")
            code = event.get("exitCode")
            mark = f"[exit {code}]" if code is not None else f"[{status}]"
            self._write(self.info, "\n" + self._style(mark, DIM) + "\n")
        elif kind == "retrying":
            self.notice(
                f"(retrying, attempt {event.get('attempt')} in {event.get('delayMs')} ms: "
                f"{event.get('reason')})"
            )
        elif kind == "turnCompleted":
            if not self._at_line_start:
                self._write(self.out, "\n")
            status = event.get("status")
            usage = event.get("usage") or {}
            if status == "interrupted":
                self.notice("(stopped)")
            elif status == "failed":
                error = event.get("error") or {}
                self.error(f"error: {error.get('message', 'the turn failed')}")
            elif usage:
                self.notice(
                    f"({usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out)"
                )

    def history(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            role = entry.get("role")
            text = str(entry.get("text", ""))
            if role == "user":
                self._write(self.out, self._style(f"> {text}", BOLD) + "\n")
            elif role == "assistant":
                self._write(self.out, text + "\n")
            else:
                status = entry.get("status", "")
                self._write(self.info, self._style(f"$ {text} [{status}]", DIM) + "\n")
