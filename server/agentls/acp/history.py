"""A saved conversation, replayed as `session/update`s for `session/load`.

ACP has no "here is the history" message: an agent that loads a session tells the whole
conversation again, as if it were happening (user and agent message chunks, tool calls with
their final status and content). The input is the panel history agentls already derives
from the rollout (`agent/resume`'s `history`), so both front ends show the same story.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from acp.schema import (
    AgentMessageChunk,
    TextContentBlock,
    ToolCallStart,
    UserMessageChunk,
)

from agentls.acp.tools import (
    APPLY_PATCH,
    SHELL,
    UPDATE_PLAN,
    USER_SHELL,
    ReadOnlyCheck,
    ToolContent,
    ToolView,
    call_view,
    core_read_only,
    final_status,
    plan_update,
    result_content,
)
from agentls.acp.updates import Update, tool_call_id

__all__ = ["history_updates"]

_NO_TURN = "history"  # entries from before turn ids were recorded


def history_updates(
    entries: Iterable[Mapping[str, Any]],
    cwd: Path,
    *,
    check: ReadOnlyCheck | None = None,
) -> list[Update]:
    """The updates that replay `entries` (`{role, text, callId?, toolName?, status?,
    exitCode?, output?, turnId?, outcome?}`, oldest first) in order."""
    return list(_replay(entries, cwd, check or replay_read_only()))


def _replay(
    entries: Iterable[Mapping[str, Any]], cwd: Path, check: ReadOnlyCheck | None
) -> Iterator[Update]:
    for index, entry in enumerate(entries):
        turn = str(entry.get("turnId") or _NO_TURN)
        role = entry.get("role")
        text = str(entry.get("text") or "")
        message_id = f"{turn}:{index}"
        if role == "user" and text:
            yield UserMessageChunk(
                session_update="user_message_chunk",
                content=TextContentBlock(type="text", text=text),
                message_id=message_id,
            )
        elif role == "assistant" and text:
            yield _agent_text(text, message_id)
        elif role == "tool":
            yield from _tool(entry, turn, index, cwd, check)
        outcome = entry.get("outcome")
        if isinstance(outcome, Mapping) and outcome.get("status") == "failed":
            # the live prompt answered with this error; the reloaded one says it in place
            error = outcome.get("error")
            message = error.get("message") if isinstance(error, Mapping) else None
            yield _agent_text(f"The turn failed: {message or 'unknown error'}", f"{message_id}:end")


def _agent_text(text: str, message_id: str) -> AgentMessageChunk:
    return AgentMessageChunk(
        session_update="agent_message_chunk",
        content=TextContentBlock(type="text", text=text),
        message_id=message_id,
    )


def _tool(
    entry: Mapping[str, Any], turn: str, index: int, cwd: Path, check: ReadOnlyCheck | None
) -> Iterator[Update]:
    name = str(entry.get("toolName") or "")
    text = str(entry.get("text") or "")
    if name == UPDATE_PLAN:
        plan = plan_update(text)
        if plan is not None:
            yield plan
        return
    call_id = entry.get("callId")
    acp_id = tool_call_id(turn, str(call_id) if call_id else f"{name or 'call'}_{index}")
    view = _view(name, text, cwd, check)
    status = str(entry.get("status") or "completed")
    output = entry.get("output")
    exit_code = entry.get("exitCode")
    content: list[ToolContent] = []
    if view.kind in ("edit", "delete"):
        content.extend(view.content)
    content.extend(
        result_content(
            view.kind,
            status,
            output if isinstance(output, str) else "",
            exit_code if isinstance(exit_code, int) else None,
        )
    )
    yield ToolCallStart(
        session_update="tool_call",
        tool_call_id=acp_id,
        title=view.title,
        kind=view.kind,
        status=final_status(status),
        content=content or None,
        locations=view.locations or None,
        raw_input=view.raw_input,
    )


def _view(name: str, text: str, cwd: Path, check: ReadOnlyCheck | None) -> ToolView:
    """How a saved call is shown. A shell entry's text is the command as typed (not the
    call's arguments), so it is shown as a `bash -lc` script; one that was really a patch
    is an edit again. Other entries keep the call's arguments as sent."""
    if name not in (SHELL, USER_SHELL):
        return call_view(name, text, cwd, check=check)
    argv = ["bash", "-lc", text]
    if name == SHELL:
        from agentls.tools.patch import patch_from_shell_command

        patch = patch_from_shell_command(argv)
        if patch is not None:
            return call_view(APPLY_PATCH, json.dumps({"input": patch}), cwd)
    view = call_view(name, json.dumps({"command": argv}), cwd, check=check)
    view.raw_input = {"command": text}
    return view


def replay_read_only() -> ReadOnlyCheck:
    """The read-only judgement for calls of the past: by the command's words alone (no
    look at the repository as it is now, which is not how it was then), each distinct
    command judged once: a load replays thousands of calls, often the same few."""
    judged: dict[tuple[str, ...], bool] = {}

    def check(argv: list[str], _cwd: Path) -> bool:
        key = tuple(argv)
        if key not in judged:
            judged[key] = core_read_only(argv, None)
        return judged[key]

    return check
