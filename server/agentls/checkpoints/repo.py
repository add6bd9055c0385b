"""The checkpoint engine's one entry point: a shadow git repository beside a workspace.

The repository lives at `<state_dir>/checkpoints.git` and treats the workspace as its work
tree through `GIT_DIR`/`GIT_WORK_TREE`; it has its own index. Nothing here reads or writes
the user's `.git`, except that the workspace's `.git/info/exclude`, when there is one, is
read (by git, as an excludes file) so that files the user excluded stay out of snapshots.

Snapshots are trees, not commits. A tree that must outlive the process (the before and
after of a turn, for undo after a restart) is named with `mark`, which points a ref under
`refs/agentls/` at it; that also keeps it from `gc`. Methods are synchronous and may block
for seconds on a first snapshot; callers in an event loop run them in a thread. Snapshot and
restore (and mark, forget, gc) take a writer lock, so concurrent calls, or two servers on one
workspace, queue rather than fail; diff and lookup only read and take no lock.
"""

from __future__ import annotations

import re
from pathlib import Path

from agentls.checkpoints.diff import changed_entries, workspace_diff
from agentls.checkpoints.errors import CheckpointError
from agentls.checkpoints.git import Git, check_object_id, check_version
from agentls.checkpoints.lock import WriterLock
from agentls.checkpoints.models import RestoreResult, Snapshot, WorkspaceDiff
from agentls.checkpoints.restore import restore_files
from agentls.checkpoints.snapshot import take_snapshot

REF_PREFIX = "refs/agentls/"
# A workspace opened on a home folder or a disk of datasets would otherwise be copied whole
# into the state folder on the first snapshot, for minutes. Past this many files to store
# in one snapshot, the snapshot is refused with a message saying what to do.
DEFAULT_MAX_FILES = 100_000
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


class ShadowRepo:
    """Snapshots, diffs and restores of one workspace, stored in its state folder."""

    def __init__(
        self,
        state_dir: Path,
        workspace: Path,
        *,
        max_file_mb: float = 10.0,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        workspace = workspace.resolve()
        if not workspace.is_dir():
            raise CheckpointError(f"the workspace folder {workspace} does not exist")
        if max_file_mb <= 0:
            raise CheckpointError(f"checkpoint_max_file_mb must be positive, not {max_file_mb}")
        check_version()
        self.workspace = workspace
        self.git_dir = state_dir.resolve() / "checkpoints.git"
        self.max_bytes = int(max_file_mb * 1024 * 1024)
        self.max_files = max_files
        self._git = Git(self.git_dir, workspace, excludes_file=user_exclude_file(workspace))
        try:
            self._git.init()
        except OSError as exc:
            raise CheckpointError(
                f"cannot create the checkpoint folder {self.git_dir}: {exc}"
            ) from exc
        self._lock = WriterLock(self.git_dir)
        exclude_state_folder(self.git_dir, workspace)

    def snapshot(self) -> Snapshot:
        """The workspace's files now, as a tree id; fast when few files changed."""
        with self._lock.hold():
            return take_snapshot(self._git, self.max_bytes, self.max_files)

    def diff(self, before: str, after: str, *, max_bytes: int | None = None) -> WorkspaceDiff:
        """Unified diff and per-file counts from one snapshot to another.

        With `max_bytes`, the text is cut (at a line end) once it passes that size and
        `truncated` is set; the per-file counts stay complete.
        """
        return workspace_diff(self._git, before, after, max_bytes=max_bytes)

    def changed_paths(self, before: str, after: str) -> list[str]:
        """Workspace-relative paths that differ between two snapshots."""
        return [entry.path for entry in changed_entries(self._git, before, after)]

    def restore(self, before: str, after: str, *, force: bool = False) -> RestoreResult:
        """Put every file that differs between the two snapshots back to its `before` state.

        A file whose content on disk is no longer its `after` content is skipped with a
        reason, unless `force`; files that did not change between the two are never written.
        """
        with self._lock.hold():
            return restore_files(self._git, before, after, force=force)

    def mark(self, name: str, tree: str) -> None:
        """Name a snapshot (e.g. `turn-<id>/before`) so it survives restarts and gc."""
        with self._lock.hold():
            self._git.run("update-ref", "--no-deref", ref_name(name), check_object_id(tree))

    def lookup(self, name: str) -> str | None:
        """The tree a name was given, or None."""
        out = self._git.run(
            "rev-parse", "--quiet", "--verify", f"{ref_name(name)}^{{tree}}", ok_codes=(0, 1)
        )
        return out.decode().strip() or None

    def forget(self, name: str) -> None:
        """Drop a name; its tree goes at the next `gc` unless another name keeps it."""
        with self._lock.hold():
            self._git.run("update-ref", "--no-deref", "-d", ref_name(name))

    def gc(self, *, prune: str = "1.day.ago") -> None:
        """Pack objects and drop unnamed snapshots older than `prune` (a git date)."""
        with self._lock.hold():
            self._git.run("gc", "--quiet", f"--prune={prune}")


def ref_name(name: str) -> str:
    if not NAME.match(name) or ".." in name or name.endswith(".lock"):
        raise CheckpointError(f"not a valid checkpoint name: {name!r}")
    return REF_PREFIX + name


def exclude_state_folder(git_dir: Path, workspace: Path) -> None:
    """Keep a state folder that sits inside the workspace out of its own snapshots."""
    state = git_dir.parent
    keep_out = git_dir if state == workspace else state
    lines = ""
    if workspace in keep_out.parents:
        relative = keep_out.relative_to(workspace).as_posix()
        escaped = "".join("\\" + c if c in "*?[]\\!# " else c for c in relative)
        lines = f"/{escaped}/\n"
    exclude = git_dir / "info" / "exclude"
    if not exclude.is_file() or exclude.read_text() != lines:
        exclude.write_text(lines)


def user_exclude_file(workspace: Path) -> Path | None:
    """The user's `.git/info/exclude` when the workspace is a repository's top folder.

    A `.git` file (a worktree or submodule) points at the git dir, whose `commondir` holds
    `info/`. Patterns there are relative to the repository's top, so they are only used when
    that is the workspace itself.
    """
    dot_git = workspace / ".git"
    git_dir: Path | None = None
    if dot_git.is_dir():
        git_dir = dot_git
    elif dot_git.is_file():
        try:
            text = dot_git.read_text(errors="replace").strip()
        except OSError:
            return None
        if text.startswith("gitdir:"):
            git_dir = (workspace / text.removeprefix("gitdir:").strip()).resolve()
            common = git_dir / "commondir"
            if common.is_file():
                git_dir = (git_dir / common.read_text().strip()).resolve()
    if git_dir is None:
        return None
    exclude = git_dir / "info" / "exclude"
    return exclude if exclude.is_file() else None
