"""The values the checkpoint engine hands back: plain frozen records, no git in them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A path the engine left alone, with a reason a user can read."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A workspace state: the git tree id, and the files that are not in it and why."""

    tree: str
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FileStat:
    """Lines added and removed in one file; a binary file counts 0/0 and says so."""

    path: str
    added: int
    removed: int
    binary: bool = False


@dataclass(frozen=True, slots=True)
class WorkspaceDiff:
    """What changed between two snapshots: unified diff text and per-file counts.

    `truncated`: the text stops (at a line end) where the caller's byte limit was reached;
    `files` still lists every changed file.
    """

    diff: str
    files: list[FileStat] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """Paths now back in their earlier state, and paths left alone with the reason."""

    restored: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
