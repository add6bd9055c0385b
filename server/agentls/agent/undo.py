"""Undo and fork: taking back what turns did, or branching a conversation off one of them;
and the edits of the session list (rename, delete).

The rollout stays append-only. Undoing the conversation appends a `turns_rolled_back`
record naming the undone turns (the chosen one and every later one); every reader then
passes over the lines from the first one's start up to that record, so resume, paging and
the model's next request no longer see them, while the file still holds everything.
Files go back through the checkpoints taken around the turns: from the `before` snapshot
of the first undone turn that changed files to the `after` snapshot of the last one, so a
file the user changed since is skipped (and named) unless forced.

A fork is a new rollout file: a new `session_meta` (with `forked_from`) followed by the
original's lines up to the chosen turn's end, copied byte for byte, so both sessions go on
independently and rollbacks already in that part keep their meaning.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentls.agent.results import (
    CoreError,
    NothingToUndoError,
    StorageError,
    TurnInProgressError,
)
from agentls.checkpoints import CheckpointError
from agentls.rollout.reader import decode_line
from agentls.rollout.records import (
    EVENT_MSG,
    SESSION_META,
    TURNS_ROLLED_BACK,
    encode_line,
    utc_now,
)
from agentls.rollout.turns import SessionTurns, TurnSpan, scan_turns
from agentls.rollout.writer import RolloutWriteError

if TYPE_CHECKING:
    from agentls.agent.session import Session
    from agentls.agent.workspace import Workspace

Restore = Literal["all", "files", "conversation"]


class CheckpointsOffError(CoreError):
    """Files were asked back, but no checkpoints are taken (`checkpoints = false`)."""

    code = NothingToUndoError.code


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StorageError(f"could not read the session file: {exc.strerror or exc}") from exc


def _pick(
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


# --------------------------------------------------------------------------- undo


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
    _refuse_while_running(session)
    if restore != "conversation":
        for other in also_running:
            if other.running_turn_id is not None:
                raise TurnInProgressError(
                    f"turn {other.running_turn_id} of session {other.id} is changing this "
                    "workspace; stop it before undoing files, or undo the conversation only "
                    "(restore: 'conversation')"
                )
    if session.turns.blocked is not None:
        raise TurnInProgressError(session.turns.blocked)
    session.turns.blocked = (
        f"an undo is rewinding session {session.id}; send again when it has answered"
    )
    try:
        return await _undo(session, turn_id, restore, force, history_limit)
    finally:
        session.turns.blocked = None


async def _undo(
    session: Session,
    turn_id: str | None,
    restore: Restore,
    force: bool,
    history_limit: int | None,
) -> UndoResult:
    await session.flush()
    path = session.writer.path
    turns = await asyncio.to_thread(lambda: scan_turns(_read(path)))
    target = _pick(turns, turn_id, session.id, undone_ok=restore == "files")
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
        _record_rollback(session, [t.turn_id for t in undone])
        for span in undone:
            session.turn_changes.pop(span.turn_id, None)
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


def _refuse_while_running(session: Session, then: str = "undo") -> None:
    running = session.running_turn_id
    if running is not None:
        raise TurnInProgressError(
            f"turn {running} is running in session {session.id}; stop it "
            f"(agent/interrupt), then {then}"
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


def _record_rollback(session: Session, turn_ids: list[str]) -> None:
    try:
        session.writer.append(EVENT_MSG, {"type": TURNS_ROLLED_BACK, "turn_ids": turn_ids})
        session.writer.sync()
    except RolloutWriteError as exc:
        raise StorageError(str(exc.strerror)) from exc
    session.reread_history()


# --------------------------------------------------------------------------- fork


async def fork(workspace: Workspace, session_id: str | None, turn_id: str | None) -> str:
    """A new session holding the conversation up to and including `turn_id` (default: the
    last finished turn); returns its id. The original is not touched."""
    from agentls.agent.session import session_meta
    from agentls.rollout.paths import check_session_id, new_session_id

    source = _source_path(workspace, session_id)
    data = await asyncio.to_thread(_read, source)
    turns = scan_turns(data)
    original = session_id or (workspace.active.id if workspace.active else "")
    target = _pick(turns, turn_id, original)
    assert target.end is not None
    copied = data[turns.meta_end : target.end]
    created = utc_now()
    new_id = check_session_id(new_session_id())
    meta = session_meta(workspace.context, workspace.layout, new_id, created)
    meta["forked_from"] = {"session_id": original, "turn_id": target.turn_id}
    layout = workspace.layout
    layout.ensure()
    path = layout.session_path(new_id, created)
    body = encode_line(SESSION_META, meta, created) + _without_metas(copied)
    await asyncio.to_thread(_write_new, path, body)
    return new_id


def _source_path(workspace: Workspace, session_id: str | None) -> Path:
    from agentls.agent.results import SessionNotFoundError
    from agentls.rollout.paths import check_session_id

    if session_id is None:
        if workspace.active is None:
            raise SessionNotFoundError("no session is open; pass its sessionId")
        return workspace.active.writer.path
    check_session_id(session_id)
    held = workspace.sessions.get(session_id)
    path = held.writer.path if held else workspace.layout.find_session(session_id)
    if path is None:
        raise SessionNotFoundError(f"no session '{session_id}' in this workspace")
    return path


def _without_metas(data: bytes) -> bytes:
    """The copied lines, minus any further `session_meta` (the fork has its own)."""
    if b'"session_meta"' not in data:
        return data
    kept = []
    for line in data.splitlines(keepends=True):
        decoded = decode_line(line.rstrip(b"\n")) if line.strip() else ""
        if not (isinstance(decoded, tuple) and decoded[0] == SESSION_META):
            kept.append(line)
    return b"".join(kept)


def _write_new(path: Path, body: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError(f"could not create the forked session: {exc.strerror}") from exc
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise StorageError(f"could not write the forked session: {exc.strerror}") from exc
    os.close(fd)


def forked_from(meta: dict[str, Any] | None) -> dict[str, str] | None:
    """`{sessionId, turnId}` of a forked session's origin, for the wire."""
    origin = meta.get("forked_from") if isinstance(meta, dict) else None
    if not isinstance(origin, dict):
        return None
    return {"sessionId": str(origin.get("session_id")), "turnId": str(origin.get("turn_id"))}


