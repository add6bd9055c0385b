"""The rollout line format: the Codex CLI's envelope, one JSON object per line.

Also the readers of the two payloads that reach back (`rolled_back_first`,
`compacted_replacement`); what those lines do to earlier ones is `rules.py`'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import orjson

# The turn and tool events are read by the history view as well: their names live in the
# leaf both packages import, and are part of the line format here too.
from agentls.history.items import TOOL_CALL_COMPLETED as TOOL_CALL_COMPLETED
from agentls.history.items import TURN_ABORTED as TURN_ABORTED
from agentls.history.items import TURN_COMPLETED as TURN_COMPLETED
from agentls.history.items import TURN_STARTED as TURN_STARTED
from agentls.history.items import summary_message

SESSION_META: Final = "session_meta"
TURN_CONTEXT: Final = "turn_context"
RESPONSE_ITEM: Final = "response_item"
EVENT_MSG: Final = "event_msg"
STATE: Final = "state"
# `{message, replacement_history}`: the history the model sees from here on (Codex's format).
COMPACTED: Final = "compacted"
LINE_TYPES: Final = frozenset(
    {SESSION_META, TURN_CONTEXT, RESPONSE_ITEM, EVENT_MSG, STATE, COMPACTED}
)

# `{turn_ids}`: those turns (the first and every later one) are out of the conversation;
# the lines from the first one's start up to this record no longer count (rules.py).
TURNS_ROLLED_BACK: Final = "turns_rolled_back"
# `{title}`: the session's title from here on.
SESSION_RENAMED: Final = "session_renamed"


def rolled_back_first(payload: dict[str, Any]) -> str | None:
    """The first turn a `turns_rolled_back` event names, or None if it is not one."""
    if payload.get("type") != TURNS_ROLLED_BACK:
        return None
    ids = payload.get("turn_ids")
    if isinstance(ids, list) and ids and isinstance(ids[0], str):
        return ids[0]
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    moment = (moment or utc_now()).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encode_line(line_type: str, payload: dict[str, Any], moment: datetime | None = None) -> bytes:
    return (
        orjson.dumps({"timestamp": timestamp(moment), "type": line_type, "payload": payload})
        + b"\n"
    )


def compacted_payload(message: str, replacement_history: list[dict[str, Any]]) -> dict[str, Any]:
    """The payload of a `compacted` line: the summary and the history that replaces the past."""
    return {"message": message, "replacement_history": replacement_history}


def compacted_replacement(payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The history a `compacted` line stands for, or None when the line is unusable.

    A line written by an older writer may lack `replacement_history` (Codex wrote only the
    summary for a while); its summary alone then stands for everything before it.
    """
    replacement = payload.get("replacement_history")
    if isinstance(replacement, list) and all(
        isinstance(item, dict) and isinstance(item.get("type"), str) for item in replacement
    ):
        return list(replacement)
    message = payload.get("message")
    if isinstance(message, str) and message:
        return [summary_message(message)]
    return None
