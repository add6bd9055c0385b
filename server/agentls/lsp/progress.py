"""A turn as LSP work-done progress, so any editor shows it without knowing agentls."""

from __future__ import annotations

import time
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

REPORT_EVERY_S = 0.25


class TurnProgress:
    def __init__(self, server: LanguageServer, token: str | int | None) -> None:
        self._server = server
        self._token = token
        self._last_report = 0.0
        self._chars = 0

    def on_event(self, event: dict[str, Any]) -> None:
        token = self._token
        if token is None:
            return
        progress = self._server.work_done_progress
        kind = event.get("type")
        if kind == "turnStarted":
            progress.begin(
                token,
                types.WorkDoneProgressBegin(title="agentls", message="thinking…", cancellable=True),
            )
        elif kind == "turnCompleted":
            progress.end(token, types.WorkDoneProgressEnd(message=str(event.get("status"))))
        elif kind in ("textDelta", "toolCallStarted", "retrying"):
            self._chars += len(str(event.get("delta", "")))
            now = time.monotonic()
            if now - self._last_report < REPORT_EVERY_S:
                return
            self._last_report = now
            message = {
                "textDelta": f"answering ({self._chars} chars)",
                "toolCallStarted": f"running {event.get('name')}",
                "retrying": f"retrying (attempt {event.get('attempt')})",
            }[str(kind)]
            progress.report(token, types.WorkDoneProgressReport(message=message))