# --------------------------------------------------------------------------- the session list


def rename_session(workspace: Workspace, session_id: str, title: str) -> None:
    """Append a `session_renamed` record; the listing and resume take the last one."""
    from agentls.rollout.records import SESSION_RENAMED
    from agentls.rollout.writer import RolloutWriter

    clean = " ".join(title.split())
    payload = {"type": SESSION_RENAMED, "title": clean}
    held = workspace.sessions.get(session_id)
    try:
        if held is not None:
            held.writer.append(EVENT_MSG, payload)
            held.writer.sync()
            held.info.title = clean
            return
        path = _source_path(workspace, session_id)
        writer = RolloutWriter(path, create=False, secrets=workspace.context.secrets())
        try:
            writer.append(EVENT_MSG, payload)
        finally:
            writer.close()
    except RolloutWriteError as exc:
        raise StorageError(str(exc.strerror)) from exc


def delete_session(workspace: Workspace, session_id: str) -> Path:
    """Move the session's file to the trash folder, closing it first; refused mid-turn."""
    from agentls.rollout.store import move_to_trash
    from agentls.rollout.writer import RolloutWriter

    path = _source_path(workspace, session_id)
    held = workspace.sessions.get(session_id)
    if held is not None:
        _refuse_while_running(held, "delete it")
        held.close()
        del workspace.sessions[session_id]
        if workspace.active is held:
            workspace.active = None
        lock: RolloutWriter | None = None
    else:  # another server may hold it: taking the lock tells
        lock = RolloutWriter(path, create=False)
    try:
        return move_to_trash(workspace.layout, path)
    except OSError as exc:
        raise StorageError(f"could not move the session to the trash: {exc.strerror}") from exc
    finally:
        if lock is not None:
            lock.close()
