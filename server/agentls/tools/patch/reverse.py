"""Writing patches: the update that turns one text into another, and a plan's undo.

Hunks are made from a line diff with three lines of context, then widened backwards until the
matcher, searching the way :func:`plan_patch` does, finds each at its intended place first; so a
patch written here applies to its source text exactly, even in files full of repeated lines.
"""

from __future__ import annotations

import difflib

from agentls.tools.patch.diff import count_changes, unified_diff
from agentls.tools.patch.grammar import ADD, BEGIN, DELETE, END, EOF_MARK, MOVE, UPDATE
from agentls.tools.patch.locate import seek_sequence
from agentls.tools.patch.plan import ChangeKind, FileChange, PatchPlan
from agentls.tools.patch.text import FileText

__all__ = [
    "add_section",
    "delete_section",
    "invert_plan",
    "render_patch",
    "reverse_patch",
    "update_section",
]

_INVERSE: dict[ChangeKind, ChangeKind] = {"add": "delete", "delete": "add", "update": "update"}


def update_hunks(old: str, new: str, context: int = 3) -> list[str]:
    """Patch lines (``@@`` hunks) that turn the text ``old`` into ``new``."""
    a = FileText.parse(old).lines
    b = FileText.parse(new).lines
    out: list[str] = []
    line_index = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        a0, b0 = group[0][1], group[0][3]
        a1, b1 = group[-1][2], group[-1][4]
        # Widen backwards until the first match of the hunk's old lines is where it belongs.
        while a0 > line_index:
            pattern = a[a0:a1]
            if pattern and seek_sequence(a, pattern, line_index, a1 == len(a)) == a0:
                break
            a0 -= 1
            b0 -= 1
        out.append("@@")
        out.extend(_hunk_lines(a, b, a0, a1, b0, b1))
        if a1 == len(a) and a0 < a1:
            out.append(EOF_MARK)
        line_index = a1
    return out


def _hunk_lines(
    a: tuple[str, ...], b: tuple[str, ...], a0: int, a1: int, b0: int, b1: int
) -> list[str]:
    lines: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
        None, a[a0:a1], b[b0:b1], autojunk=False
    ).get_opcodes():
        if tag == "equal":
            lines.extend(" " + line for line in a[a0 + i1 : a0 + i2])
            continue
        lines.extend("-" + line for line in a[a0 + i1 : a0 + i2])
        lines.extend("+" + line for line in b[b0 + j1 : b0 + j2])
    return lines


def update_section(path: str, old: str, new: str, move_to: str | None = None) -> list[str]:
    lines = [UPDATE + path]
    if move_to is not None:
        lines.append(MOVE + move_to)
    lines.extend(update_hunks(old, new))
    return lines


def add_section(path: str, text: str) -> list[str]:
    """An Add File section; the language writes LF endings and a final newline."""
    return [ADD + path] + ["+" + line for line in FileText.parse(text).lines]


def delete_section(path: str) -> list[str]:
    return [DELETE + path]


def render_patch(sections: list[list[str]]) -> str:
    lines = [BEGIN]
    for section in sections:
        lines.extend(section)
    lines.append(END)
    return "\n".join(lines) + "\n"


def reverse_patch(plan: PatchPlan) -> str:
    """A patch that undoes ``plan`` once it is committed.

    Updates and moves come back byte for byte (line endings and a missing final newline
    included); a deleted file comes back through ``*** Add File``, which can only write LF
    endings and a final newline.
    """
    sections: list[list[str]] = []
    for change in reversed(plan.changes):
        if change.kind == "add":
            sections.append(delete_section(change.display_path))
        elif change.kind == "delete":
            assert change.old_text is not None
            sections.append(add_section(change.display_path, change.old_text))
        else:
            assert change.old_text is not None
            assert change.new_text is not None
            current = change.display_move_path or change.display_path
            move_back = change.display_path if change.display_move_path else None
            sections.append(update_section(current, change.new_text, change.old_text, move_back))
    return render_patch(sections)


def invert_plan(plan: PatchPlan) -> PatchPlan:
    """A plan that puts back, byte for byte, what ``plan`` changed once it is committed.

    Unlike :func:`reverse_patch` this needs no patch language: the old texts are in memory.
    It is for undoing a commit when a later step of the same tool call fails (e.g. the
    editor refused the ``workspace/applyEdit`` for the unsaved files); committing it checks
    that every file still holds what ``plan`` wrote.
    """
    inverted: list[FileChange] = []
    for change in reversed(plan.changes):
        kind = _INVERSE[change.kind]
        moved = change.move_path is not None
        path = change.move_path if moved else change.path
        real = change.real_move_path if moved else change.real_path
        display = change.display_move_path if moved else change.display_path
        assert path is not None
        assert real is not None
        assert display is not None
        diff = unified_diff(change.new_text, change.old_text, display, change.display_path)
        added, removed = count_changes(diff) if diff else (0, 0)
        inverted.append(
            FileChange(
                path=path,
                kind=kind,
                move_path=change.path if moved else None,
                old_text=change.new_text,
                new_text=change.old_text,
                diff=diff,
                display_path=display,
                display_move_path=change.display_path if moved else None,
                real_path=real,
                real_move_path=change.real_path if moved else None,
                outside_workspace=change.outside_workspace,
                added=added,
                removed=removed,
            )
        )
    return PatchPlan(plan.workspace, inverted)
