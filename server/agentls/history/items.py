"""The shapes a conversation is made of: building and reading items, and the event names.

A leaf module: it imports nothing from `agentls.rollout` or `agentls.history`. The rollout
readers (which render, check and title items) and the history logic (which reads the turn
and tool events the rollout records) both take these from here, so the import arrow
between the two packages runs one way only, rollout -> history.
"""

from __future__ import annotations

from typing import Any, Final

Item = dict[str, Any]

# The `type` of the turn and tool events (`event_msg` payloads) the panel is drawn from.
TURN_STARTED: Final = "turn_started"
TURN_COMPLETED: Final = "turn_completed"
TURN_ABORTED: Final = "turn_aborted"
TOOL_CALL_COMPLETED: Final = "tool_call_completed"


def summary_message(text: str) -> Item:
    """A user message holding `text`: how a compaction's summary and the user messages it
    keeps are replayed to the model."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def function_call_output(call_id: str, output: str) -> Item:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def user_text(item: Item) -> str | None:
    """The text of a user message (its parts joined), or None for any other item."""
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(str(p) for p in parts)
    return None


def assistant_text(item: Item) -> str | None:
    """The text of an assistant message (refusals included), or None for any other item."""
    if item.get("type") != "message" or item.get("role") != "assistant":
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in ("output_text", "text", "refusal")
    )


def message_text(item: Item) -> str | None:
    """The text of a message of any role, for a search; None for any other item."""
    if item.get("type") != "message":
        return None
    content = item.get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else None
