"""Unified diffs for the editor and the model: what a patch changes, before it happens.

A patch already says where its changes are, so an update's diff is built from the located
hunks (a line diff of each small replaced region) instead of diffing whole files; that keeps
planning a 50-file patch cheap. Other changes go through a whole-text diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentls.tools.patch.grammar import Chunk

__all__ = [
    "Opcode",
    "count_changes",
    "hunks_diff",
    "opcodes_from_replacements",
    "render_diff",
    "unified_diff",
]

Opcode = tuple[str, int, int, int, int]
_NO_NEWLINE = "\\ No newline at end of file"


def _lines(text: str | None) -> list[str]:
    if not text:
        return []
    # Line endings are not what a reader wants to see in a diff: CRLF shows as LF.
    parts = text.replace("\r\n", "\n").split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts


def _ends_with_newline(text: str | None) -> bool:
    return not text or text.endswith("\n")


def unified_diff(old: str | None, new: str | None, old_name: str, new_name: str) -> str:
    """A git-style unified diff (``a/`` ``b/`` names, ``/dev/null`` for add and delete)."""
    a = _lines(old)
    b = _lines(new)
    a_ends, b_ends = _ends_with_newline(old), _ends_with_newline(new)
    opcodes: list[Opcode] = list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
    if a and b and a_ends != b_ends:
        opcodes = _split_last_line(opcodes, len(a), len(b))
    return render_diff(a, b, opcodes, a_ends, b_ends, old is None, new is None, old_name, new_name)


def _split_last_line(opcodes: list[Opcode], a_len: int, b_len: int) -> list[Opcode]:
    """Show the last line as changed when only its newline changed."""
    tag, i1, i2, j1, j2 = opcodes[-1]
    if tag != "equal":
        return opcodes
    head = opcodes[:-1]
    if i2 - 1 > i1:
        head.append(("equal", i1, i2 - 1, j1, j2 - 1))
    head.append(("replace", a_len - 1, a_len, b_len - 1, b_len))
    return head


def opcodes_from_replacements(
    a: Sequence[str], replacements: Sequence[tuple[int, int, Sequence[str]]]
) -> list[Opcode]:
    """Opcodes (as difflib's) for ``a`` after ``(start, count, new_lines)`` replacements."""
    opcodes: list[Opcode] = []
    ia = ib = 0
    for start, count, new_lines in replacements:
        if start > ia:
            opcodes.append(("equal", ia, start, ib, ib + start - ia))
            ib += start - ia
            ia = start
        old_lines = a[start : start + count]
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            opcodes.append((tag, ia + i1, ia + i2, ib + j1, ib + j2))
        ia += count
        ib += len(new_lines)
    if ia < len(a):
        opcodes.append(("equal", ia, len(a), ib, ib + len(a) - ia))
    return opcodes


def _groups(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
    """Change regions with ``context`` lines around them, close ones merged (as difflib)."""
    codes = [op for op in opcodes if op[1] != op[2] or op[3] != op[4]]
    if not any(op[0] != "equal" for op in codes):
        return []
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = (tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, i1 + context, j1, j1 + context))
            groups.append(group)
            group = []
            i1, j1 = i2 - context, j2 - context
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _range(start: int, length: int) -> str:
    begin = start + 1
    if length == 1:
        return str(begin)
    if length == 0:
        begin -= 1
    return f"{begin},{length}"


def render_diff(
    a: Sequence[str],
    b: Sequence[str],
    opcodes: list[Opcode],
    a_ends: bool,
    b_ends: bool,
    added_file: bool,
    deleted_file: bool,
    old_name: str,
    new_name: str,
    context: int = 3,
) -> str:
    groups = _groups(opcodes, context)
    if not groups:
        if old_name != new_name:
            return f"--- a/{old_name}\n+++ b/{new_name}\n"
        return ""
    out = [
        "--- /dev/null" if added_file else f"--- a/{old_name}",
        "+++ /dev/null" if deleted_file else f"+++ b/{new_name}",
    ]
    for group in groups:
        i1, j1 = group[0][1], group[0][3]
        i2, j2 = group[-1][2], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@")
        for tag, k1, k2, l1, l2 in group:
            if tag == "equal":
                for k in range(k1, k2):
                    out.append(" " + a[k])
                    if k == len(a) - 1 and not a_ends:
                        out.append(_NO_NEWLINE)
                continue
            for k in range(k1, k2):
                out.append("-" + a[k])
                if k == len(a) - 1 and not a_ends:
                    out.append(_NO_NEWLINE)
            for m in range(l1, l2):
                out.append("+" + b[m])
                if m == len(b) - 1 and not b_ends:
                    out.append(_NO_NEWLINE)
    return "\n".join(out) + "\n"


def hunks_diff(chunks: Sequence[Chunk], old_name: str, new_name: str) -> str:
    """The patch's own hunks as a diff, for a file not read yet.

    Where they land in the file is not known, so each hunk counts its lines from 1; the
    ``@@`` lines the patch gave to place them follow the range.
    """
    out = [f"--- a/{old_name}", f"+++ b/{new_name}"]
    for chunk in chunks:
        old = len(chunk.old_lines)
        new = len(chunk.new_lines)
        where = " " + " / ".join(chunk.anchors) if chunk.anchors else ""
        out.append(f"@@ -{_range(0, old)} +{_range(0, new)} @@{where}")
        out.extend(mark + text for mark, text in chunk.ops)
    return "\n".join(out) + "\n"


def count_changes(diff: str) -> tuple[int, int]:
    """(added, removed) lines of a diff made by :func:`render_diff`."""
    added = removed = 0
    # The first two lines are the file names; after them every line is a hunk header, a
    # context, added or removed line, or a no-newline mark.
    for line in diff.split("\n")[2:]:
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed
