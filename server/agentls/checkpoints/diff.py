"""Comparing two snapshots: the unified diff, per-file counts, and raw entries for restore.

Plumbing (`diff-tree`) rather than `git diff`: it reads no diff configuration, runs no
external diff or textconv program, and never detects renames, so every changed path appears
once under its own name (a move is a deletion plus an addition, which is also how a restore
has to treat it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentls.checkpoints.git import Git, check_object_id
from agentls.checkpoints.models import FileStat, WorkspaceDiff

ABSENT_MODE = "000000"
DIFF_FLAGS = ("-r", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color")


@dataclass(frozen=True, slots=True)
class Entry:
    """One path that differs: its mode and blob id on each side (mode 000000: absent)."""

    path: str
    before_mode: str
    before_id: str
    after_mode: str
    after_id: str

    @property
    def in_before(self) -> bool:
        return self.before_mode != ABSENT_MODE

    @property
    def in_after(self) -> bool:
        return self.after_mode != ABSENT_MODE


def workspace_diff(
    git: Git, before: str, after: str, *, max_bytes: int | None = None
) -> WorkspaceDiff:
    trees = (check_object_id(before), check_object_id(after))
    if before == after:
        return WorkspaceDiff(diff="", files=[])
    numstat = git.run("diff-tree", "--numstat", "-z", *DIFF_FLAGS, *trees)
    if max_bytes is None:
        patch, truncated = git.run("diff-tree", "-p", *DIFF_FLAGS, *trees), False
    else:
        patch, truncated = git.run_capped("diff-tree", "-p", *DIFF_FLAGS, *trees, limit=max_bytes)
        if truncated:
            patch = patch[: patch.rfind(b"\n") + 1]  # whole lines only
    return WorkspaceDiff(
        diff=patch.decode(errors="replace"), files=_parse_numstat(numstat), truncated=truncated
    )


def changed_entries(git: Git, before: str, after: str) -> list[Entry]:
    trees = (check_object_id(before), check_object_id(after))
    if before == after:
        return []
    out = git.run("diff-tree", "--raw", "-z", *DIFF_FLAGS, *trees)
    parts = out.split(b"\0")
    entries: list[Entry] = []
    # Records come as ":<mode> <mode> <id> <id> <status>" NUL "<path>" NUL.
    for header, raw_path in zip(parts[0::2], parts[1::2], strict=False):
        if not header.startswith(b":"):
            continue
        old_mode, new_mode, old_id, new_id, _status = header[1:].decode().split(" ")
        entries.append(Entry(os.fsdecode(raw_path), old_mode, old_id, new_mode, new_id))
    return entries


def _parse_numstat(out: bytes) -> list[FileStat]:
    files: list[FileStat] = []
    # Each record is "<added>\t<removed>\t<path>" NUL; binary files count "-\t-".
    for record in out.split(b"\0"):
        if not record:
            continue
        added, removed, raw_path = record.split(b"\t", 2)
        path = os.fsdecode(raw_path)
        if added == b"-":
            files.append(FileStat(path, 0, 0, binary=True))
        else:
            files.append(FileStat(path, int(added), int(removed)))
    return files
