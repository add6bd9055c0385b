"""The turns of a rollout file: where each one's lines are, how it ended, and whether a
rollback took it out of the conversation. Undo and fork pick turns from this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentls.rollout.reader import BOM, decode_line
from agentls.rollout.records import (
    COMPACTED,
    EVENT_MSG,
    SESSION_META,
    TURN_ABORTED,
    TURN_COMPLETED,
    TURN_CONTEXT,
    TURN_STARTED,
    TURNS_ROLLED_BACK,
    rolled_back_first,
)


@dataclass
class TurnSpan:
    """One turn as its rollout holds it: where its lines are and how it ended."""

    turn_id: str
    start: int  # offset of its first line
    end: int | None = None  # offset right after its end record; None while unended
    status: str | None = None
    rolled_back: bool = False


@dataclass
class SessionTurns:
    turns: list[TurnSpan] = field(default_factory=list)
    meta_end: int = 0  # offset right after the `session_meta` line
    last_compaction: int = -1  # offset of the last `compacted` line

    def live(self) -> list[TurnSpan]:
        """Ended turns still in the conversation, oldest first."""
        return [t for t in self.turns if t.end is not None and not t.rolled_back]

    def find(self, turn_id: str) -> TurnSpan | None:
        return next((t for t in self.turns if t.turn_id == turn_id), None)


def scan_turns(data: bytes) -> SessionTurns:
    """Every turn of a rollout, with rollbacks applied. Lines are judged as the readers do."""
    found = SessionTurns()
    by_id: dict[str, TurnSpan] = {}
    pos = len(BOM) if data.startswith(BOM) else 0
    size = len(data)
    while pos < size:
        cut = data.find(b"\n", pos)
        line_end = size if cut < 0 else cut + 1
        decoded = decode_line(data[pos:line_end].rstrip(b"\n")) if line_end > pos + 1 else ""
        if isinstance(decoded, tuple):
            kind, payload = decoded
            _route(found, by_id, kind, payload, pos, line_end)
        pos = line_end
    return found


def _route(
    found: SessionTurns,
    by_id: dict[str, TurnSpan],
    kind: str,
    payload: dict[str, Any],
    start: int,
    end: int,
) -> None:
    event = payload.get("type") if kind == EVENT_MSG else None
    if kind == SESSION_META and not found.meta_end:
        found.meta_end = end
    elif kind == COMPACTED:
        found.last_compaction = start
    elif kind == TURN_CONTEXT or event == TURN_STARTED:
        turn_id = str(payload.get("turn_id"))
        if turn_id not in by_id:
            span = TurnSpan(turn_id, start)
            by_id[turn_id] = span
            found.turns.append(span)
    elif event in (TURN_COMPLETED, TURN_ABORTED):
        ended = by_id.get(str(payload.get("turn_id")))
        if ended is not None and ended.end is None:
            ended.end = end
            status = payload.get("status") if event == TURN_COMPLETED else "interrupted"
            ended.status = status if isinstance(status, str) else "completed"
    elif event == TURNS_ROLLED_BACK and (first := rolled_back_first(payload)) in by_id:
        index = found.turns.index(by_id[first])
        for span in found.turns[index:]:
            span.rolled_back = True
