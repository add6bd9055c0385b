"""The rollout line format: the Codex CLI's envelope, one JSON object per line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import orjson

SESSION_META: Final = "session_meta"
TURN_CONTEXT: Final = "turn_context"
RESPONSE_ITEM: Final = "response_item"
EVENT_MSG: Final = "event_msg"
STATE: Final = "state"
LINE_TYPES: Final = frozenset({SESSION_META, TURN_CONTEXT, RESPONSE_ITEM, EVENT_MSG, STATE})

TURN_STARTED: Final = "turn_started"
TURN_COMPLETED: Final = "turn_completed"
TURN_ABORTED: Final = "turn_aborted"
TOOL_CALL_COMPLETED: Final = "tool_call_completed"


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
