"""A session: its history in memory, its rollout on disk, at most one running turn.

A session object exists only while this server holds the session's file lock, so every
record it writes has a single writer: nothing else appends to its rollout (undo goes through
`rollback`, renames through `rename`). It is the host of its tasks (`agentls.agent.tasks`):
they record and ask through it, and its `TaskControl` starts, stops and awaits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.checkpoints import TurnChanges
from agentls.agent.compaction import Compaction, CompactionOutcome, fixed_tokens
from agentls.agent.context import AgentContext
from agentls.agent.instructions import ProjectInstructions
from agentls.agent.meta import forked_from, session_meta
from agentls.agent.results import StorageError, TurnInProgressError, TurnResult
from agentls.agent.tasks import EventSink, TaskControl, TaskEvents, prepare
from agentls.agent.tasks.turn import Turn
from agentls.agent.tools import Settle, Tool, ToolBox
from agentls.config.settings import HistoryMode, WireApi
from agentls.history.items import function_call_output
from agentls.history.repair import ABORTED_OUTPUT, StatelessInput, server_side_input
from agentls.history.validate import drop_invalid
from agentls.history.view import render_history
from agentls.providers.events import ModelRequest, ProviderError
from agentls.rollout.paging import ModelHistory, ResumeView, load_model_history, open_resume
from agentls.rollout.paths import WorkspaceLayout, new_session_id
from agentls.rollout.records import (
    COMPACTED,
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    SESSION_RENAMED,
    STATE,
    TOOL_CALL_COMPLETED,
    TURN_ABORTED,
    TURN_COMPLETED,
    TURN_CONTEXT,
    TURN_STARTED,
    TURNS_ROLLED_BACK,
    compacted_payload,
    timestamp,
    utc_now,
)
from agentls.rollout.writer import RolloutWriteError, RolloutWriter

CRASH_REASON = "the server stopped during this turn"
logger = logging.getLogger(__name__)


@dataclass
class SessionInfo:
    created_at: str
    title: str = ""
    warnings: list[str] = field(default_factory=list)
    # `{sessionId, turnId}` this session was forked from (agent/fork)
    forked_from: dict[str, str] | None = None


def _refuses_response_chain(error: ProviderError) -> bool:
    """A 400 about `previous_response_id` or `store`: forgotten, or never supported."""
    text = error.message.lower()
    return error.http_status == 400 and (
        "previous_response" in text or "previous response" in text or "'store'" in text
    )


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
        self._history = history
        self.events = events
        self.info = info
        self.instructions = instructions
        self.approved_commands: set[tuple[str, ...]] = set()
        self.approved_tools: set[tuple[str, str]] = set()  # MCP (server, tool) pairs
        self.approved_kinds: set[str] = set()
        self.turn_changes: dict[str, TurnChanges] = {}
        self.pending_attachments: list[dict[str, Any]] = []
        self.project_instructions: ProjectInstructions | None = None
        self.stateless_input = StatelessInput()
        # server-side history: the last stored response and how many items it covers
        self.response_chain: tuple[str, int] | None = None
        self.server_history_refused = False
        self.turns = TaskControl(session_id)
        self.steering: list[str] = []
        # told when the session file had to be recreated (its folder was deleted)
        self.on_relinked: Callable[[Session], None] | None = None
        # tools beyond the built-in ones (MCP), asked for at each request, and the wait
        # before a request for those still coming (MCP servers starting)
        self.extra_tools: Callable[[], list[Tool]] | None = None
        self.settle_tools: Settle | None = None
        # context meter and compaction
        self.compaction = Compaction(self)
        # a resumed session's model history is read at its first use (see `history`)
        self._resume_view: ResumeView | None = None
        self._loading: asyncio.Future[ModelHistory] | None = None
        self._opened_page: tuple[int, ResumeView] | None = None

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def create(
        cls, context: AgentContext, layout: WorkspaceLayout, *, one_shot: bool = False
    ) -> Session:
        """A new session file; `one_shot` marks a single question (the terminal's `-p`),
        which listings flag so "resume the last conversation" can pass over it."""
        session_id = new_session_id()
        created = utc_now()
        try:
            layout.ensure()
            writer = RolloutWriter(
                layout.session_path(session_id, created), create=True, secrets=context.secrets()
            )
        except OSError as exc:
            raise StorageError(f"could not create the session file: {exc}") from exc
        meta = session_meta(context, layout, session_id, created)
        if one_shot:
            meta["one_shot"] = True
        try:
            writer.append(SESSION_META, meta, created)
            writer.sync()
        except RolloutWriteError as exc:
            writer.close()
            raise StorageError(str(exc.strerror)) from exc
        return cls(
            session_id=session_id,
            context=context,
            writer=writer,
            history=[],
            events=[],
            info=SessionInfo(created_at=timestamp(created)),
            instructions=context.settings.instructions,
        )

    @classmethod
    def open(
        cls, context: AgentContext, path: Path, session_id: str, history_limit: int = 0
    ) -> Session:
        """Lock, read the file's ends, and repair what a stop or crash left.

        Only the head (meta, title) and the tail (the newest `history_limit` panel entries,
        the turn a crash cut off) are read here, so opening does not grow with the file; the
        model's part is read at its first use (`load_history`).
        """

        writer = RolloutWriter(path, create=False, secrets=context.secrets())
        try:
            view = open_resume(path, history_limit)
        except BaseException:
            writer.close()
            raise
        meta = view.meta or {}
        session = cls(
            session_id=session_id,
            context=context,
            writer=writer,
            history=[],
            events=[],
            info=SessionInfo(
                created_at=str(meta.get("timestamp") or ""),
                title=view.title,
                warnings=list(view.warnings),
                forked_from=forked_from(meta),
            ),
            instructions=meta.get("instructions") if isinstance(meta, dict) else None,
        )
        session._resume_view = view
        if not view.pending_calls and not view.unfinished_turns:
            # nothing to repair: the page read on the way is what the file says
            session._opened_page = (history_limit, view)
        session._repair_after_stop(view.pending_calls, view.unfinished_turns)
        return session

    def _repair_after_stop(self, pending: list[str], unfinished: list[str]) -> None:
        """Answer the calls a crash left without output, end the turns it cut off.

        Written to the file only: the model history, read from the file later, has them.
        """
        warnings = self.info.warnings
        try:
            for call_id in pending:
                self._append(RESPONSE_ITEM, function_call_output(call_id, ABORTED_OUTPUT))
                self._event({"type": TOOL_CALL_COMPLETED, "call_id": call_id, "status": "aborted"})
            for turn_id in unfinished:
                self._event({"type": TURN_ABORTED, "turn_id": turn_id, "reason": CRASH_REASON})
            if pending or unfinished:
                self.writer.sync()
        except StorageError as exc:
            warnings.append(f"could not record the repair ({exc}); it is redone next time")
        if pending:
            warnings.append(
                f"{len(pending)} tool call(s) had no output (the server stopped while they ran); "
                "recorded them as aborted"
            )
        if unfinished:
            warnings.append(f"{len(unfinished)} turn(s) were cut off; recorded them as aborted")

    # -- the model history of a resumed session (read lazily) --------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """What the model sees: from the last compaction on. Read now if not read yet."""
        if self._resume_view is not None:
            self._take_model_history(load_model_history(self._resume_view, to_end=True))
        return self._history

    @history.setter
    def history(self, items: list[dict[str, Any]]) -> None:
        self._resume_view = None
        self._history = items

    async def load_history(self) -> None:
        """Read a resumed session's model history in a worker thread, once."""
        view = self._resume_view
        if view is None:
            return
        if self._loading is None:
            self._loading = asyncio.ensure_future(
                asyncio.to_thread(load_model_history, view, to_end=True)
            )
        loaded = await asyncio.shield(self._loading)
        if self._resume_view is view:  # not read meanwhile by a synchronous use
            self._take_model_history(loaded)

    def _take_model_history(self, loaded: ModelHistory) -> None:
        self._resume_view = None
        self._loading = None
        history, damaged = drop_invalid(loaded.items)
        for warning in [*loaded.warnings, *damaged]:
            logger.warning("session %s: %s", self.id, warning)
        self.info.warnings.extend(damaged)
        self._history = history
        self.stateless_input = StatelessInput()
        self.response_chain = loaded.response_chain

    def reread_history(self) -> None:
        """After a rollback: the model's history is read again from the file (which honours
        it) at its next use, and the service's stored chain is dropped."""
        self._resume_view = open_resume(self.writer.path, 0)
        self._loading = None
        self._opened_page = None
        self.response_chain = None

    def record_compaction(self, message: str, replacement: list[dict[str, Any]]) -> None:
        """The `compacted` line, then the replacement becomes the model's history."""
        self._check_file()
        self._append(COMPACTED, compacted_payload(message, replacement))
        self.history = list(replacement)
        self.stateless_input = StatelessInput()
        self.response_chain = None

    def panel_page(self, history_limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """The newest `history_limit` panel entries and the cursor of older ones, from the file."""
        opened, self._opened_page = self._opened_page, None
        if opened is not None and opened[0] == history_limit:
            view = opened[1]
        else:
            view = open_resume(self.writer.path, history_limit)
        return view.entries, view.history_cursor

    # -- records (the TurnHost side) --------------------------------------------------------
    @property
    def session_id(self) -> str:
        return self.id

    def _append(self, line_type: str, payload: dict[str, Any]) -> None:
        try:
            self.writer.append(line_type, payload)
        except RolloutWriteError as exc:
            raise StorageError(str(exc.strerror)) from exc

    def _event(self, payload: dict[str, Any]) -> None:
        self._append(EVENT_MSG, payload)
        self.events.append(payload)

    def record_item(self, item: dict[str, Any]) -> None:
        history = self.history  # a resumed session's history is read before it grows
        self._append(RESPONSE_ITEM, item)
        history.append(item)
        self.stateless_input.append(item)

    append_item = record_item

    def _check_file(self) -> None:
        try:
            relinked = self.writer.relink_if_deleted()
        except OSError as exc:
            raise StorageError(
                f"the session file was deleted and could not be recreated: {exc}"
            ) from exc
        if relinked and self.on_relinked is not None:
            self.on_relinked(self)

    def record_turn_start(self, turn_id: str, text: str) -> None:
        self.record_turn_opening(turn_id)
        attached, self.pending_attachments = self.pending_attachments, []
        self.record_item(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}, *attached],
            }
        )
        self.name_if_untitled(text)

    def name_if_untitled(self, title: str) -> None:
        """The session's first words name it, until the user renames it."""
        if not self.info.title:
            self.info.title = title

    def record_turn_opening(self, turn_id: str) -> None:
        """The turn's context and start, without its user message (a user command has none)."""
        self._check_file()
        settings = self.context.settings
        self._append(
            TURN_CONTEXT,
            {
                "turn_id": turn_id,
                "model": str(self.context.provider_info.get("model") or settings.model),
                "approval_policy": settings.approval.value,
                "cwd": str(self.context.workspace),
            },
        )
        self._event({"type": TURN_STARTED, "turn_id": turn_id})

    def record_call_output(
        self, call_id: str, output: str, status: str, exit_code: int | None
    ) -> None:
        self.record_item(function_call_output(call_id, output))
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
            aborted: dict[str, Any] = {"type": TURN_ABORTED, "turn_id": turn_id, "reason": status}
            if usage:
                aborted["usage"] = usage
            self._event(aborted)
            return
        payload: dict[str, Any] = {"type": TURN_COMPLETED, "turn_id": turn_id, "status": status}
        if final_message is not None:
            payload["last_agent_message"] = final_message
        if usage:
            payload["usage"] = usage
        if error:
            payload["error"] = error
        self._event(payload)

    def take_steering(self) -> list[str]:
        """Text the user added to the running turn: it joins before the next request."""
        taken, self.steering = self.steering, []
        for text in taken:
            self.record_item(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                }
            )
        return taken

    async def load_instructions(self) -> None:
        """Read the project's AGENTS.md files once, in a worker thread (not on the loop)."""
        if self.project_instructions is None:
            from agentls.agent.instructions import load_project_instructions

            loaded = await asyncio.to_thread(load_project_instructions, self.context.workspace)
            if self.project_instructions is None:
                self.project_instructions = loaded

    def model_instructions(self) -> str | None:
        """The configured instructions, then the project's AGENTS.md files (read once),
        redacted: they go to the model."""
        if self.project_instructions is None:
            from agentls.agent.instructions import load_project_instructions

            self.project_instructions = load_project_instructions(self.context.workspace)
        from agentls.agent.instructions import compose_instructions

        base = self.context.settings.instructions or self.instructions
        composed = compose_instructions(base, self.project_instructions)
        return self.context.redact(composed) if composed is not None else None

    def instruction_files(self) -> list[Path]:
        """The AGENTS.md files the model's instructions include, root first."""
        self.model_instructions()
        return list(self.project_instructions.files) if self.project_instructions else []

    def steering_pending(self) -> bool:
        return bool(self.steering)

    def _uses_server_history(self) -> bool:
        settings = self.context.settings
        return (
            settings.history is HistoryMode.SERVER
            and settings.wire_api is WireApi.RESPONSES
            and not self.server_history_refused
        )

    def next_request(self, tools: list[dict[str, Any]]) -> ModelRequest:
        settings = self.context.settings
        server_side = self._uses_server_history()
        chain = self.response_chain if server_side else None
        if chain is not None:
            items = server_side_input(self.history, chain[1])
        else:
            items, added, dropped = self.stateless_input.build(self.history)
            if added or dropped:
                import logging

                logging.getLogger(__name__).warning(
                    "history repaired before request: %d added, %d dropped", added, dropped
                )
        return ModelRequest(
            model=settings.model,
            input=items,
            tools=tools,
            instructions=self.model_instructions(),
            store=server_side,
            previous_response_id=chain[0] if chain else None,
        )

    async def prepare_request(
        self, tools: list[dict[str, Any]], events: TaskEvents
    ) -> ModelRequest:
        return await self.compaction.before_request(tools, events.emit)

    async def retry_after_refusal(
        self,
        request: ModelRequest,
        error: ProviderError,
        tools: list[dict[str, Any]],
        events: TaskEvents,
    ) -> ModelRequest | None:
        if self.refused_stored_history(request, error):
            return self.next_request(tools)
        return await self.compaction.after_refusal(error, tools, events.emit)

    def usage_fields(self, usage: dict[str, int]) -> dict[str, Any]:
        return self.compaction.usage_fields(usage)

    def after_response(self, response_id: str | None) -> None:
        """Remember where the service's stored history ends, on disk too for resume."""
        if response_id and self._uses_server_history():
            self._append(STATE, {"previous_response_id": response_id})
            self.response_chain = (response_id, len(self.history))

    def refused_stored_history(self, request: ModelRequest, error: ProviderError) -> bool:
        """After a refusal of the stored history, send the full history instead."""
        if not request.store or not _refuses_response_chain(error):
            return False
        import logging

        refused = request.previous_response_id is None or "support" in error.message
        logging.getLogger(__name__).warning(
            "the model API %s the stored history (%s); sending the full history instead",
            "refuses" if refused else "no longer has",
            error.message,
        )
        self.response_chain = None
        self.server_history_refused = self.server_history_refused or refused
        return True

    async def approve(self, request: ApprovalRequest) -> Decision:
        return await self.context.approver(request)

    async def before_change(self, turn_id: str) -> None:
        """Checkpoint the workspace before the turn's first tool that may change it."""
        checkpoints = self.context.checkpoints
        if checkpoints is None or turn_id in self.turn_changes:
            return
        state = await checkpoints.begin(turn_id)
        if state is not None:
            self.turn_changes[turn_id] = state

    async def changes_so_far(self, turn_id: str) -> dict[str, Any] | None:
        """`turnDiff` fields when the workspace moved since the last report, else None."""
        checkpoints = self.context.checkpoints
        state = self.turn_changes.get(turn_id)
        if checkpoints is None or state is None:
            return None
        from agentls.agent.checkpoints import diff_event

        diff = await checkpoints.changes(turn_id, state)
        return diff_event(diff) if diff is not None else None

    async def flush(self) -> None:
        self._check_file()
        try:
            await self.writer.sync_async()
        except RolloutWriteError as exc:
            raise StorageError(str(exc.strerror)) from exc

    # -- turns -----------------------------------------------------------------------------
    @property
    def running_turn_id(self) -> str | None:
        return self.turns.running_turn_id

    def toolbox(self) -> ToolBox:
        from agentls.agent.calls.patch import PatchTool
        from agentls.agent.calls.shell import ShellTool

        patch = PatchTool(self.context, self.approved_kinds)
        tools: list[Tool] = [ShellTool(self.context, self.approved_commands, patch), patch]
        return ToolBox(tools, self.extra_tools, self.settle_tools)

    async def send(
        self,
        text: str,
        sink: EventSink,
        attachments: list[dict[str, Any]] | None = None,
        *,
        stopped: bool = False,
    ) -> TurnResult:
        """Run one turn to its end; a cancelled caller interrupts the turn, then gets its result.

        `attachments` are content parts (the editor's files and selections) that join the
        user's message.
        """
        if self.turns.running_turn_id is not None:
            raise TurnInProgressError(
                f"a turn is already running in session {self.id}; "
                "wait for it to finish or interrupt it first"
            )
        self.pending_attachments = list(attachments or [])
        if self.context.checkpoints is not None:
            self.context.checkpoints.prewarm()
        stopped = await prepare(self.load_history()) or stopped
        stopped = await prepare(self.load_instructions()) or stopped
        turn = Turn(self, self.context, self.toolbox(), f"turn-{uuid.uuid4().hex[:12]}", text, sink)
        return await self.turns.start(turn, stopped=stopped)

    async def run_command(self, command: str, sink: EventSink) -> TurnResult:
        """The user's own command, as a task of its own; refused while another runs."""
        from agentls.agent.tasks.user_shell import UserCommandTask

        self.turns.refuse_if_busy()
        stopped = await prepare(self.load_history())
        task = UserCommandTask(self, self.context, command, sink)
        return await self.turns.start(task, stopped=stopped)

    async def compact(self, sink: EventSink) -> CompactionOutcome:
        """`agent/compact`: refused while a turn runs; a stop or a failure is an error."""
        from agentls.agent.compaction import CompactionError
        from agentls.agent.tasks.compact import CompactTask
        from agentls.history.compact import recent_user_messages

        await self.load_history()
        instructions = self.context.settings.instructions or self.instructions
        self.compaction.fixed_tokens = fixed_tokens(self.toolbox().definitions(), instructions)
        if not recent_user_messages(self.history):
            tokens = self.compaction.estimate()
            return CompactionOutcome(tokens, tokens)  # nothing said yet: nothing to summarise
        task = CompactTask(self.id, self.compaction, sink, self.context.redact_fields)
        result = await self.turns.start(task)
        if task.outcome is not None:
            return task.outcome
        if result.status == "interrupted":
            raise CompactionError("the compaction was stopped; the history is unchanged")
        message = (result.error or {}).get("message", "compaction failed")
        raise CompactionError(str(message))

    # -- rewinding and renaming ------------------------------------------------------------
    def refuse_while_running(self, then: str) -> None:
        running = self.running_turn_id
        if running is not None:
            raise TurnInProgressError(
                f"turn {running} is running in session {self.id}; stop it "
                f"(agent/interrupt), then {then}"
            )

    def exclusive(self, reason: str) -> contextlib.AbstractContextManager[None]:
        """No turn starts while the body runs; a send is refused with `reason`."""
        return self.turns.blocked(reason)

    def rollback(self, turn_ids: list[str]) -> None:
        """Take turns out of the conversation: a `turns_rolled_back` record, fsynced; the
        model's history is read again from the file, which honours it."""
        self._check_file()
        self._append(EVENT_MSG, {"type": TURNS_ROLLED_BACK, "turn_ids": turn_ids})
        try:
            self.writer.sync()
        except RolloutWriteError as exc:
            raise StorageError(str(exc.strerror)) from exc
        for turn_id in turn_ids:
            self.turn_changes.pop(turn_id, None)
        self.reread_history()

    def rename(self, title: str) -> None:
        """A `session_renamed` record; listings and resume take the last one."""
        self._append(EVENT_MSG, {"type": SESSION_RENAMED, "title": title})
        try:
            self.writer.sync()
        except RolloutWriteError as exc:
            raise StorageError(str(exc.strerror)) from exc
        self.info.title = title

    @property
    def path(self) -> Path:
        return self.writer.path

    def interrupt(self) -> str | None:
        """Stop the running turn; returns its id, or None when there was nothing to stop."""
        return self.turns.interrupt()

    async def wait_idle(self) -> None:
        await self.turns.wait_idle()

    def steer(self, text: str) -> bool:
        """Add text to the running turn; False when no turn runs."""
        if self.turns.running_turn_id is None:
            return False
        self.steering.append(text)
        return True

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
