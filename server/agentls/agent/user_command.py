"""`agent/runCommand`: the user's own command (`!cmd`), run as a turn of its own.

Being a turn means it goes through `TurnControl` like a message does: a send while it runs
is refused the same way, `agent/interrupt` stops it (the process group dies with the
task), and it ends with a `turn_completed`/`turn_aborted` record and `turnCompleted`. It is
never asked: the user typed it. It runs contained the way an approved `shell` call does
(workspace-write sandbox), streams with the `shell` call's events under the tool name
`user_shell`, and is recorded as one user message holding the command and its result (the
Codex CLI's form), so the model sees both in the next turn. No model request is made.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from agentls.agent.results import StorageError, TurnResult
from agentls.agent.tools import ToolBox
from agentls.agent.turn import EventSink, Turn
from agentls.history.user_shell import USER_SHELL, user_shell_message
from agentls.tools.process import run_command
from agentls.tools.shell import format_result_for_model

if TYPE_CHECKING:
    from agentls.agent.session import Session

STOPPED_RESULT = "Exit code: none (the command was stopped by the user)\nOutput:\n"
STOPPED_KEEP_CHARS = 10_000  # of a stopped command's output, kept from each end


def _cut(text: str) -> str:
    if len(text) <= 2 * STOPPED_KEEP_CHARS:
        return text
    omitted = len(text) - 2 * STOPPED_KEEP_CHARS
    head, tail = text[:STOPPED_KEEP_CHARS], text[-STOPPED_KEEP_CHARS:]
    return f"{head}\n[... {omitted} characters omitted ...]\n{tail}"


class UserCommandTurn(Turn):
    def __init__(self, session: Session, command: str, sink: EventSink) -> None:
        super().__init__(
            session, session.context, ToolBox([]), f"turn-{uuid.uuid4().hex[:12]}", command, sink
        )
        self.session = session
        self.command = command
        self.call_id = f"user_shell_{uuid.uuid4().hex[:12]}"
        self.exit_code: int | None = None
        self._output: list[str] = []
        self._recorded = False

    def _record_start(self) -> None:
        self.session.record_turn_opening(self.id)

    def _on_output(self, chunk: str) -> None:
        self._output.append(chunk)
        self.emit("toolOutputDelta", callId=self.call_id, delta=chunk)

    async def _loop(self) -> TurnResult:
        context = self.context
        settings = context.settings
        argv = ["bash", "-lc", self.command]
        self.emit(
            "toolCallStarted",
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
        self.exit_code = result.exit_code
        self._record(format_result_for_model(result))
        fields: dict[str, Any] = {
            "callId": self.call_id,
            "status": "completed" if result.exit_code == 0 else "failed",
            "output": result.output if result.error is None else result.error,
        }
        if result.exit_code is not None:
            fields["exitCode"] = result.exit_code
        self.emit("toolCallCompleted", **fields)
        changes = await self.host.changes_so_far(self.id)
        if changes is not None:
            self.emit("turnDiff", **changes)
        return await self._end("completed", None, None)

    def _record(self, result_text: str) -> None:
        self.session.record_item(user_shell_message(self.command, self.context.redact(result_text)))
        self._recorded = True
        if not self.session.info.title:
            self.session.info.title = f"!{self.command}"

    async def _finish_interrupted(self) -> TurnResult:
        if not self._recorded:
            shown = _cut("".join(self._output))
            with contextlib.suppress(StorageError):  # the end record reports the failure
                self._record(STOPPED_RESULT + (shown or "(no output)"))
            self.emit("toolCallCompleted", callId=self.call_id, status="aborted", output=shown)
        return await super()._finish_interrupted()


async def run_user_command(session: Session, command: str, sink: EventSink) -> TurnResult:
    """Run the user's command as a turn; refused (TurnInProgressError) while one runs."""
    from agentls.agent.turn import prepare

    stopped = await prepare(session.load_history())
    turn = UserCommandTurn(session, command, sink)
    return await session.turns.send(turn, stopped=stopped)
