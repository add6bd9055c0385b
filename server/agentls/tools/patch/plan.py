"""From a parsed patch to every file's new text, without touching the disk.

Planning is where a patch can fail for the model's reasons (a hunk that does not match, a file
that is missing or already there), so it happens completely before anything is written: the
caller can show the diffs, ask for approval, or refuse, and :func:`commit_plan` only writes a
plan that is known to apply.

Files are read through the guarded reader (regular text files up to ``MAX_FILE_BYTES``; a FIFO
or a device is a failed call, not a frozen server). A file outside the workspace is the
user's to open to the model, so a plan made with ``defer_outside`` reads none of them: their
changes are *deferred*, shown as the patch's own hunks, and planned for real once the user
said yes. Paths in agentls's state folder are refused; paths in a git directory are marked,
since they are asked about every time (:mod:`agentls.tools.patch.guard`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agentls.tools.files import UnreadableFileError, check_path, read_file, within
from agentls.tools.patch.diff import (
    count_changes,
    hunks_diff,
    opcodes_from_replacements,
    render_diff,
    unified_diff,
)
from agentls.tools.patch.grammar import (
    AddFile,
    Chunk,
    DeleteFile,
    Patch,
    PatchError,
    UpdateFile,
)
from agentls.tools.patch.guard import GitDirs, ProtectedFolders
from agentls.tools.patch.locate import closest_window, seek_sequence
from agentls.tools.patch.text import FileText, Replacement

__all__ = [
    "MAX_FILE_BYTES",
    "ChangeKind",
    "FileChange",
    "HunkMismatchError",
    "PatchPlan",
    "ReadText",
    "patch_paths",
    "plan_patch",
    "read_disk_text",
]

ChangeKind = Literal["add", "delete", "update"]
ReadText = Callable[[Path], "str | None"]

_SHOWN_LINES = 30
MAX_FILE_BYTES = 16 << 20  # a patch holds its files' old and new texts in memory


class HunkMismatchError(PatchError):
    """A hunk's context or removed lines are not in the file; the message shows both sides."""

    def __init__(self, message: str, path: str, hunk: int) -> None:
        super().__init__(message)
        self.path = path
        self.hunk = hunk


@dataclass(slots=True)
class FileChange:
    """One file the plan changes.

    ``path``/``move_path`` are the paths as the workspace names them (``..`` removed, symlinks
    kept, so they match what an editor has open); ``real_path``/``real_move_path`` are where
    the bytes actually go once symlinks are followed.

    A ``deferred`` change (outside the workspace, nothing read yet) has no texts: its diff is
    the patch's own hunks. ``in_git_dir`` marks a path inside a git directory.
    """

    path: Path
    kind: ChangeKind
    move_path: Path | None
    old_text: str | None
    new_text: str | None
    diff: str
    display_path: str
    display_move_path: str | None
    real_path: Path
    real_move_path: Path | None
    outside_workspace: bool
    added: int
    removed: int
    deferred: bool = False
    in_git_dir: bool = False
    linked: bool = False
    """The path reaches its file through a link: ``real_path`` is where it writes."""

    def wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {"path": self.display_path, "kind": self.kind, "diff": self.diff}
        if self.display_move_path is not None:
            item["movePath"] = self.display_move_path
        if self.linked:
            item["realPath"] = str(self.real_path)
        return item


