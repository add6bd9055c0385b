"""The turns of a rollout, with where their lines are: what undo and fork work from.

Undo needs every turn's place and end, whether a rollback already took it out, and where
the last compaction in force is (a conversation cannot be rolled back past it); fork copies
the file's bytes up to a turn's end. Rollbacks and compactions apply as `rules.py` says.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from agentls.rollout.blocks import forward_lines
from agentls.rollout.reader import LineDecoder
from agentls.rollout.records import (
    EVENT_MSG,
    SESSION_META,
    TURN_ABORTED,
    TURN_COMPLETED,
)
from agentls.rollout.rules import Rules, turn_opened


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
    last_compaction: int = -1  # offset of the last `compacted` line still in force

    def live(self) -> list[TurnSpan]:
        """Ended turns still in the conversation, oldest first."""
        return [t for t in self.turns if t.end is not None and not t.rolled_back]

    def find(self, turn_id: str) -> TurnSpan | None:
        return next((t for t in self.turns if t.turn_id == turn_id), None)


class _TurnLedger:
    """The turns found so far, for the rules to act on: a mark is the number of turns and
    the last compaction then; going back to one marks the later turns rolled back (they stay
    listed, since undo can still restore their files) and forgets later compactions."""

    def __init__(self, found: SessionTurns) -> None:
        self.found = found

    def mark(self) -> tuple[int, int]:
        return len(self.found.turns), self.found.last_compaction

    def cut(self, mark: tuple[int, int]) -> None:
        index, self.found.last_compaction = mark
        for span in self.found.turns[index:]:
            span.rolled_back = True

    def compact(self, offset: int, replacement: list[dict[str, Any]]) -> None:
        self.found.last_compaction = offset


def scan_turns(data: bytes) -> SessionTurns:
    """Every turn of a rollout, with rollbacks applied. Lines are judged as the readers do."""
    found = SessionTurns()
    by_id: dict[str, TurnSpan] = {}
    rules = Rules(_TurnLedger(found))
    decoder = LineDecoder(len(data), data.endswith(b"\n"))
    for offset, raw in forward_lines(io.BytesIO(data), 0, len(data)):
        line = decoder.decode(offset, raw)
        if line is None or rules.feed(line):
            continue
        kind, payload = line.kind, line.payload
        line_end = min(len(data), offset + len(raw) + 1)
        event = payload.get("type") if kind == EVENT_MSG else None
        if kind == SESSION_META and not found.meta_end:
            found.meta_end = line_end
        elif (turn_id := turn_opened(kind, payload)) is not None:
            if turn_id not in by_id:
                span = TurnSpan(turn_id, offset)
                by_id[turn_id] = span
                found.turns.append(span)
        elif event in (TURN_COMPLETED, TURN_ABORTED):
            ended = by_id.get(str(payload.get("turn_id")))
            if ended is not None and ended.end is None:
                ended.end = line_end
                status = payload.get("status") if event == TURN_COMPLETED else "interrupted"
                ended.status = status if isinstance(status, str) else "completed"
    return found
