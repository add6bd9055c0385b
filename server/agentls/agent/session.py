"""A session: its history in memory, its rollout on disk, at most one running turn.

A session object exists only while this server holds the session's file lock, so every
record it writes has a single writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from agentls.agent.context import AgentContext
from agentls.agent.results import TurnInProgressError, TurnResult
from agentls.history.repair import (
    ABORTED_OUTPUT,
    StatelessInput,
    function_call_output,
    pending_call_ids,
)
from agentls.history.validate import drop_invalid
from agentls.history.view import render_history
from agentls.rollout.paths import WorkspaceLayout, new_session_id
from agentls.rollout.reader import read_rollout
from agentls.rollout.records import (
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    STATE,
    TOOL_CALL_COMPLETED,
    TURN_ABORTED,
    TURN_COMPLETED,
    TURN_CONTEXT,
    TURN_STARTED,
    timestamp,
    utc_now,
)
from agentls.rollout.store import user_text
from agentls.rollout.writer import RolloutWriter

if TYPE_CHECKING:
    from agentls.agent.turn import EventSink, Turn

CRASH_REASON = "the server stopped during this turn"


@dataclass
class SessionInfo:
    created_at: str
    title: str = ""
    warnings: list[str] = field(default_factory=list)


class Session:
    def __init__(
        self,
        *,
        session_id: str,
        context: AgentContext,
        writer: RolloutWriter,
        history: list[dict[str, Any]],
        events: list[dict[str, Any]],
        info: SessionInfo,
        instructions: str | None = None,
    ) -> None:
        self.id = session_id
        self.context = context
        self.writer = writer
        self.history = history
        self.events = events
        self.info = info
        self.instructions = instructions
        self.approved_commands: set[tuple[str, ...]] = set()
        self.stateless_input = StatelessInput()
        # server-side history: the last stored response and how many items it covers
        self.response_chain: tuple[str, int] | None = None
        self.server_history_refused = False
        self._turn: Turn | None = None
        self._task: asyncio.Task[TurnResult] | None = None

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def create(cls, context: AgentContext, layout: WorkspaceLayout) -> Session:
        layout.ensure()
        session_id = new_session_id()
        created = utc_now()
        writer = RolloutWriter(
            layout.session_path(session_id, created), create=True, secrets=context.secrets()
        )
        settings = context.settings
        meta: dict[str, Any] = {
            "id": session_id,
            "timestamp": timestamp(created),
            "cwd": str(context.workspace),
            "workspace_uri": layout.uri,
            "originator": "agentls",
            "cli_version": context.version,
            "model_provider": urlparse(settings.base_url).netloc or settings.base_url,
            "model": settings.model,
        }
        if settings.instructions:
            meta["instructions"] = settings.instructions
        writer.append(SESSION_META, meta, created)
        writer.sync()
        return cls(
            session_id=session_id,
            context=context,
            writer=writer,
            history=[],
            events=[],
            info=SessionInfo(created_at=timestamp(created)),
            instructions=settings.instructions,
        )

    @classmethod
    def open(cls, context: AgentContext, path: Path, session_id: str) -> Session:
        """Lock, read, and repair what a stop or crash left: every call gets an output."""
        writer = RolloutWriter(path, create=False, secrets=context.secrets())
        try:
            rollout = read_rollout(path)
        except BaseException:
            writer.close()
            raise
        history, damaged = drop_invalid(rollout.items)
        warnings = [*rollout.warnings, *damaged]
        events = rollout.events
        meta = rollout.meta or {}
        if rollout.meta is None:
            warnings.append("the session_meta line is missing; the session is still usable")
        session = cls(
            session_id=session_id,
            context=context,
            writer=writer,
            history=history,
            events=events,
            info=SessionInfo(
                created_at=str(meta.get("timestamp") or ""),
                title=next((t for i in history if (t := user_text(i))), ""),
                warnings=warnings,
            ),
            instructions=meta.get("instructions") if isinstance(meta, dict) else None,
        )
        state = rollout.state or {}
        if isinstance(state.get("previous_response_id"), str):
            session.response_chain = (state["previous_response_id"], int(state["_item_index"]))
        session._repair_after_stop()
        return session

    def _repair_after_stop(self) -> None:
        warnings = self.info.warnings
        ended = {
            e.get("turn_id") for e in self.events if e.get("type") in (TURN_COMPLETED, TURN_ABORTED)
        }
        unfinished = [
            str(e.get("turn_id"))
            for e in self.events
            if e.get("type") == TURN_STARTED and e.get("turn_id") not in ended
        ]
        pending = pending_call_ids(self.history)
        for call_id in pending:
            self.record_call_output(call_id, ABORTED_OUTPUT, "aborted", None)
        for turn_id in unfinished:
            self._event({"type": TURN_ABORTED, "turn_id": turn_id, "reason": CRASH_REASON})
        if pending:
            warnings.append(
                f"{len(pending)} tool call(s) had no output (the server stopped while they ran); "
                "recorded them as aborted"
            )
        if unfinished:
            warnings.append(f"{len(unfinished)} turn(s) were cut off; recorded them as aborted")
        if pending or unfinished:
            self.writer.sync()

    # -- records ---------------------------------------------------------------------------
    def _event(self, payload: dict[str, Any]) -> None:
        self.writer.append(EVENT_MSG, payload)
        self.events.append(payload)

    def append_item(self, item: dict[str, Any]) -> None:
        self.writer.append(RESPONSE_ITEM, item)
        self.history.append(item)
        self.stateless_input.append(item)

    def record_turn_start(self, turn: Turn) -> None:
        settings = self.context.settings
        self.writer.append(
            TURN_CONTEXT,
            {
                "turn_id": turn.id,
                "model": settings.model,
                "approval_policy": settings.approval.value,
                "cwd": str(self.context.workspace),
            },
        )
        self._event({"type": TURN_STARTED, "turn_id": turn.id})
        self.append_item(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": turn.text}],
            }
        )
        if not self.info.title:
            self.info.title = turn.text

    def record_call_output(
        self, call_id: str, output: str, status: str, exit_code: int | None
    ) -> None:
        self.append_item(function_call_output(call_id, output))
        event: dict[str, Any] = {"type": TOOL_CALL_COMPLETED, "call_id": call_id, "status": status}
        if exit_code is not None:
            event["exit_code"] = exit_code
        self._event(event)

    def record_turn_end(
        self,
        turn_id: str,
        status: str,
        final_message: str | None,
        usage: dict[str, int] | None,
        error: dict[str, Any] | None,
    ) -> None:
        if status == "interrupted":
            self._event({"type": TURN_ABORTED, "turn_id": turn_id, "reason": "interrupted"})
            return
        payload: dict[str, Any] = {"type": TURN_COMPLETED, "turn_id": turn_id, "status": status}
        if final_message is not None:
            payload["last_agent_message"] = final_message
        if usage:
            payload["usage"] = usage
        if error:
            payload["error"] = error
        self._event(payload)

    def record_response_state(self, response_id: str) -> None:
        """Remember where the service's stored history ends, on disk too for resume."""
        self.writer.append(STATE, {"previous_response_id": response_id})
        self.response_chain = (response_id, len(self.history))

    def forget_response_chain(self, refused: bool) -> None:
        self.response_chain = None
        self.server_history_refused = self.server_history_refused or refused

    async def flush(self) -> None:
        await self.writer.sync_async()

    # -- turns -----------------------------------------------------------------------------
    @property
    def running_turn_id(self) -> str | None:
        return self._turn.id if self._turn is not None else None

    async def send(self, text: str, sink: EventSink) -> TurnResult:
        """Run one turn to its end; a cancelled caller interrupts the turn, then gets its result."""
        if self._task is not None:
            raise TurnInProgressError(
                f"a turn is already running in session {self.id}; "
                "wait for it to finish or interrupt it first"
            )
        from agentls.agent.turn import Turn  # the loop, its tools and clients: first send only

        turn = Turn(self, f"turn-{uuid.uuid4().hex[:12]}", text, sink)
        self._turn = turn
        task = asyncio.get_running_loop().create_task(turn.run(), name=f"agentls-{turn.id}")
        self._task = task
        task.add_done_callback(self._turn_done)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self.interrupt()
        while True:  # further cancels ask for what is already happening: keep waiting
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                continue

    def _turn_done(self, task: asyncio.Task[TurnResult]) -> None:
        if self._task is task:
            self._task = None
            self._turn = None

    def interrupt(self) -> str | None:
        """Stop the running turn; returns its id, or None when there was nothing to stop."""
        turn, task = self._turn, self._task
        if turn is None or task is None or task.done() or turn.finishing:
            return None
        if not turn.interrupt_requested:
            turn.interrupt_requested = True
            if turn.started:  # else the turn sees the flag on its first step
                task.cancel()
        return turn.id

    async def wait_idle(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    # -- views -----------------------------------------------------------------------------
    def history_view(self) -> list[dict[str, Any]]:
        return render_history(self.history, self.events)

    def updated_at(self) -> str:
        try:
            return timestamp(datetime.fromtimestamp(self.writer.path.stat().st_mtime).astimezone())
        except OSError:
            return self.info.created_at

    def close(self) -> None:
        self.writer.close()
