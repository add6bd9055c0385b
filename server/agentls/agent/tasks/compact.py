"""`agent/compact` as a task, so that sends wait and a stop works on it as on a turn.

It records no turn (a compaction is not a conversation turn) and sends no
`turnStarted`/`turnCompleted`: only `compaction` events, under its own id.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from agentls.agent.compaction import Compaction, CompactionOutcome
from agentls.agent.results import CoreError, TurnResult, TurnStatus
from agentls.agent.tasks.control import uncancel
from agentls.agent.tasks.events import EventSink, Redact, TaskEvents


class CompactTask:
    def __init__(
        self, session_id: str, compaction: Compaction, sink: EventSink, redact: Redact
    ) -> None:
        self.id = f"compact-{uuid.uuid4().hex[:12]}"
        self.session_id = session_id
        self.finishing = False
        self.outcome: CompactionOutcome | None = None
        self._compaction = compaction
        self._events = TaskEvents(session_id, self.id, sink, redact)

    async def run(self) -> TurnResult:
        status: TurnStatus = "completed"
        error: dict[str, Any] | None = None
        try:
            await self._compaction.resolve_window()
            self.outcome = await self._compaction.run(self._events.emit, reason="manual")
        except asyncio.CancelledError:
            uncancel()
            status = "interrupted"
        except CoreError as exc:
            status, error = "failed", {"message": str(exc)}
        self.finishing = True
        return TurnResult(self.session_id, self.id, status, error=error)