@dataclass(slots=True)
class PatchPlan:
    workspace: Path
    changes: list[FileChange]

    @property
    def outside_workspace(self) -> bool:
        """Whether any path leaves the workspace: such a patch is asked whatever the policy."""
        return any(change.outside_workspace for change in self.changes)

    @property
    def in_git_dir(self) -> bool:
        """Whether any path lies in a git directory: asked whatever was approved before."""
        return any(change.in_git_dir for change in self.changes)

    @property
    def deferred(self) -> bool:
        """Whether some change is not planned yet (outside files not read): not to commit."""
        return any(change.deferred for change in self.changes)

    def changes_wire(self) -> list[dict[str, Any]]:
        """``[{path, kind, movePath?, diff}]`` for ``toolCallStarted`` and patch approvals."""
        return [change.wire() for change in self.changes]

    def diff(self) -> str:
        return "".join(change.diff for change in self.changes)

    def files(self) -> list[Path]:
        """Every path the plan writes, creates or removes (as the workspace names them)."""
        paths: list[Path] = []
        for change in self.changes:
            paths.append(change.path)
            if change.move_path is not None:
                paths.append(change.move_path)
        return paths

    def summary(self, unsaved: Collection[Path] = ()) -> str:
        """The tool call's output to the model after a successful commit.

        ``unsaved`` names the changes (by ``FileChange.path``) applied to the editor's unsaved
        buffer instead of the disk: the model is told, since the file on disk differs.
        """
        if not self.changes:
            return "The patch changed no files."
        lines = ["Success. Updated the following files:"]
        for change in self.changes:
            letter = {"add": "A", "delete": "D", "update": "M"}[change.kind]
            name = change.display_path
            if change.display_move_path is not None:
                name = f"{name} -> {change.display_move_path}"
            line = f"{letter} {name} (+{change.added} -{change.removed})"
            if change.path in unsaved:
                line += " [applied in the editor, which has unsaved changes to it; not saved]"
            lines.append(line)
        return "\n".join(lines)


def read_disk_text(path: Path) -> str | None:
    """The file's text, or ``None`` when it does not exist; raises for what is no text file
    (a directory, a FIFO, a device, ``/proc``, a file over ``MAX_FILE_BYTES``, not UTF-8)."""
    try:
        got = read_file(path, limit=MAX_FILE_BYTES)
    except UnreadableFileError as error:
        if error.missing:
            return None
        if error.reason.startswith("it is "):
            raise PatchError(f"{path} {error.reason.removeprefix('it ')}") from None
        raise PatchError(f"cannot read {path}: {error.reason}") from None
    if got.truncated:
        raise PatchError(
            f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB; apply_patch edits smaller files"
        )
    try:
        return got.data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"{path} is not UTF-8 text; apply_patch edits text files only") from None


@dataclass(slots=True)
class _Target:
    path: Path
    real: Path
    display: str
    outside: bool
    git: bool
    linked: bool


def _lexical(raw: str, workspace: Path) -> Path:
    """The path a patch names, absolute, ``..`` removed, links kept (as an editor names it)."""
    given = Path(raw)
    return Path(os.path.normpath(given if given.is_absolute() else workspace / given))


def patch_paths(patch: Patch, workspace: Path, *, inside_only: bool = False) -> list[Path]:
    """Every path the patch names, as planning names them (for the editor's buffers); paths
    no file can have are left out (planning reports them). ``inside_only`` leaves out those
    whose real location is outside the workspace (links followed: it touches the disk)."""
    root = Path(os.path.abspath(workspace))
    real_root = os.path.realpath(root)
    paths: list[Path] = []
    for op in patch.ops:
        names = [op.path]
        if isinstance(op, UpdateFile) and op.move_path is not None:
            names.append(op.move_path)
        for raw in names:
            path = _lexical(raw, root)
            try:
                check_path(path)
            except UnreadableFileError:
                continue
            if inside_only and not within(os.path.realpath(path), real_root):
                continue
            paths.append(path)
    return paths


