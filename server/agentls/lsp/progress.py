"""A turn as LSP work-done progress, so any editor shows it without knowing agentls."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agentls.protocol.events import EventType

REPORT_EVERY_S = 0.25
# the events a `report` tells of, at most every REPORT_EVERY_S
_REPORTED = frozenset({EventType.TEXT_DELTA, EventType.TOOL_CALL_STARTED, EventType.RETRYING})


class TurnProgress:
    def __init__(
        self, notify: Callable[[str, dict[str, Any]], None], token: str | int | None
    ) -> None:
        self._notify = notify
        self._token = token
        self._last_report = 0.0
        self._chars = 0

    def _progress(self, value: dict[str, Any]) -> None:
        self._notify("$/progress", {"token": self._token, "value": value})

    def on_event(self, event: dict[str, Any]) -> None:
        if self._token is None:
            return
        kind = event.get("type")
        if kind == EventType.TURN_STARTED:
            self._progress(
                {"kind": "begin", "title": "agentls", "message": "thinking…", "cancellable": True}
            )
        elif kind == EventType.TURN_COMPLETED:
            self._progress({"kind": "end", "message": str(event.get("status"))})
        elif kind in _REPORTED:
            self._chars += len(str(event.get("delta", "")))
            now = time.monotonic()
            if now - self._last_report < REPORT_EVERY_S:
                return
            self._last_report = now
            if kind == EventType.TEXT_DELTA:
                message = f"answering ({self._chars} chars)"
            elif kind == EventType.TOOL_CALL_STARTED:
                message = f"running {event.get('name')}"
            else:
                message = f"retrying (attempt {event.get('attempt')})"
            self._progress({"kind": "report", "message": message})
