"""How a turn-shaped task (a conversation turn, the user's command) records and ends.

`end_turn` is the one way out: text the user added that no request carried is reported, the
end record is written and fsynced, and only then does the front end hear `turnCompleted`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from agentls.agent.results import StorageError, TurnResult, TurnStatus
from agentls.agent.tasks.control import uncancel
from agentls.agent.tasks.events import Redact, TaskEvents
from agentls.protocol import EventType

logger = logging.getLogger(__name__)


class TurnRecords(Protocol):
    """What a turn-shaped task may record in its session, and nothing more."""

    @property
    def session_id(self) -> str: ...

    def record_turn_opening(self, turn_id: str) -> None: ...

    def record_item(self, item: dict[str, Any]) -> None: ...

    def record_turn_end(
        self,
        turn_id: str,
        status: str,
        final_message: str | None,
        usage: dict[str, int] | None,
        error: dict[str, Any] | None,
    ) -> None: ...

    def take_steering(self) -> list[str]: ...

    def name_if_untitled(self, title: str) -> None: ...

    async def before_change(self, turn_id: str) -> None: ...

    async def changes_so_far(self, turn_id: str) -> dict[str, Any] | None: ...

    async def flush(self) -> None: ...


async def report_changes(host: TurnRecords, events: TaskEvents) -> None:
    """`turnDiff` when the workspace moved since the last report."""
    changes = await host.changes_so_far(events.task_id)
    if changes is not None:
        events.emit(EventType.TURN_DIFF, **changes)


async def changes_at_stop(host: TurnRecords, events: TaskEvents) -> None:
    """A command stopped mid-way may have changed files: checkpoint them (for undo)."""
    try:
        await report_changes(host, events)
    except asyncio.CancelledError:  # stopped again while stopping: the stop goes on
        uncancel()
    except Exception:
        logger.exception("no checkpoint after the stop of turn %s", events.task_id)


async def end_turn(
    host: TurnRecords,
    events: TaskEvents,
    redact: Redact,
    status: TurnStatus,
    final_message: str | None,
    usage: dict[str, int] | None,
    error: dict[str, Any] | None,
) -> TurnResult:
    """Record the end, flush, then tell the front end; a failed save still ends the turn."""
    turn_id = events.task_id
    try:
        # text the user added that no request carried stays in this turn, unanswered: it
        # must never slip into the next turn, after that turn's own message
        for text in host.take_steering():
            events.emit(EventType.STEERED, text=text)
        host.record_turn_end(turn_id, status, final_message, usage, error)
        await host.flush()
    except StorageError as exc:
        status, error = "failed", {"message": str(exc)}
    if error is not None:
        error = redact(error)
    fields: dict[str, Any] = {"status": status}
    if final_message is not None:
        fields["finalMessage"] = final_message
    if usage:
        fields["usage"] = usage
    if error:
        fields["error"] = error
    events.emit(EventType.TURN_COMPLETED, **fields)
    return TurnResult(
        session_id=host.session_id,
        turn_id=turn_id,
        status=status,
        final_message=final_message,
        usage=usage,
        error=error,
    )