class _Planner:
    def __init__(
        self,
        workspace: Path,
        read_text: ReadText,
        *,
        defer_outside: bool = False,
        protected: Collection[Path] = (),
    ) -> None:
        self.workspace = Path(os.path.abspath(workspace))
        self.real_workspace = Path(os.path.realpath(self.workspace))
        self.read_text = read_text
        self.defer_outside = defer_outside
        self.protected = ProtectedFolders(protected)
        self.git_dirs = GitDirs()
        self.changes: list[FileChange] = []
        # Real path -> index in changes: a second section for the same file continues it.
        self.touched: dict[Path, int] = {}
        self.real_dirs: dict[Path, Path] = {}

    def target(self, raw: str, line: int) -> _Target:
        path = _lexical(raw, self.workspace)
        try:
            check_path(path)
        except UnreadableFileError as error:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            raise PatchError(f"bad path {shown!r}: {error.reason}", line) from None
        real = self.real(path)
        if path == self.workspace or real == self.real_workspace:
            raise PatchError(f"'{raw}' names the workspace folder itself, not a file", line)
        outside = not _within(real, self.real_workspace)
        inside_as_named = _within(path, self.workspace)
        if inside_as_named:
            relative = os.path.relpath(path, self.workspace)
            display = Path(relative).as_posix()
            linked = outside or str(real) != os.path.join(self.real_workspace, relative)
        else:
            display = str(real)
            linked = False  # already shown by its real path
        held = self.protected.holding(path, real)
        if held is not None:
            raise PatchError(
                f"{display} is in agentls's own state folder ({held}); apply_patch never "
                "changes it. Nothing was changed.",
                line,
            )
        git = self.git_dirs.contains(path, real)
        return _Target(path, real, display, outside, git, linked)

    def real(self, path: Path) -> Path:
        """``realpath`` with the folders' answers cached: a patch's files share folders."""
        parent = path.parent
        real_parent = self.real_dirs.get(parent)
        if real_parent is None:
            real_parent = Path(os.path.realpath(parent))
            self.real_dirs[parent] = real_parent
        candidate = real_parent / path.name
        if os.path.islink(candidate):
            return Path(os.path.realpath(candidate))
        return candidate

    def current(self, target: _Target, line: int) -> str | None:
        """The file's text as this patch has left it so far."""
        index = self.touched.get(target.real)
        if index is not None:
            return self.changes[index].new_text
        try:
            return self.read_text(target.path)
        except PatchError as error:
            raise PatchError(error.message, line) from None
        except (OSError, UnicodeDecodeError) as error:
            # A caller's reader (the editor's buffers, then the disk) may fail its own way.
            raise PatchError(f"cannot read {target.display}: {error}", line) from None

    def add(self, op: AddFile) -> None:
        target = self.target(op.path, op.line)
        if self.defer_outside and target.outside:
            diff = unified_diff(None, op.contents, target.display, target.display)
            self._defer(target, "add", None, diff)
            return
        self._check_parents(target, op.line)
        if self.current(target, op.line) is not None:
            raise PatchError(
                f"cannot add {target.display}: the file already exists; use "
                f"'*** Update File: {op.path}' to change it (or delete it first in another call)",
                op.line,
            )
        if target.real in self.touched:
            raise PatchError(f"{target.display} is deleted and added in one patch", op.line)
        self._record(target, "add", None, None, op.contents)

    def delete(self, op: DeleteFile) -> None:
        target = self.target(op.path, op.line)
        if self.defer_outside and target.outside:
            self._defer(target, "delete", None, f"--- a/{target.display}\n+++ /dev/null\n")
            return
        if target.real in self.touched:
            raise PatchError(
                f"{target.display} is changed earlier in this patch and then deleted; "
                "send only the delete",
                op.line,
            )
        old = self.current(target, op.line)
        if old is None:
            raise PatchError(f"cannot delete {target.display}: no such file", op.line)
        self._record(target, "delete", None, old, None)

    def update(self, op: UpdateFile) -> None:
        target = self.target(op.path, op.line)
        if self.defer_outside:
            moved = self.target(op.move_path, op.line + 1) if op.move_path is not None else None
            if target.outside or (moved is not None and moved.outside):
                name = moved.display if moved is not None else target.display
                self._defer(target, "update", moved, hunks_diff(op.chunks, target.display, name))
                return
        old = self.current(target, op.line)
        if old is None:
            raise PatchError(
                f"cannot update {target.display}: no such file (use '*** Add File: {op.path}' "
                "with '+' lines to create it)",
                op.line,
            )
        source = FileText.parse(old)
        # A file outside the workspace is not the model's to read before the user agrees:
        # a failed hunk there must not show its lines.
        replacements = locate_chunks(source, op.chunks, target.display, reveal=not target.outside)
        result = source.replaced(replacements)
        new = result.render()
        move: _Target | None = None
        if op.move_path is not None:
            move = self.target(op.move_path, op.line + 1)
            if move.real == target.real:
                move = None
        if move is not None:
            self._check_parents(move, op.line + 1)
            if move.real in self.touched or self.current(move, op.line + 1) is not None:
                raise PatchError(
                    f"cannot move {target.display} to {move.display}: that file already exists",
                    op.line + 1,
                )
        index = self.touched.get(target.real)
        if index is not None:
            earlier = self.changes[index]
            if earlier.move_path is not None or earlier.kind == "delete" or move is not None:
                raise PatchError(
                    f"{target.display} appears twice in this patch; put all its hunks under "
                    "one '*** Update File' section",
                    op.line,
                )
            self.changes[index] = self._change(target, earlier.kind, None, earlier.old_text, new)
            return
        diff: str | None = None
        if source.ends_with_newline == result.ends_with_newline:
            opcodes = opcodes_from_replacements(
                source.lines, [(r.start, r.size, r.lines) for r in replacements]
            )
            diff = render_diff(
                source.lines,
                result.lines,
                opcodes,
                source.ends_with_newline,
                result.ends_with_newline,
                False,
                False,
                target.display,
                move.display if move is not None else target.display,
            )
        self._record(target, "update", move, old, new, diff)

    def _defer(self, target: _Target, kind: ChangeKind, move: _Target | None, diff: str) -> None:
        """A change to files outside the workspace, not read: planned after the user's yes.

        Not entered in ``touched``: the plan made after approval checks the whole patch."""
        change = self._change(target, kind, move, None, None, diff)
        change.deferred = True
        self.changes.append(change)

    def _check_parents(self, target: _Target, line: int) -> None:
        for parent in target.real.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise PatchError(
                        f"cannot create {target.display}: {parent} is a file, not a folder", line
                    )
                return

    def _record(
        self,
        target: _Target,
        kind: ChangeKind,
        move: _Target | None,
        old: str | None,
        new: str | None,
        diff: str | None = None,
    ) -> None:
        self.touched[target.real] = len(self.changes)
        if move is not None:
            self.touched[move.real] = len(self.changes)
        self.changes.append(self._change(target, kind, move, old, new, diff))

    def _change(
        self,
        target: _Target,
        kind: ChangeKind,
        move: _Target | None,
        old: str | None,
        new: str | None,
        diff: str | None = None,
    ) -> FileChange:
        new_name = move.display if move is not None else target.display
        if diff is None:
            diff = unified_diff(old, new, target.display, new_name)
        added, removed = count_changes(diff) if diff else (0, 0)
        in_git_dir = target.git or (move is not None and move.git)
        return FileChange(
            path=target.path,
            kind=kind,
            move_path=move.path if move is not None else None,
            old_text=old,
            new_text=new,
            diff=diff,
            display_path=target.display,
            display_move_path=move.display if move is not None else None,
            real_path=target.real,
            real_move_path=move.real if move is not None else None,
            outside_workspace=target.outside or (move is not None and move.outside),
            added=added,
            removed=removed,
            in_git_dir=in_git_dir,
            linked=target.linked,
        )


