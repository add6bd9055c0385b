"""Checkpoints of a workspace around the agent's turns: what `turnDiff` and undo stand on.

Before a turn first runs a tool that may change files, the workspace is snapshotted into
the shadow repository (`agentls.checkpoints`); after each such tool the workspace is
snapshotted again and compared with the turn's start, so changes made by commands show up
as well as patches. The trees are kept under names per turn (`turn-<id>/before`,
`turn-<id>/after`), so undo works after a restart too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentls.checkpoints import CheckpointError, RestoreResult, ShadowRepo, WorkspaceDiff

logger = logging.getLogger(__name__)

MAX_TURN_DIFF_BYTES = 512 * 1024


@dataclass
class TurnChanges:
    """One turn's view: the tree it started from and the last one reported."""

    before: str
    reported: str


class Checkpoints:
    def __init__(
        self,
        state_dir: Path,
        workspace: Path,
        *,
        max_file_mb: float,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        # `prepare` makes the state folder safely (no links followed) before git touches it
        self._prepare = prepare
        self._state_dir = state_dir
        self._workspace = workspace
        self._max_file_mb = max_file_mb
        self._repo: ShadowRepo | None = None
        self._lock = asyncio.Lock()
        self.warnings: list[str] = []
        self._prewarm: asyncio.Future[None] | None = None

    def _open(self) -> ShadowRepo:
        if self._repo is None:
            if self._prepare is not None:
                try:
                    self._prepare()
                except OSError as exc:
                    raise CheckpointError(str(exc)) from exc
            self._repo = ShadowRepo(self._state_dir, self._workspace, max_file_mb=self._max_file_mb)
        return self._repo

    async def _run(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        """Git work in a thread, one at a time; a stop waits for it (the repo stays sound)."""
        async with self._lock:
            job = asyncio.ensure_future(asyncio.to_thread(work, *args, **kwargs))
            try:
                return await asyncio.shield(job)
            except asyncio.CancelledError:
                await asyncio.wait({job})
                raise

    async def begin(self, turn_id: str) -> TurnChanges | None:
        """Snapshot before the turn's first change; None (and a warning) if it cannot."""
        try:
            snap = await self._run(lambda: self._open().snapshot())
        except CheckpointError as exc:
            self.warnings.append(f"no checkpoint for this turn: {exc}")
            logger.warning("checkpoint failed: %s", exc)
            return None
        await self._run(lambda: self._open().mark(f"turn-{turn_id}/before", snap.tree))
        if snap.skipped:
            names = ", ".join(f"{s.path} ({s.reason})" for s in snap.skipped[:5])
            self.warnings.append(f"not in the checkpoint: {names}")
        return TurnChanges(before=snap.tree, reported=snap.tree)

    async def changes(self, turn_id: str, state: TurnChanges) -> WorkspaceDiff | None:
        """The turn's changes so far when they moved since last time, else None."""
        try:
            snap = await self._run(lambda: self._open().snapshot())
        except CheckpointError as exc:
            logger.warning("checkpoint failed: %s", exc)
            return None
        await self._run(lambda: self._open().mark(f"turn-{turn_id}/after", snap.tree))
        if snap.tree == state.reported:
            return None
        state.reported = snap.tree
        diff: WorkspaceDiff = await self._run(
            lambda: self._open().diff(state.before, snap.tree, max_bytes=MAX_TURN_DIFF_BYTES)
        )
        return diff

    async def trees(self, turn_id: str) -> tuple[str | None, str | None]:
        """The turn's before and after trees, as kept on disk."""
        repo = self._open()
        before = await self._run(repo.lookup, f"turn-{turn_id}/before")
        after = await self._run(repo.lookup, f"turn-{turn_id}/after")
        return before, after

    async def restore(self, before: str, after: str, *, force: bool) -> RestoreResult:
        result: RestoreResult = await self._run(
            lambda: self._open().restore(before, after, force=force)
        )
        return result

    def prewarm(self) -> None:
        """Start the workspace's first snapshot in the background, once.

        Called when a turn starts: while the model thinks, the shadow repository's index is
        built, so the checkpoint before the turn's first tool only looks at what changed.
        Not at start-up: a server that is never asked anything reads no files.
        """
        if self._prewarm is None:
            self._prewarm = asyncio.ensure_future(self._prewarm_quietly())

    async def _prewarm_quietly(self) -> None:
        try:
            await self.snapshot_now()
        except (CheckpointError, OSError) as exc:
            logger.info("no first checkpoint: %s", exc)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Let a first snapshot still running finish (git keeps its index sound), bounded."""
        if self._prewarm is not None and not self._prewarm.done():
            await asyncio.wait({self._prewarm}, timeout=timeout_s)

    async def snapshot_now(self) -> str:
        snap = await self._run(lambda: self._open().snapshot())
        return str(snap.tree)


def diff_event(diff: WorkspaceDiff) -> dict[str, Any]:
    """`turnDiff` fields."""
    fields: dict[str, Any] = {
        "diff": diff.diff,
        "files": [{"path": f.path, "added": f.added, "removed": f.removed} for f in diff.files],
    }
    if diff.truncated:
        fields["truncated"] = True
    return fields
