"""Choosing a turn of a session on disk: what undo and fork both start from."""

from __future__ import annotations

from pathlib import Path

from agentls.agent.results import NothingToUndoError, StorageError
from agentls.rollout.turns import SessionTurns, TurnSpan


def read_session_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StorageError(f"could not read the session file: {exc.strerror or exc}") from exc


def pick_turn(
    turns: SessionTurns, turn_id: str | None, session_id: str, *, undone_ok: bool = False
) -> TurnSpan:
    """The named turn (default: the last one still in the conversation).

    `undone_ok`: a turn already out of the conversation may be named (to restore its files
    again, say with `force` after some were skipped).
    """
    live = turns.live()
    if turn_id is None:
        if not live:
            raise NothingToUndoError(f"session {session_id} has no finished turn")
        return live[-1]
    span = turns.find(turn_id)
    if span is None:
        raise NothingToUndoError(f"session {session_id} has no turn '{turn_id}'")
    if span.rolled_back and not undone_ok:
        raise NothingToUndoError(f"turn '{turn_id}' was already undone")
    if span.end is None:
        raise NothingToUndoError(f"turn '{turn_id}' has not ended")
    return span
