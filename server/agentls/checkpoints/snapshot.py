"""Turning the workspace's current files into a git tree, re-reading only what changed.

Three or four git calls: `ls-files -m -o` lists what differs from the index (files git's
stat cache says changed or vanished, plus new files not ignored); `update-index
--force-remove` drops the vanished ones; `update-index --refresh --add` refreshes stale stat
data (a file touched but unchanged is then not re-read next time) and stages the rest, less
the files we must not store (over the size limit, unreadable); `write-tree` writes the tree,
reusing the cached subtrees of folders that did not change.

A file we skip keeps whatever version the index last held, so the snapshot simply stops
following it: a diff never shows it, a restore never writes it.

Nested git repositories (a folder with its own `.git`) would be staged as gitlinks, which
record a commit id and none of the files, so an undo could not bring their files back. We
snapshot their files instead: a placeholder entry under the folder makes git's walk descend
into it (git walks into any folder the index already has entries under), and is removed
again before the tree is written. Their own `.git` folder is never read (git skips every
path named `.git`), and neither is any `.git/info/exclude` other than the workspace's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agentls.checkpoints.errors import CheckpointError
from agentls.checkpoints.git import Git
from agentls.checkpoints.models import SkippedFile, Snapshot
from agentls.checkpoints.paths import behind_link

PLACEHOLDER = ".agentls-walk-nested-repo"
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
MAX_NESTING = 16
REFUSED_NAME = "a name git will not store (it could be mistaken for a .git folder)"

# Staging thousands of files (a first snapshot) as loose objects creates one file per blob,
# and creating files is what costs most here (strace of a 10,000-file first snapshot: 70%
# of its system time in openat).
# Above BULK_FROM files, a tiny big-file threshold makes git stream every blob into one
# pack file instead. Only for that call: for diffs the threshold keeps its default, since
# git treats files above it as binary. Small snapshots stay loose: one pack per snapshot
# would leave many small packs to search.
BULK_FROM = 200
BULK = {"core.bigFileThreshold": "1", "core.compression": "1"}


def split_z(out: bytes) -> list[str]:
    """Split git's NUL-terminated output into paths (surrogateescape keeps any bytes)."""
    return [os.fsdecode(part) for part in out.split(b"\0") if part]


def join_z(paths: list[str]) -> bytes:
    return b"".join(os.fsencode(path) + b"\0" for path in paths)


def take_snapshot(git: Git, max_bytes: int, max_files: int) -> Snapshot:
    """Stage the workspace's changes into the shadow index and write its tree."""
    listed = split_z(git.run("ls-files", "-z", "-m", "-o", "--exclude-standard"))
    if not listed:
        # Nothing differs by stat data: nothing to stage. (Stale stat data of files touched
        # but unchanged is refreshed by the next snapshot that stages something.)
        return Snapshot(tree=write_tree(git))
    candidates, placeholders = _expand_nested(git, listed)
    if len(candidates) > max_files:
        raise CheckpointError(
            f"the workspace has {len(candidates)} new or changed files that are not ignored, "
            f"more than a checkpoint takes ({max_files}); add the generated or downloaded "
            "folders to .gitignore, or raise checkpoint_max_files, or set checkpoints = false"
        )
    staged, removed, skipped = _sort_out(git.work_tree, candidates, max_bytes)
    removed.extend(placeholders)
    if removed:
        git.run("update-index", "--force-remove", "-z", "--stdin", stdin=join_z(removed))
    _, warnings = git.run_both(
        "update-index",
        "-q",
        "--refresh",
        "--add",
        "--replace",
        "-z",
        "--stdin",
        stdin=join_z(staged),
        config=BULK if len(staged) >= BULK_FROM else None,
    )
    skipped.extend(refused_names(warnings))
    return Snapshot(tree=write_tree(git), skipped=sorted(skipped, key=lambda s: s.path))


def refused_names(stderr: bytes) -> list[SkippedFile]:
    """Paths git declined to store (`.GIT/x`, `git~1/x`: names that alias a repository)."""
    prefix = b"Ignoring path "
    return [
        SkippedFile(os.fsdecode(line.removeprefix(prefix)), REFUSED_NAME)
        for line in stderr.splitlines()
        if line.startswith(prefix)
    ]


def write_tree(git: Git) -> str:
    return git.run("write-tree").decode().strip()


def _expand_nested(git: Git, listed: list[str]) -> tuple[list[str], list[str]]:
    """Replace each nested repository (listed as `dir/`) by the files inside it."""
    files = [path for path in listed if not path.endswith("/")]
    nested = [path for path in listed if path.endswith("/")]
    placeholders: list[str] = []
    for _ in range(MAX_NESTING):
        if not nested:
            break
        added = [folder + PLACEHOLDER for folder in nested]
        info = b"".join(f"100644 {EMPTY_BLOB}\t".encode() + os.fsencode(p) + b"\0" for p in added)
        git.run("update-index", "--add", "-z", "--index-info", stdin=info)
        placeholders.extend(added)
        inside = split_z(git.run("ls-files", "-z", "-o", "--exclude-standard", "--", *nested))
        files.extend(path for path in inside if not path.endswith("/"))
        nested = [path for path in inside if path.endswith("/")]
    return files, placeholders


def _sort_out(
    root: Path, candidates: list[str], max_bytes: int
) -> tuple[list[str], list[str], list[SkippedFile]]:
    """Split into paths to stage, paths to drop from the index, and files we will not store.

    A listed path that is now missing, a folder, or behind a symlinked folder was a tracked
    file that went away (an untracked folder is only listed when it is a nested repository,
    handled before).
    """
    staged: list[str] = []
    removed: list[str] = []
    skipped: list[SkippedFile] = []
    limit_mb = max_bytes / (1024 * 1024)
    folders: dict[str, bool] = {}
    for path in dict.fromkeys(candidates):
        full = root / path
        if behind_link(root, path, folders):
            removed.append(path)
            continue
        try:
            info = full.lstat()
        except (FileNotFoundError, NotADirectoryError):
            removed.append(path)
            continue
        except OSError as exc:
            skipped.append(SkippedFile(path, f"not readable ({exc.strerror})"))
            continue
        if stat.S_ISDIR(info.st_mode):
            removed.append(path)
            continue
        if stat.S_ISREG(info.st_mode):
            if info.st_size > max_bytes:
                size_mb = info.st_size / (1024 * 1024)
                reason = f"larger than {limit_mb:g} MB ({size_mb:.1f} MB)"
                skipped.append(SkippedFile(path, reason))
                continue
            if not os.access(full, os.R_OK):
                skipped.append(SkippedFile(path, "not readable"))
                continue
        staged.append(path)
    return staged, removed, skipped
