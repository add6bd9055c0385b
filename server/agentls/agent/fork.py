"""Fork: a new session holding a conversation up to one of its turns.

A fork is a new rollout file: a new `session_meta` (with `forked_from`) followed by the
original's lines up to the chosen turn's end, copied byte for byte, so both sessions go on
independently and rollbacks already in that part keep their meaning. The original is not
touched, so a fork needs no lock on it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from agentls.agent.context import AgentContext
from agentls.agent.meta import session_meta
from agentls.agent.picking import pick_turn, read_session_file
from agentls.agent.results import StorageError
from agentls.rollout.paths import WorkspaceLayout, check_session_id, new_session_id
from agentls.rollout.reader import decode_line
from agentls.rollout.records import SESSION_META, encode_line, utc_now
from agentls.rollout.turns import scan_turns


async def fork_session(
    context: AgentContext, layout: WorkspaceLayout, source: Path, original: str, turn_id: str | None
) -> str:
    """Copy `source` (session `original`) up to the end of `turn_id` (default: its last
    finished turn) into a new session; returns the new session's id."""
    data = await asyncio.to_thread(read_session_file, source)
    turns = scan_turns(data)
    target = pick_turn(turns, turn_id, original)
    assert target.end is not None
    copied = data[turns.meta_end : target.end]
    created = utc_now()
    new_id = check_session_id(new_session_id())
    meta = session_meta(context, layout, new_id, created)
    meta["forked_from"] = {"session_id": original, "turn_id": target.turn_id}
    layout.ensure()
    path = layout.session_path(new_id, created)
    body = encode_line(SESSION_META, meta, created) + _without_metas(copied)
    await asyncio.to_thread(_write_new, path, body)
    return new_id


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
