"""From a parsed patch to every file's new text, without touching the disk.

Planning is where a patch can fail for the model's reasons (a hunk that does not match, a file
that is missing or already there), so it happens completely before anything is written: the
caller can show the diffs, ask for approval, or refuse, and :func:`commit_plan` only writes a
plan that is known to apply.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agentls.tools.patch.diff import (
    count_changes,
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
from agentls.tools.patch.locate import closest_window, seek_sequence
from agentls.tools.patch.text import FileText, Replacement

__all__ = [
    "ChangeKind",
    "FileChange",
    "HunkMismatchError",
    "PatchPlan",
    "ReadText",
    "plan_patch",
    "read_disk_text",
]

ChangeKind = Literal["add", "delete", "update"]
ReadText = Callable[[Path], "str | None"]

_SHOWN_LINES = 30


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

    def wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {"path": self.display_path, "kind": self.kind, "diff": self.diff}
        if self.display_move_path is not None:
            item["movePath"] = self.display_move_path
        return item


@dataclass(slots=True)
class PatchPlan:
    workspace: Path
    changes: list[FileChange]

    @property
    def outside_workspace(self) -> bool:
        """Whether any path leaves the workspace: such a patch is asked whatever the policy."""
        return any(change.outside_workspace for change in self.changes)

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
    """The file's text, or ``None`` when it does not exist; raises for what is no text file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise PatchError(f"{path} is a directory, not a file") from None
    except NotADirectoryError:
        return None
    except OSError as error:
        raise PatchError(f"cannot read {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"{path} is not UTF-8 text; apply_patch edits text files only") from None


@dataclass(slots=True)
class _Target:
    path: Path
    real: Path
    display: str
    outside: bool


class _Planner:
    def __init__(self, workspace: Path, read_text: ReadText) -> None:
        self.workspace = Path(os.path.abspath(workspace))
        self.real_workspace = Path(os.path.realpath(self.workspace))
        self.read_text = read_text
        self.changes: list[FileChange] = []
        # Real path -> index in changes: a second section for the same file continues it.
        self.touched: dict[Path, int] = {}
        self.real_dirs: dict[Path, Path] = {}

    def target(self, raw: str, line: int) -> _Target:
        given = Path(raw)
        path = Path(os.path.normpath(given if given.is_absolute() else self.workspace / given))
        real = self.real(path)
        if path == self.workspace or real == self.real_workspace:
            raise PatchError(f"'{raw}' names the workspace folder itself, not a file", line)
        outside = not _within(real, self.real_workspace)
        if _within(path, self.workspace):
            display = Path(os.path.relpath(path, self.workspace)).as_posix()
        else:
            display = str(real)
        return _Target(path, real, display, outside)

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
        )


def _within(path: Path, folder: Path) -> bool:
    # String prefix test: pathlib's is_relative_to costs more than the rest of planning.
    text, root = str(path), str(folder)
    return text == root or text.startswith(root.rstrip(os.sep) + os.sep)


def plan_patch(patch: Patch, workspace: Path, read_text: ReadText | None = None) -> PatchPlan:
    """Resolve, read and compute every file of ``patch``; raises :class:`PatchError`.

    ``read_text(path)`` returns a file's current text or ``None`` when it does not exist; the
    editor passes one that prefers its unsaved buffers. Paths outside the workspace are
    planned and marked ``outside_workspace``: refusing them is the caller's decision.
    """
    planner = _Planner(workspace, read_text or read_disk_text)
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
