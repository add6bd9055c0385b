"""Unified diffs for the editor and the model: what a patch changes, before it happens."""

from __future__ import annotations

import difflib

__all__ = ["count_changes", "unified_diff"]


def _lines(text: str | None) -> list[str]:
    if not text:
        return []
    # Line endings are not what a reader wants to see in a diff: CRLF shows as LF.
    parts = text.replace("\r\n", "\n").split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts


def unified_diff(old: str | None, new: str | None, old_name: str, new_name: str) -> str:
    """A git-style unified diff (``a/`` ``b/`` names, ``/dev/null`` for add and delete).

    A file that gains or loses its final newline gets the usual ``\\ No newline at end of
    file`` mark, so such a change is not an empty-looking diff.
    """
    a = _lines(old)
    b = _lines(new)
    a_ends = old is None or old == "" or old.endswith("\n")
    b_ends = new is None or new == "" or new.endswith("\n")
    if not a_ends and a:
        a[-1] += "\n\\ No newline at end of file"
    if not b_ends and b:
        b[-1] += "\n\\ No newline at end of file"
    from_name = "/dev/null" if old is None else f"a/{old_name}"
    to_name = "/dev/null" if new is None else f"b/{new_name}"
    body = list(difflib.unified_diff(a, b, from_name, to_name, lineterm="", n=3))
    if not body:
        if old_name != new_name:
            return f"--- a/{old_name}\n+++ b/{new_name}\n"
        return ""
    return "\n".join(body) + "\n"


def count_changes(diff: str) -> tuple[int, int]:
    """(added, removed) lines of a diff made by :func:`unified_diff`."""
    added = removed = 0
    # The first two lines are the file names; after them every line is a hunk header, a
    # context, added or removed line, or a no-newline mark.
    for line in diff.split("\n")[2:]:
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed
