"""Putting the files a turn changed back as they were, without clobbering the user's work.

Only paths that differ between `before` and `after` are looked at. Each one's current state
on disk (type, executable bit, content hash) is compared with its `after` state: if they
differ the user (or something else) changed it since, and it is skipped unless forced. Files
that should not exist are deleted first and the folders they leave empty removed, then the
`before` versions are written by `git checkout-index` from a throwaway index holding only
those entries (git writes symlinks, executable bits and file-or-folder swaps correctly).

Never removed, even when forced: a folder standing where a file must go, or a file or
symlink standing where a folder must go that is not itself part of the change. git's
`checkout-index -f` would delete them with everything inside; we report them instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from agentls.checkpoints.diff import Entry, changed_entries
from agentls.checkpoints.git import Git
from agentls.checkpoints.models import RestoreResult, SkippedFile
from agentls.checkpoints.paths import behind_link

CHANGED_SINCE = "changed since the turn"
FOLDER_IN_WAY = "a folder is in the way"
FILE_IN_WAY = "a file or link is in the way of its folder"
NOT_A_FILE = "not a file in the checkpoint (nested repository link)"

State = tuple[str, str] | None  # (mode, blob id), or None when absent


def restore_files(git: Git, before: str, after: str, *, force: bool) -> RestoreResult:
    root = git.work_tree
    entries = changed_entries(git, before, after)
    to_delete: list[Entry] = []
    to_write: list[Entry] = []
    restored: list[str] = []
    skipped: list[SkippedFile] = []
    for entry in entries:
        if "160000" in (entry.before_mode, entry.after_mode):
            skipped.append(SkippedFile(entry.path, NOT_A_FILE))
            continue
        current = current_state(root, entry.path)
        before_state = (entry.before_mode, entry.before_id) if entry.in_before else None
        after_state = (entry.after_mode, entry.after_id) if entry.in_after else None
        if current == before_state:
            restored.append(entry.path)  # already as it was: nothing to write
        elif current != after_state and not force:
            skipped.append(SkippedFile(entry.path, CHANGED_SINCE))
        elif entry.in_before:
            to_write.append(entry)
        else:
            to_delete.append(entry)

    deleting = {entry.path for entry in to_delete}
    for entry in to_delete:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            if (root / entry.path).is_dir() and not (root / entry.path).is_symlink():
                skipped.append(SkippedFile(entry.path, FOLDER_IN_WAY))
                continue
            os.unlink(root / entry.path)
        restored.append(entry.path)
    _remove_empty_parents(root, sorted(deleting, reverse=True))

    writable: list[Entry] = []
    for entry in to_write:
        reason = _obstacle(root, entry.path, deleting)
        if reason is None:
            writable.append(entry)
        else:
            skipped.append(SkippedFile(entry.path, reason))
    if writable:
        _checkout(git, writable)
        restored.extend(entry.path for entry in writable)
    return RestoreResult(restored=sorted(restored), skipped=sorted(skipped, key=_by_path))


def current_state(root: Path, relative: str) -> State:
    """The (mode, blob id) git would record for this path now; None when nothing is there.

    A path reached through a symlinked folder is not there (see `behind_link`).
    """
    if behind_link(root, relative):
        return None
    path = root / relative
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return ("unreadable", "")
    if stat.S_ISLNK(info.st_mode):
        return ("120000", blob_id(os.fsencode(os.readlink(path))))
    if stat.S_ISREG(info.st_mode):
        mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
        try:
            return (mode, file_blob_id(path, info.st_size))
        except OSError:
            return ("unreadable", "")
    if stat.S_ISDIR(info.st_mode):
        return None  # as git sees it: no file here (what is inside is compared path by path)
    return ("other", "")  # a special file: equal to no blob


def blob_id(data: bytes) -> str:
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def file_blob_id(path: Path, size: int) -> str:
    digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _obstacle(root: Path, path: str, deleting: set[str]) -> str | None:
    """Why writing `path` would destroy something not part of the change, if it would."""
    target = root / path
    if target.is_dir() and not target.is_symlink():
        return FOLDER_IN_WAY
    parts = Path(path).parts
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        try:
            info = (root / parent).lstat()
        except (FileNotFoundError, NotADirectoryError):
            return None  # git creates the rest of the folders
        if not stat.S_ISDIR(info.st_mode) and parent not in deleting:
            return FILE_IN_WAY
    return None


def _remove_empty_parents(root: Path, paths: list[str]) -> None:
    for path in paths:
        parent = (root / path).parent
        while parent != root and root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break  # not empty, or not there: stop climbing
            parent = parent.parent


def _checkout(git: Git, entries: list[Entry]) -> None:
    index = git.git_dir / "restore.index"
    with contextlib.suppress(FileNotFoundError):
        index.unlink()
    info = b"".join(
        f"{entry.before_mode} {entry.before_id}\t".encode() + os.fsencode(entry.path) + b"\0"
        for entry in entries
    )
    try:
        git.run("update-index", "--add", "-z", "--index-info", stdin=info, index=index)
        git.run("checkout-index", "--all", "--force", "--quiet", index=index)
    finally:
        with contextlib.suppress(FileNotFoundError):
            index.unlink()


def _by_path(item: SkippedFile) -> str:
    return item.path
