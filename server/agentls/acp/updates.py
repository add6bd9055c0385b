"""Live `agent/event` dicts of the core, as ACP `session/update` payloads.

One `EventTranslator` per session: it remembers, for the turn under way, what each message
and each tool call has shown so far, because ACP and agentls cut the same story differently.
agentls streams a command's output as deltas, ACP replaces a tool call's content with each
update (so the translator sends the output so far); agentls says a turn was retried and the
partial text is void, ACP cannot take text back (so the retry is said, and the next attempt
is a new message); agentls has no "now running" event after an approval (so `running` makes
one).

Every event type of docs/protocol.md is handled; unknown types give no update, so a newer
core never breaks an older adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AvailableCommandsUpdate,
    ConfigOptionUpdate,
    CurrentModeUpdate,
    SessionInfoUpdate,
    TextContentBlock,
    ToolCallProgress,
    ToolCallStart,
    ToolCallStatus,
    UsageUpdate,
    UserMessageChunk,
)

from agentls.acp.tools import (
    OUTPUT_LIMIT,
    UPDATE_PLAN,
    USER_SHELL,
    ReadOnlyCheck,
    ToolContent,
    ToolView,
    call_view,
    clip_output,
    core_read_only,
    fenced,
    final_status,
    plan_update,
    result_content,
    text_content,
)
from agentls.protocol.events import EventType

__all__ = [
    "EventTranslator",
    "Update",
    "title_update",
    "tool_call_id",
]

logger = logging.getLogger(__name__)

# Every `session/update` payload the adapter sends (a subset of what the SDK accepts).
Update = (
    UserMessageChunk
    | AgentMessageChunk
    | AgentThoughtChunk
    | ToolCallStart
    | ToolCallProgress
    | AgentPlanUpdate
    | AvailableCommandsUpdate
    | CurrentModeUpdate
    | ConfigOptionUpdate
    | SessionInfoUpdate
    | UsageUpdate
)


def tool_call_id(turn_id: str, call_id: str) -> str:
    """The ACP id of a call: unique in the session, even when a model (local servers do)
    reuses call ids from one turn to the next. History replay and permission requests
    derive the same id from the same two parts."""
    return f"{turn_id}/{call_id}"


def title_update(title: str, updated_at: str | None = None) -> SessionInfoUpdate:
    return SessionInfoUpdate(
        session_update="session_info_update", title=title, updated_at=updated_at
    )


def _text(text: str) -> TextContentBlock:
    return TextContentBlock(type="text", text=text)


def _thought(text: str) -> AgentThoughtChunk:
    return AgentThoughtChunk(session_update="agent_thought_chunk", content=_text(text))


@dataclass
class _Call:
    """What one tool call of the running turn has shown."""

    acp_id: str
    view: ToolView
    output: str = ""
    running: bool = False


class EventTranslator:
    """One session's live events, as `session/update`s (see the module's docstring).

    `cwd` makes agentls's workspace-relative paths absolute, as ACP wants them. `check`
    judges whether a shell command only reads, for events that do not say (`readOnly`).
    """

    def __init__(
        self,
        cwd: Path,
        *,
        check: ReadOnlyCheck | None = core_read_only,
        output_limit: int = OUTPUT_LIMIT,
    ) -> None:
        self.cwd = cwd
        self._check = check
        self._limit = output_limit
        self._calls: dict[str, _Call] = {}
        self._hidden: set[str] = set()  # calls shown otherwise (update_plan is the plan)
        self._streamed: dict[str, list[str]] = {}  # message id -> the pieces sent so far
        self._attempt = 0  # a retried response is a new message
        self._handlers: dict[str, Callable[[Mapping[str, Any]], list[Update]]] = {
            "turnStarted": self._nothing,
            "textDelta": self._text_delta,
            "messageCompleted": self._message_completed,
            "reasoningDelta": self._reasoning_delta,
            "reasoning": self._reasoning,
            "toolCallStarted": self._call_started,
            "toolOutputDelta": self._output_delta,
            "toolCallCompleted": self._call_completed,
            "turnDiff": self._nothing,
            "tokenUsage": self._token_usage,
            "compaction": self._compaction,
            "steered": self._steered,
            "retrying": self._retrying,
            EventType.MCP_WAITING: self._mcp_waiting,
            "plan": self._plan,
            "turnCompleted": self._turn_completed,
        }

    def translate(self, event: Mapping[str, Any]) -> list[Update]:
        """The updates that tell `event` (often one, sometimes none)."""
        handler = self._handlers.get(str(event.get("type")))
        if handler is None:
            logger.debug("no ACP update for event type %r", event.get("type"))
            return []
        return handler(event)

    def running(self, turn_id: str, call_id: str) -> list[Update]:
        """The call was approved and now runs: its status moves on from `pending`."""
        call = self._calls.get(tool_call_id(turn_id, call_id))
        if call is None or call.running:
            return []
        call.running = True
        return [_progress(call.acp_id, status="in_progress")]

    def view(self, turn_id: str, call_id: str) -> ToolView | None:
        """How a call of the running turn is shown (for its permission request)."""
        call = self._calls.get(tool_call_id(turn_id, call_id))
        return call.view if call is not None else None

    # -- messages -----------------------------------------------------------------------
    def _message_id(self, event: Mapping[str, Any], prefix: str = "") -> str:
        item = str(event.get("itemId") or "")
        retry = f"#{self._attempt}" if self._attempt else ""
        return f"{prefix}{event.get('turnId', '')}:{item}{retry}"

    def _stream(self, message_id: str, delta: str) -> None:
        # pieces, joined once at the end: adding to one string would copy the message so
        # far at every delta
        self._streamed.setdefault(message_id, []).append(delta)

    def _rest(self, message_id: str, text: str) -> str:
        """What of a completed message's text was not streamed yet."""
        streamed = "".join(self._streamed.pop(message_id, ()))
        if text.startswith(streamed):
            return text[len(streamed) :]
        return ""  # the deltas told it differently; what was shown stands

    def _text_delta(self, event: Mapping[str, Any]) -> list[Update]:
        delta = str(event.get("delta", ""))
        if not delta:
            return []
        message_id = self._message_id(event)
        self._stream(message_id, delta)
        return [
            AgentMessageChunk(
                session_update="agent_message_chunk", content=_text(delta), message_id=message_id
            )
        ]

    def _message_completed(self, event: Mapping[str, Any]) -> list[Update]:
        message_id = self._message_id(event)
        rest = self._rest(message_id, str(event.get("text", "")))
        if not rest:
            return []
        return [
            AgentMessageChunk(
                session_update="agent_message_chunk", content=_text(rest), message_id=message_id
            )
        ]

    def _reasoning_delta(self, event: Mapping[str, Any]) -> list[Update]:
        delta = str(event.get("delta", ""))
        if not delta:
            return []
        message_id = self._message_id(event, "reasoning:")
        self._stream(message_id, delta)
        return [
            AgentThoughtChunk(
                session_update="agent_thought_chunk", content=_text(delta), message_id=message_id
            )
        ]

    def _reasoning(self, event: Mapping[str, Any]) -> list[Update]:
        message_id = self._message_id(event, "reasoning:")
        rest = self._rest(message_id, str(event.get("text", "")))
        if not rest:
            return []
        return [
            AgentThoughtChunk(
                session_update="agent_thought_chunk", content=_text(rest), message_id=message_id
            )
        ]

    def _steered(self, event: Mapping[str, Any]) -> list[Update]:
        text = str(event.get("text", ""))
        if not text:
            return []
        return [UserMessageChunk(session_update="user_message_chunk", content=_text(text))]

    def _retrying(self, event: Mapping[str, Any]) -> list[Update]:
        self._attempt += 1
        self._streamed.clear()
        delay = event.get("delayMs")
        seconds = f" in {delay / 1000:.1f} s" if isinstance(delay, int | float) else ""
        reason = event.get("reason")
        why = f": {reason}" if reason else ""
        attempt = event.get("attempt", self._attempt)
        return [_thought(f"Retrying the model request (attempt {attempt}){seconds}{why}\n")]

    def _mcp_waiting(self, event: Mapping[str, Any]) -> list[Update]:
        """The turn waits for MCP servers still starting; a server that failed is said."""
        if event.get("phase") == "started":
            servers = ", ".join(str(name) for name in event.get("servers") or [])
            return [_thought(f"Waiting for MCP servers to start: {servers}\n")]
        updates: list[Update] = []
        for failed in event.get("failed") or []:
            if isinstance(failed, Mapping):
                error = str(failed.get("error") or "not available").split("\n")[0]
                text = f"MCP server {failed.get('name')} is not available: {error}\n"
                updates.append(_thought(text))
        return updates

    # -- tool calls ---------------------------------------------------------------------
    def _call_started(self, event: Mapping[str, Any]) -> list[Update]:
        acp_id = tool_call_id(str(event.get("turnId", "")), str(event.get("callId", "")))
        name = str(event.get("name", ""))
        arguments = str(event.get("arguments", ""))
        if name == UPDATE_PLAN:
            self._hidden.add(acp_id)
            plan = plan_update(arguments)
            return [plan] if plan is not None else []
        changes = event.get("changes")
        mcp = event.get("mcp")
        read_only = event.get("readOnly")
        view = call_view(
            name,
            arguments,
            self.cwd,
            changes=changes if isinstance(changes, list) else None,
            mcp=mcp if isinstance(mcp, Mapping) else None,
            read_only=read_only if isinstance(read_only, bool) else None,
            check=self._check,
        )
        # `pending` until it is approved or prints (the core does not say when a call that
        # needs no approval starts); the user's own command is never asked: it runs at once
        running = name == USER_SHELL
        self._calls[acp_id] = _Call(acp_id, view, running=running)
        return [
            ToolCallStart(
                session_update="tool_call",
                tool_call_id=acp_id,
                title=view.title,
                kind=view.kind,
                status="in_progress" if running else "pending",
                content=list(view.content) or None,
                locations=view.locations or None,
                raw_input=view.raw_input,
            )
        ]

    def _output_delta(self, event: Mapping[str, Any]) -> list[Update]:
        acp_id = tool_call_id(str(event.get("turnId", "")), str(event.get("callId", "")))
        call = self._calls.get(acp_id)
        delta = str(event.get("delta", ""))
        if call is None or not delta:
            return []
        output = call.output + delta
        if len(output) > 2 * self._limit:  # only the tail is ever shown
            output = output[-self._limit :]
        call.output = output
        call.running = True
        return [_progress(acp_id, status="in_progress", content=self._output_content(call))]

    def _output_content(self, call: _Call) -> list[ToolContent]:
        shown = clip_output(call.output, self._limit)
        if call.view.kind in ("execute", "read", "search"):
            return [text_content(fenced(shown))]
        return [text_content(shown)]

    def _call_completed(self, event: Mapping[str, Any]) -> list[Update]:
        acp_id = tool_call_id(str(event.get("turnId", "")), str(event.get("callId", "")))
        if acp_id in self._hidden:
            self._hidden.discard(acp_id)
            return []
        call = self._calls.pop(acp_id, None)
        if call is None:  # a call whose start this adapter did not see
            return []
        status = str(event.get("status", "completed"))
        output = event.get("output")
        exit_code = event.get("exitCode")
        exit_code = exit_code if isinstance(exit_code, int) else None
        shown = output if isinstance(output, str) else call.output
        content: list[ToolContent] = []
        if call.view.kind in ("edit", "delete"):
            content.extend(call.view.content)  # the diffs stay
        content.extend(result_content(call.view.kind, status, shown, exit_code))
        raw_output: dict[str, Any] = {"status": status}
        if exit_code is not None:
            raw_output["exitCode"] = exit_code
        return [
            _progress(acp_id, status=final_status(status), content=content, raw_output=raw_output)
        ]

    def _plan(self, event: Mapping[str, Any]) -> list[Update]:
        plan = plan_update(event)
        return [plan] if plan is not None else []

    # -- the rest of a turn -------------------------------------------------------------
    def _token_usage(self, event: Mapping[str, Any]) -> list[Update]:
        window = event.get("contextWindow")
        if not isinstance(window, int) or window <= 0:
            return []  # ACP's meter needs a size; an unknown window shows none
        used = sum(v for k in ("inputTokens", "outputTokens") if isinstance(v := event.get(k), int))
        return [UsageUpdate(session_update="usage_update", used=max(0, used), size=window)]

    def _compaction(self, event: Mapping[str, Any]) -> list[Update]:
        phase = event.get("phase")
        before = event.get("tokensBefore")
        if phase == "started":
            size = f" ({before:,} tokens)" if isinstance(before, int) else ""
            return [_thought(f"Compacting the conversation{size}...\n")]
        if phase == "completed":
            after = event.get("tokensAfter")
            if isinstance(before, int) and isinstance(after, int):
                return [_thought(f"Compacted the conversation: {before:,} → {after:,} tokens.\n")]
            return [_thought("Compacted the conversation.\n")]
        if phase == "failed":
            error = event.get("error")
            message = error.get("message") if isinstance(error, Mapping) else None
            return [_thought(f"Compaction failed: {message or 'unknown error'}\n")]
        return []

    def _turn_completed(self, event: Mapping[str, Any]) -> list[Update]:
        """The turn is over: a call still open (the core answers every call, so only an
        adapter that missed an event has one) is closed, and the turn's state is dropped."""
        updates: list[Update] = [
            _progress(call.acp_id, status="failed", content=[text_content("Stopped.")])
            for call in self._calls.values()
        ]
        self._calls.clear()
        self._hidden.clear()
        self._streamed.clear()
        self._attempt = 0
        return updates

    def _nothing(self, _event: Mapping[str, Any]) -> list[Update]:
        return []


def _progress(
    acp_id: str,
    *,
    status: ToolCallStatus | None = None,
    content: list[ToolContent] | None = None,
    raw_output: Any = None,
) -> ToolCallProgress:
    return ToolCallProgress(
        session_update="tool_call_update",
        tool_call_id=acp_id,
        status=status,
        content=content,
        raw_output=raw_output,
    )