def _within(path: Path, folder: Path) -> bool:
    # String prefix test: pathlib's is_relative_to costs more than the rest of planning.
    return within(path, folder)


def plan_patch(
    patch: Patch,
    workspace: Path,
    read_text: ReadText | None = None,
    *,
    defer_outside: bool = False,
    protected: Collection[Path] = (),
) -> PatchPlan:
    """Resolve, read and compute every file of ``patch``; raises :class:`PatchError`.

    ``read_text(path)`` returns a file's current text or ``None`` when it does not exist; the
    editor passes one that prefers its unsaved buffers. Paths outside the workspace are
    marked ``outside_workspace``: refusing them is the caller's decision; with
    ``defer_outside`` they are not read at all (their changes are ``deferred``). A path in
    a ``protected`` folder fails the plan.
    """
    planner = _Planner(
        workspace, read_text or read_disk_text, defer_outside=defer_outside, protected=protected
    )
    for op in patch.ops:
        if isinstance(op, AddFile):
            planner.add(op)
        elif isinstance(op, DeleteFile):
            planner.delete(op)
        else:
            planner.update(op)
    return PatchPlan(planner.workspace, planner.changes)


def apply_chunks(text: str, chunks: tuple[Chunk, ...], name: str) -> str:
    """The file's text after the hunks, located in order; raises :class:`HunkMismatchError`."""
    source = FileText.parse(text)
    return source.replaced(locate_chunks(source, chunks, name)).render()


