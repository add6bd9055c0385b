"""`agent/runCommand`: the user's own command (`!cmd`), run as a task of its own.

Going through `TaskControl` like a message does means a send while it runs is refused the
same way, a stop ends it (the process group dies with the task), and it ends with a
`turn_completed`/`turn_aborted` record and `turnCompleted`. It is never asked: the user
typed it. It runs contained the way an approved `shell` call does (workspace-write sandbox),
streams with the `shell` call's events under the tool name `user_shell`, and is recorded as
one user message holding the command and its result (the Codex CLI's form), so the model
sees both in the next turn. No model request is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import orjson

from agentls.agent.context import AgentContext
from agentls.agent.results import StorageError, TurnResult, TurnStatus
from agentls.agent.tasks.control import uncancel
from agentls.agent.tasks.ending import TurnRecords, changes_at_stop, end_turn, report_changes
from agentls.agent.tasks.events import EventSink, TaskEvents
from agentls.history.user_shell import USER_SHELL, user_shell_message
from agentls.protocol import EventType
from agentls.tools.process import run_command
from agentls.tools.shell import format_result_for_model

logger = logging.getLogger(__name__)

STOPPED_RESULT = "Exit code: none (the command was stopped by the user)\nOutput:\n"
STOPPED_KEEP_CHARS = 10_000  # of a stopped command's output, kept from each end


def _cut(text: str) -> str:
    if len(text) <= 2 * STOPPED_KEEP_CHARS:
        return text
    omitted = len(text) - 2 * STOPPED_KEEP_CHARS
    head, tail = text[:STOPPED_KEEP_CHARS], text[-STOPPED_KEEP_CHARS:]
    return f"{head}\n[... {omitted} characters omitted ...]\n{tail}"


class UserCommandTask:
    def __init__(
        self, host: TurnRecords, context: AgentContext, command: str, sink: EventSink
    ) -> None:
        self.host = host
        self.context = context
        self.command = command
        self.id = f"turn-{uuid.uuid4().hex[:12]}"
        self.call_id = f"user_shell_{uuid.uuid4().hex[:12]}"
        self.events = TaskEvents(
            host.session_id, self.id, sink, context.redact_fields, context.secrets
        )
        self.finishing = False
        self._output: list[str] = []
        self._recorded = False

    async def run(self) -> TurnResult:
        try:
            self.host.record_turn_opening(self.id)
            self.events.emit(EventType.TURN_STARTED, text=self.command)
            await self._run_command()
            return await self._end("completed", None)
        except asyncio.CancelledError:
            uncancel()
            await changes_at_stop(self.host, self.events)
            self._record_stopped()
            return await self._end("interrupted", None)
        except StorageError as exc:
            return await self._end("failed", {"message": str(exc)})
        except Exception as exc:
            logger.exception("user command %s failed", self.id)
            return await self._end(
                "failed", {"message": f"internal error in agentls: {exc.__class__.__name__}: {exc}"}
            )

    def _on_output(self, chunk: str) -> None:
        self._output.append(chunk)
        self.events.emit(EventType.TOOL_OUTPUT_DELTA, callId=self.call_id, delta=chunk)

    async def _run_command(self) -> None:
        context = self.context
        settings = context.settings
        argv = ["bash", "-lc", self.command]
        self.events.emit(
            EventType.TOOL_CALL_STARTED,
            callId=self.call_id,
            name=USER_SHELL,
            arguments=orjson.dumps({"command": argv}).decode(),
        )
        await self.host.before_change(self.id)  # like a `shell` call: undo can take it back
        result = await run_command(
            argv,
            cwd=context.workspace,
            timeout_s=settings.shell_timeout_s,
            on_output=self._on_output,
            env=context.tool_env(),
            kill_grace_s=settings.kill_grace_s,
            **context.containment.run_options(approved=True),
        )
        self._record(format_result_for_model(result))
        fields: dict[str, Any] = {
            "callId": self.call_id,
            "status": "completed" if result.exit_code == 0 else "failed",
            "output": result.output if result.error is None else result.error,
        }
        if result.exit_code is not None:
            fields["exitCode"] = result.exit_code
        self.events.emit(EventType.TOOL_CALL_COMPLETED, **fields)
        await report_changes(self.host, self.events)

    def _record(self, result_text: str) -> None:
        self.host.record_item(user_shell_message(self.command, self.context.redact(result_text)))
        self._recorded = True
        self.host.name_if_untitled(f"!{self.command}")

    def _record_stopped(self) -> None:
        if self._recorded:
            return
        shown = _cut("".join(self._output))
        with contextlib.suppress(StorageError):  # the end record reports the failure
            self._record(STOPPED_RESULT + (shown or "(no output)"))
        self.events.emit(
            EventType.TOOL_CALL_COMPLETED, callId=self.call_id, status="aborted", output=shown
        )

    async def _end(self, status: TurnStatus, error: dict[str, Any] | None) -> TurnResult:
        self.finishing = True
        return await end_turn(
            self.host, self.events, self.context.redact_fields, status, None, None, error
        )
