"""Undo: taking back what turns did, files and conversation.

The rollout stays append-only. Undoing the conversation is `Session.rollback`: a
`turns_rolled_back` record naming the undone turns (the chosen one and every later one);
every reader then passes over the lines from the first one's start up to that record, so
resume, paging and the model's next request no longer see them, while the file still holds
everything. Files go back through the checkpoints taken around the turns: from the `before`
snapshot of the first undone turn that changed files to the `after` snapshot of the last
one, so a file the user changed since is skipped (and named) unless forced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentls.agent.picking import pick_turn, read_session_file
from agentls.agent.results import (
    CoreError,
    NothingToUndoError,
    StorageError,
    TurnInProgressError,
)
from agentls.checkpoints import CheckpointError
from agentls.rollout.turns import TurnSpan, scan_turns

if TYPE_CHECKING:
    from agentls.agent.session import Session

Restore = Literal["all", "files", "conversation"]


class CheckpointsOffError(CoreError):
    """Files were asked back, but no checkpoints are taken (`checkpoints = false`)."""

    code = NothingToUndoError.code


@dataclass
class UndoResult:
    session_id: str
    restored_files: list[str]
    skipped_files: list[dict[str, str]]
    history: list[dict[str, Any]]
    undone_turns: list[str]
    warnings: list[str]
    history_cursor: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "sessionId": self.session_id,
            "restoredFiles": self.restored_files,
            "skippedFiles": self.skipped_files,
            "history": self.history,
            "undoneTurns": self.undone_turns,
        }
        if self.warnings:
            wire["warnings"] = self.warnings
        if self.history_cursor is not None:
            wire["historyCursor"] = self.history_cursor
        return wire


async def undo(
    session: Session,
    turn_id: str | None,
    restore: Restore = "all",
    *,
    force: bool = False,
    history_limit: int | None = None,
    also_running: Iterable[Session] = (),
) -> UndoResult:
    """Take back `turn_id` (default: the last turn) and every later turn of the session.

    Refused while a turn runs (stop it first); files are not restored either while a turn
    of another session of the workspace (`also_running`) runs, as its changes would mix
    with the undo's. Files first: if they cannot be restored the conversation is left as it
    was. The answer's history is the newest `history_limit` entries (None: all), with the
    cursor of older ones, as `agent/resume` gives them.
    """
    session.refuse_while_running("undo")
    if restore != "conversation":
        for other in also_running:
            if other.running_turn_id is not None:
                raise TurnInProgressError(
                    f"turn {other.running_turn_id} of session {other.id} is changing this "
                    "workspace; stop it before undoing files, or undo the conversation only "
                    "(restore: 'conversation')"
                )
    with session.exclusive(
        f"an undo is rewinding session {session.id}; send again when it has answered"
    ):
        return await _undo(session, turn_id, restore, force, history_limit)


async def _undo(
    session: Session,
    turn_id: str | None,
    restore: Restore,
    force: bool,
    history_limit: int | None,
) -> UndoResult:
    await session.flush()
    path = session.path
    turns = await asyncio.to_thread(lambda: scan_turns(read_session_file(path)))
    target = pick_turn(turns, turn_id, session.id, undone_ok=restore == "files")
    index = turns.turns.index(target)
    undone = [t for t in turns.turns[index:] if t.end is not None and not t.rolled_back]
    wants_conversation = restore in ("all", "conversation")
    if wants_conversation and turns.last_compaction > target.start:
        raise NothingToUndoError(
            f"the conversation was compacted during or after turn '{target.turn_id}', so it "
            "cannot be rolled back to before it; undo its files only (restore: 'files')"
        )
    restored: list[str] = []
    skipped: list[dict[str, str]] = []
    warnings: list[str] = []
    if restore in ("all", "files"):
        checkpoints = session.context.checkpoints
        if checkpoints is None:
            if restore == "files":
                raise CheckpointsOffError(
                    "checkpoints are off (checkpoints = false): there are no files to restore"
                )
            warnings.append("checkpoints are off: the files were left as they are")
        else:
            restored, skipped = await _restore_files(session, turns.turns[index:], force)
    if wants_conversation:
        session.rollback([t.turn_id for t in undone])
    from agentls.rollout.paging import open_resume

    limit = (1 << 62) if history_limit is None else history_limit
    view = await asyncio.to_thread(open_resume, path, limit)
    return UndoResult(
        session_id=session.id,
        restored_files=restored,
        skipped_files=skipped,
        history=view.entries,
        undone_turns=[t.turn_id for t in undone] if wants_conversation else [],
        warnings=warnings,
        history_cursor=view.history_cursor,
    )


async def _restore_files(
    session: Session, spans: list[TurnSpan], force: bool
) -> tuple[list[str], list[dict[str, str]]]:
    """Back to before the first of `spans` that changed files, from after the last one."""
    checkpoints = session.context.checkpoints
    assert checkpoints is not None
    before: str | None = None
    after: str | None = None
    last_had_after = True
    try:
        for span in spans:
            tree_before, tree_after = await checkpoints.trees(span.turn_id)
            if tree_before is None:
                continue  # a turn without a `before` mark changed no files
            before = before or tree_before
            after, last_had_after = tree_after, tree_after is not None
        if before is None:
            return [], []
        if after is None or not last_had_after:
            # the server stopped before the turn's last change was recorded: take it now
            after = await checkpoints.snapshot_now()
        result = await checkpoints.restore(before, after, force=force)
    except CheckpointError as exc:
        raise StorageError(f"could not restore the files: {exc}") from exc
    return list(result.restored), [{"path": s.path, "reason": s.reason} for s in result.skipped]