def locate_chunks(
    source: FileText, chunks: tuple[Chunk, ...], name: str, *, reveal: bool = True
) -> list[Replacement]:
    """One replacement per hunk, ascending; raises :class:`HunkMismatchError`.

    With ``reveal`` false the error names what did not match but shows none of the file.
    """
    lines = source.lines
    replacements: list[Replacement] = []
    line_index = 0
    total = len(chunks)
    for number, chunk in enumerate(chunks, 1):
        for anchor in chunk.anchors:
            found = seek_sequence(lines, [anchor], line_index)
            if found is None:
                raise _mismatch(
                    lines, [anchor], line_index, name, number, total, chunk, reveal, anchor
                )
            line_index = found + 1
        if not chunk.old_lines:
            # Nothing to find: lines go right after the anchor, else at the end of the file
            # (before a final blank line, as the Codex CLI does).
            if chunk.anchors and not chunk.end_of_file:
                at = line_index
            elif lines and lines[-1] == "":
                at = len(lines) - 1
            else:
                at = len(lines)
            added = list(chunk.new_lines)
            replacements.append(Replacement(at, 0, added, [None] * len(added)))
            continue
        ops = list(chunk.ops)
        pattern = list(chunk.old_lines)
        found = seek_sequence(lines, pattern, line_index, chunk.end_of_file)
        if found is None and pattern[-1] == "" and ops[-1][0] != "+":
            # A trailing empty line often stands for the file's final newline.
            ops.pop()
            pattern.pop()
            if pattern:
                found = seek_sequence(lines, pattern, line_index, chunk.end_of_file)
        if found is None:
            raise _mismatch(
                lines, list(chunk.old_lines), line_index, name, number, total, chunk, reveal
            )
        new, origins = _new_lines(ops, lines, found)
        replacements.append(Replacement(found, len(pattern), new, origins))
        line_index = found + len(pattern)
    replacements.sort(key=lambda item: item[0])
    return replacements


def _new_lines(
    ops: list[tuple[str, str]], lines: tuple[str, ...], found: int
) -> tuple[list[str], list[int | None]]:
    """The hunk's replacement, with context lines as the file has them.

    A context line may have matched only loosely (whitespace, typographic quotes); it is not
    the hunk's business to rewrite it, so the file's own text is kept.
    """
    new: list[str] = []
    origins: list[int | None] = []
    at = found
    for mark, text in ops:
        if mark == " ":
            new.append(lines[at])
            origins.append(at)
            at += 1
        elif mark == "-":
            at += 1
        else:
            new.append(text)
            origins.append(None)
    return new, origins


def _mismatch(
    lines: tuple[str, ...],
    pattern: list[str],
    start: int,
    name: str,
    number: int,
    total: int,
    chunk: Chunk,
    reveal: bool,
    anchor: str | None = None,
) -> HunkMismatchError:
    where = f"hunk {number} of {total} for {name} (patch line {chunk.line})"
    parts: list[str] = []
    if anchor is not None:
        parts.append(f"apply_patch failed: {where}: the line '@@ {anchor}' was not found")
        after = f" at or after line {start + 1}" if start else ""
        parts.append(f"No line of {name}{after} reads '{anchor}'.")
    else:
        parts.append(f"apply_patch failed: {where} does not match the file.")
        after = f", searching from line {start + 1}" if start else ""
        parts.append(f"Expected these lines (context and '-' lines{after}):")
        parts.extend(_indent(pattern))
    window = closest_window(lines, pattern, start) if reveal else None
    if not reveal:
        parts.append(f"{name} is outside the workspace, so its lines are not shown.")
    elif window is None:
        parts.append(f"{name} has no lines like them" + (" (it is empty)." if not lines else "."))
    else:
        size = min(len(pattern), len(lines) - window)
        shown = max(size, 1)
        end = window + shown
        parts.append(f"The closest lines {name} has (lines {window + 1}-{end}):")
        for index in range(window, min(end, window + _SHOWN_LINES)):
            parts.append(f"{index + 1:>6} | {lines[index]}")
        if shown > _SHOWN_LINES:
            parts.append(f"       ... ({shown - _SHOWN_LINES} more lines)")
    parts.append(
        "Nothing was changed. Copy context and '-' lines exactly as the file has them "
        "(read the file again if unsure) and send the whole patch again."
    )
    return HunkMismatchError("\n".join(parts), name, number)


def _indent(pattern: list[str]) -> list[str]:
    shown = [f"       | {line}" for line in pattern[:_SHOWN_LINES]]
    if len(pattern) > _SHOWN_LINES:
        shown.append(f"       ... ({len(pattern) - _SHOWN_LINES} more lines)")
    return shown
